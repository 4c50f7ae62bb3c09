"""Comments on videos."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import CommentDeleted, CommentPosted
from stormproof.log import Entry
from stormproof.views import View

__all__ = ["Comment", "CommentsView", "comment", "comment_count", "comments_of"]


class CommentsView(View):
    name = "comments"
    tables = ("comments",)
    schema = """
    CREATE TABLE IF NOT EXISTS comments (
        comment_id TEXT PRIMARY KEY,
        video_id TEXT NOT NULL,
        author_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS comments_by_video ON comments (video_id, seq);
    """

    def on_comment_posted(self, db: sqlite3.Connection, entry: Entry, p: CommentPosted) -> None:
        db.execute(
            "INSERT INTO comments (comment_id, video_id, author_id, text, created_at, seq) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.comment_id, p.video_id, entry.event.actor, p.text, entry.event.at, entry.seq),
        )

    def on_comment_deleted(self, db: sqlite3.Connection, entry: Entry, p: CommentDeleted) -> None:
        db.execute(
            "UPDATE comments SET deleted = 1 WHERE comment_id = ? AND author_id = ?",
            (p.comment_id, entry.event.actor),
        )


@dataclass(frozen=True)
class Comment:
    comment_id: str
    video_id: str
    author_id: str
    text: str
    created_at: int
    seq: int


_SELECT = "SELECT comment_id, video_id, author_id, text, created_at, seq FROM comments"


def comment(db: sqlite3.Connection, comment_id: str) -> Comment | None:
    row = db.execute(f"{_SELECT} WHERE comment_id = ? AND deleted = 0", (comment_id,)).fetchone()
    return Comment(*row) if row else None


def comments_of(
    db: sqlite3.Connection, video_id: str, *, after_seq: int, limit: int
) -> list[Comment]:
    """Oldest first, live comments of a video after ``after_seq``."""
    rows = db.execute(
        f"{_SELECT} WHERE video_id = ? AND deleted = 0 AND seq > ? ORDER BY seq LIMIT ?",
        (video_id, after_seq, limit),
    ).fetchall()
    return [Comment(*row) for row in rows]


def comment_count(db: sqlite3.Connection, video_id: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM comments WHERE video_id = ? AND deleted = 0", (video_id,)
    ).fetchone()
    return int(row[0])
