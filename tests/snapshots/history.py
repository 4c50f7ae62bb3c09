"""A small community's history, written to an embedded log: the same
writes, with the same ids, whichever log they go to."""

from __future__ import annotations

import hashlib
from pathlib import Path

from stormproof.events import (
    AccountCreated,
    CommentPosted,
    FollowStarted,
    Interaction,
    InteractionsRecorded,
    Payload,
    VideoUploaded,
    new_event,
)
from stormproof.log.sqlite import SqliteLog

__all__ = ["append_history"]

USERS, VIDEOS = 40, 80


def _event(n: int) -> tuple[str, Payload, str]:
    """The n-th write of a small community: (key, payload, actor)."""
    if n < USERS:
        return f"k{n}", AccountCreated(user_id=f"u{n}", username=f"user{n}", password_hash="x"), ""
    if n < USERS + VIDEOS:
        v = n - USERS
        blob = hashlib.sha256(f"v{v}".encode()).hexdigest()
        upload = VideoUploaded(
            video_id=f"v{v}", owner_id=f"u{v % USERS}", caption=f"clip {v}", blob=blob,
            size=1000, content_type="video/mp4", thumbnail_blob=blob, duration_ms=2000,
            width=64, height=64, codec="h264",
        )  # fmt: skip
        return f"k{n}", upload, f"u{v % USERS}"
    actor, video = f"u{n % USERS}", f"v{(n * 7) % VIDEOS}"
    payload: Payload
    if n % 10 == 0:
        payload = FollowStarted(followee_id=f"u{(n * 3) % USERS}")
    elif n % 10 == 1:
        payload = CommentPosted(comment_id=f"c{n}", video_id=video, text=f"comment {n}")
    else:
        items = [
            Interaction(type="watch", video_id=video, watched_ms=1500, completed=n % 3 == 0),
            Interaction(type="like", video_id=f"v{(n * 11) % VIDEOS}"),
        ]
        payload = InteractionsRecorded(items=tuple(items))
    return f"k{n}", payload, actor


async def append_history(path: Path, numbers: range) -> None:
    """Append those writes of the community to the embedded log at ``path``."""
    log = SqliteLog(path)
    try:
        for n in numbers:
            key, payload, actor = _event(n)
            at = 1_700_000_000_000 + n * 1000
            await log.append(key, new_event(payload, actor=actor, at=at, id=f"e{n}"))
    finally:
        await log.close()
