"""Comments on a video."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from stormproof.actions import social
from stormproof.api.deps import Caller, Fresh, IdemKey, RegionDep, acknowledge
from stormproof.api.schemas import Ack, CommentOut, UserRef, comment_out
from stormproof.errors import NotFound
from stormproof.events import CommentPosted
from stormproof.views import comments, videos

router = APIRouter(prefix="/v1", tags=["comments"])


class CommentIn(BaseModel):
    text: str


@router.post("/videos/{video_id}/comments", status_code=201)
async def post(
    video_id: str,
    body: CommentIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    key: IdemKey = None,
) -> CommentOut:
    written = await social.post_comment(
        region, caller.user_id, video_id, body.text, idempotency_key=key
    )
    acknowledge(response, region, written)
    posted = written.event.data
    assert isinstance(posted, CommentPosted)
    return CommentOut(
        id=posted.comment_id,
        seq=written.seq,
        video_id=posted.video_id,
        author=UserRef(id=caller.user_id, username=caller.username),
        text=posted.text,
        created_at=written.event.at,
    )


@router.get("/videos/{video_id}/comments")
async def list_comments(
    video_id: str,
    region: RegionDep,
    _: Fresh,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[CommentOut]:
    """Oldest first; page with ``after_seq`` = the last comment's ``seq``."""
    if await region.store.query(lambda db: videos.video(db, video_id)) is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    return await region.store.query(
        lambda db: [
            comment_out(db, c)
            for c in comments.comments_of(db, video_id, after_seq=after_seq, limit=limit)
        ]
    )


@router.delete("/comments/{comment_id}")
async def delete(
    comment_id: str, region: RegionDep, caller: Caller, response: Response, key: IdemKey = None
) -> Ack:
    written = await social.delete_comment(region, caller.user_id, comment_id, idempotency_key=key)
    return Ack(seq=acknowledge(response, region, written))
