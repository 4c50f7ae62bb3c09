"""What the API answers with, and how each answer is read from the views."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from stormproof.views import accounts, comments, engagement, messages, renditions, videos

__all__ = [
    "ERRORS",
    "AccountOut",
    "Ack",
    "CommentOut",
    "ConversationOut",
    "ErrorOut",
    "MessageOut",
    "RenditionOut",
    "UserRef",
    "VideoDetailOut",
    "VideoOut",
    "Written",
    "comment_out",
    "error_response",
    "message_out",
    "user_ref",
    "video_out",
    "videos_out",
]


class ErrorOut(BaseModel):
    """Every error answer: a machine-readable ``code`` and a ``message`` for
    people; some carry details (``errors`` of a malformed request,
    ``retry_after`` seconds of a 429, ``position`` of a stale read)."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class _AsciiJSON(JSONResponse):
    """JSON with every non-ASCII character escaped: an error message may
    quote input, and input may hold text that is not valid UTF-8 (a lone
    surrogate), which the default rendering would turn into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def error_response(status: int, code: str, message: str, **detail: Any) -> JSONResponse:
    """Every error answer, the edge's and the handlers' alike (:class:`ErrorOut`)."""
    response = _AsciiJSON({"code": code, "message": message, **detail}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stormproof"'
    return response


#: the errors any operation may answer, documented on every one
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "malformed input (`malformed_json`, `invalid_cursor`, …)",
        401: "no valid token (`missing_token`, `invalid_token`, `session_ended`, …)",
        403: "not yours (`not_owner`, `blocked`, …)",
        404: "no such thing (`video_not_found`, `user_not_found`, …)",
        409: "taken (`username_taken`)",
        413: "too large (`payload_too_large`, `file_too_large`)",
        422: "well-formed but invalid (`invalid_request` with `errors`, `invalid_username`, "
        "`clock_skew`, `invalid_video`, …)",
        429: "slow down (`rate_limited`, `too_many_streams`), with `Retry-After`",
        503: "ask another region (`not_ready`, `stale_view`, `log_unavailable`, `media_busy`, "
        "`snapshot_failed`)",
    }.items()
}


class Ack(BaseModel):
    """The answer to a write: the log sequence it produced."""

    seq: int


class Written(BaseModel):
    """Added to the answer of a write: the ``seq`` to pass as ``min_seq``."""

    seq: int


class AccountOut(BaseModel):
    id: str
    username: str
    seq: int


class UserRef(BaseModel):
    id: str
    username: str


class CountsOut(BaseModel):
    views: int
    likes: int
    comments: int
    shares: int
    completions: int


class VideoOut(BaseModel):
    id: str
    owner: UserRef
    caption: str
    duration_ms: int
    width: int
    height: int
    codec: str
    content_type: str
    size: int
    created_at: int
    counts: CountsOut
    file_url: str
    thumbnail_url: str
    #: the master playlist once a rung of the HLS ladder is ready (ADR 028);
    #: until then players play ``file_url``
    hls_url: str | None = None
    #: the poster frame of the largest ready rung, with ``hls_url``
    poster_url: str | None = None


class RenditionOut(BaseModel):
    """One rung of a video's HLS ladder (ADR 028)."""

    rung: int
    width: int
    height: int
    #: "pending", "ready" or "failed"
    state: str
    #: why a failed rung failed (an error code), else ""
    reason: str = ""


class VideoDetailOut(VideoOut):
    """A video with its HLS ladder, rung by rung: ``hls_url`` once a rung is
    ready (the original at ``file_url`` plays from the start)."""

    renditions: list[RenditionOut] = []


class CommentOut(BaseModel):
    id: str
    video_id: str
    author: UserRef
    text: str
    created_at: int


class MessageOut(BaseModel):
    id: str
    sender: str
    recipient: str
    text: str
    at: int


class ConversationOut(BaseModel):
    id: str
    with_user: str
    messages: int
    last: MessageOut


def user_ref(db: sqlite3.Connection, user_id: str) -> UserRef:
    """A user as others see them; a deleted account is named ``[deleted]``."""
    return UserRef(id=user_id, username=accounts.usernames(db, [user_id]).get(user_id, ""))


def video_out(db: sqlite3.Connection, v: videos.Video) -> VideoOut:
    return videos_out(db, [v])[0]


def videos_out(db: sqlite3.Connection, found: list[videos.Video]) -> list[VideoOut]:
    """The API's view of several videos, in their order, in five queries."""
    if not found:
        return []
    ids = [v.video_id for v in found]
    counts = engagement.counts_of(db, ids)
    comment_counts = comments.comment_counts(db, ids)
    names = accounts.usernames(db, list({v.owner_id for v in found}))
    posters = renditions.posters_of(db, ids)
    return [
        VideoOut(
            id=v.video_id,
            owner=UserRef(id=v.owner_id, username=names.get(v.owner_id, "")),
            caption=v.caption,
            duration_ms=v.duration_ms,
            width=v.width,
            height=v.height,
            codec=v.codec,
            content_type=v.content_type,
            size=v.size,
            created_at=v.created_at,
            counts=CountsOut(
                views=counts[v.video_id].views,
                likes=counts[v.video_id].likes,
                comments=comment_counts[v.video_id],
                shares=counts[v.video_id].shares,
                completions=counts[v.video_id].completions,
            ),
            file_url=f"/v1/videos/{v.video_id}/file",
            thumbnail_url=f"/v1/videos/{v.video_id}/thumbnail",
            hls_url=f"/v1/videos/{v.video_id}/hls.m3u8" if v.video_id in posters else None,
            poster_url=f"/v1/hls/{posters[v.video_id]}.jpg" if v.video_id in posters else None,
        )
        for v in found
    ]


def comment_out(db: sqlite3.Connection, c: comments.Comment) -> CommentOut:
    return CommentOut(
        id=c.comment_id,
        video_id=c.video_id,
        author=user_ref(db, c.author_id),
        text=c.text,
        created_at=c.created_at,
    )


def message_out(db: sqlite3.Connection, m: messages.Message) -> MessageOut:
    return MessageOut(
        id=m.message_id,
        sender=user_ref(db, m.from_id).username,
        recipient=user_ref(db, m.to_id).username,
        text=m.text,
        at=m.at,
    )
