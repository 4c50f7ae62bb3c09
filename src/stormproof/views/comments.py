"""Comments on videos. A deletion by the author is recorded whether or not
the comment has arrived yet, so both arrival orders end in the same state.
A deleted account hides all its comments the same way (ADR 011). A system
account's comments (a prober's) are not kept: they would count, and show."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import AccountDeleted, CommentDeleted, CommentPosted, is_system
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["Comment", "CommentsView", "comment", "comment_counts", "comments_of"]


class CommentsView(View):
    name = "comments"
    tables = ("comments", "comment_deletions", "deleted_authors")
    schema = """
    CREATE TABLE IF NOT EXISTS comments (
        comment_id TEXT PRIMARY KEY,
        video_id TEXT NOT NULL,
        author_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS comments_by_video ON comments (video_id, created_at);
    CREATE TABLE IF NOT EXISTS comment_deletions (
        comment_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (comment_id, actor)
    );
    CREATE TABLE IF NOT EXISTS deleted_authors (author_id TEXT PRIMARY KEY);
    """

    def on_comment_posted(self, db: sqlite3.Connection, entry: Entry, p: CommentPosted) -> None:
        author, at = entry.event.actor, entry.event.at
        if is_system(author):
            return
        db.execute(
            "INSERT INTO comments VALUES (?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM comment_deletions "
            "WHERE comment_id = ? AND actor = ?) OR EXISTS (SELECT 1 FROM deleted_authors "
            "WHERE author_id = ?)) ON CONFLICT DO NOTHING",
            (p.comment_id, p.video_id, author, p.text, at, p.comment_id, author, author),
        )

    def on_comment_deleted(self, db: sqlite3.Connection, entry: Entry, p: CommentDeleted) -> None:
        actor = entry.event.actor
        db.execute(
            "INSERT INTO comment_deletions VALUES (?, ?) ON CONFLICT DO NOTHING",
            (p.comment_id, actor),
        )
        db.execute(
            "UPDATE comments SET deleted = 1 WHERE comment_id = ? AND author_id = ?",
            (p.comment_id, actor),
        )

    def on_account_deleted(self, db: sqlite3.Connection, entry: Entry, _: AccountDeleted) -> None:
        author = entry.event.actor
        db.execute("INSERT INTO deleted_authors VALUES (?) ON CONFLICT DO NOTHING", (author,))
        db.execute("UPDATE comments SET deleted = 1 WHERE author_id = ?", (author,))


@dataclass(frozen=True)
class Comment:
    comment_id: str
    video_id: str
    author_id: str
    text: str
    created_at: int


_SELECT = "SELECT comment_id, video_id, author_id, text, created_at FROM comments"


def comment(db: sqlite3.Connection, comment_id: str) -> Comment | None:
    row = db.execute(f"{_SELECT} WHERE comment_id = ? AND deleted = 0", (comment_id,)).fetchone()
    return Comment(*row) if row else None


def comments_of(
    db: sqlite3.Connection,
    video_id: str,
    *,
    after: tuple[int, str] | None,
    limit: int,
    reader: str = "",
) -> list[Comment]:
    """Oldest first, live comments of a video after ``after`` ((at, comment
    id)); without those of anyone ``reader`` blocks."""
    at, comment_id = after or (-1, "")
    rows = db.execute(
        f"{_SELECT} WHERE video_id = ? AND deleted = 0 AND (created_at, comment_id) > (?, ?) "
        "AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ? "
        "AND b.blocked_id = comments.author_id AND b.active = 1) "
        "ORDER BY created_at, comment_id LIMIT ?",
        (video_id, at, comment_id, reader, limit),
    ).fetchall()
    return [Comment(*row) for row in rows]


def comment_counts(db: sqlite3.Connection, video_ids: list[str]) -> dict[str, int]:
    """How many live comments each of ``video_ids`` has, in one query."""
    marks = ",".join("?" * len(video_ids))
    rows = db.execute(
        f"SELECT video_id, COUNT(*) FROM comments WHERE video_id IN ({marks}) AND deleted = 0 "
        "GROUP BY video_id",
        video_ids,
    ).fetchall()
    found = dict(rows)
    return {v: int(found.get(v, 0)) for v in video_ids}
