"""Comments on a video."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel

from stormproof.actions import social
from stormproof.api.deps import Caller, Fresh, IdemKey, MaybeCaller, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack, CommentOut, UserRef, Written, comment_out
from stormproof.errors import BadRequest, NotFound
from stormproof.views import comments, videos

router = api_router(prefix="/v1", tags=["comments"])


class CommentIn(BaseModel):
    text: str


class PostedOut(CommentOut, Written):
    """The new comment, and the ``seq`` of its write."""


@router.post("/videos/{video_id}/comments", status_code=201)
async def post(
    video_id: str,
    body: CommentIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> PostedOut:
    written = await social.post_comment(
        region, caller.user_id, video_id, body.text, idempotency_key=key, when=when
    )
    seq = acknowledge(response, region, written)
    posted = written.payload
    return PostedOut(
        id=posted.comment_id,
        seq=seq,
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
    caller: MaybeCaller,
    after: Annotated[str | None, Query(description="the id of the last comment you have")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[CommentOut]:
    """Oldest first; page with ``after`` = the last comment's id. With your
    token, comments of people you block are left out."""
    reader = caller.user_id if caller else ""

    def read(db: sqlite3.Connection) -> list[CommentOut] | None:
        if videos.video(db, video_id) is None:
            return None
        start = None
        if after:
            last = comments.comment(db, after)
            if last is None:
                raise BadRequest(f"no comment {after}", code="invalid_cursor")
            start = (last.created_at, last.comment_id)
        return [
            comment_out(db, c)
            for c in comments.comments_of(db, video_id, after=start, limit=limit, reader=reader)
        ]

    found = await region.store.query(read)
    if found is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    return found


@router.delete("/comments/{comment_id}")
async def delete(
    comment_id: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    written = await social.delete_comment(
        region, caller.user_id, comment_id, idempotency_key=key, when=when
    )
    return Ack(seq=acknowledge(response, region, written))
