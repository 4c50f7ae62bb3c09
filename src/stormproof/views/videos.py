"""Videos: metadata of every upload, and which are deleted.

A deletion is recorded whether or not its upload has arrived yet (partitions
interleave differently in each region), and a video is deleted once a
deletion by its owner exists — so both arrival orders end in the same state.
A deleted account hides all its videos the same way, whenever they arrive.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import AccountDeleted, VideoDeleted, VideoUploaded
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["Video", "VideosView", "count_by_owner", "live_videos", "video", "videos_by_owners"]

_COLUMNS = (
    "video_id, owner_id, caption, blob, size, content_type, thumbnail_blob, "
    "duration_ms, width, height, codec, created_at"
)


class VideosView(View):
    name = "videos"
    tables = ("videos", "video_deletions", "deleted_owners")
    schema = """
    CREATE TABLE IF NOT EXISTS videos (
        video_id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        caption TEXT NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        thumbnail_blob TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        codec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS videos_by_owner ON videos (owner_id, created_at);
    CREATE TABLE IF NOT EXISTS video_deletions (
        video_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (video_id, actor)
    );
    CREATE TABLE IF NOT EXISTS deleted_owners (owner_id TEXT PRIMARY KEY);
    """

    def on_video_uploaded(self, db: sqlite3.Connection, entry: Entry, p: VideoUploaded) -> None:
        db.execute(
            f"INSERT INTO videos ({_COLUMNS}, deleted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?, "
            "EXISTS (SELECT 1 FROM video_deletions WHERE video_id = ? AND actor = ?) "
            "OR EXISTS (SELECT 1 FROM deleted_owners WHERE owner_id = ?)) "
            "ON CONFLICT DO NOTHING",
            (
                p.video_id, p.owner_id, p.caption, p.blob, p.size, p.content_type,
                p.thumbnail_blob, p.duration_ms, p.width, p.height, p.codec,
                entry.event.at, p.video_id, p.owner_id, p.owner_id,
            ),
        )  # fmt: skip

    def on_video_deleted(self, db: sqlite3.Connection, entry: Entry, p: VideoDeleted) -> None:
        actor = entry.event.actor
        db.execute(
            "INSERT INTO video_deletions VALUES (?, ?) ON CONFLICT DO NOTHING", (p.video_id, actor)
        )
        db.execute(
            "UPDATE videos SET deleted = 1 WHERE video_id = ? AND owner_id = ?", (p.video_id, actor)
        )

    def on_account_deleted(self, db: sqlite3.Connection, entry: Entry, _: AccountDeleted) -> None:
        owner = entry.event.actor
        db.execute("INSERT INTO deleted_owners VALUES (?) ON CONFLICT DO NOTHING", (owner,))
        db.execute("UPDATE videos SET deleted = 1 WHERE owner_id = ?", (owner,))


@dataclass(frozen=True)
class Video:
    video_id: str
    owner_id: str
    caption: str
    blob: str
    size: int
    content_type: str
    thumbnail_blob: str
    duration_ms: int
    width: int
    height: int
    codec: str
    created_at: int


def video(db: sqlite3.Connection, video_id: str) -> Video | None:
    """A video that exists and is not deleted."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM videos WHERE video_id = ? AND deleted = 0", (video_id,)
    ).fetchone()
    return Video(*row) if row else None


def live_videos(db: sqlite3.Connection, video_ids: list[str]) -> dict[str, Video]:
    """Those of ``video_ids`` that exist and are not deleted, by id (one query)."""
    marks = ",".join("?" * len(video_ids))
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM videos WHERE video_id IN ({marks}) AND deleted = 0", video_ids
    ).fetchall()
    return {row[0]: Video(*row) for row in rows}


def videos_by_owners(
    db: sqlite3.Connection,
    owner_ids: list[str],
    *,
    before: tuple[int, str] | None,
    limit: int,
) -> list[Video]:
    """Newest first: live videos of these owners older than ``before`` ((at, id))."""
    if not owner_ids:
        return []
    at, video_id = before or (2**62, "")
    marks = ",".join("?" * len(owner_ids))
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM videos WHERE owner_id IN ({marks}) AND deleted = 0 "
        "AND (created_at, video_id) < (?, ?) ORDER BY created_at DESC, video_id DESC LIMIT ?",
        (*owner_ids, at, video_id, limit),
    ).fetchall()
    return [Video(*row) for row in rows]


def count_by_owner(db: sqlite3.Connection, owner_id: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM videos WHERE owner_id = ? AND deleted = 0", (owner_id,)
    ).fetchone()
    return int(row[0])
