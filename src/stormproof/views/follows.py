"""Follows: who follows whom."""

from __future__ import annotations

import sqlite3

from stormproof.events import FollowStarted, FollowStopped
from stormproof.log import Entry
from stormproof.views import View

__all__ = ["FollowsView", "counts", "followees", "is_following"]


class FollowsView(View):
    name = "follows"
    tables = ("follows",)
    schema = """
    CREATE TABLE IF NOT EXISTS follows (
        follower_id TEXT NOT NULL,
        followee_id TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
    );
    CREATE INDEX IF NOT EXISTS follows_by_followee ON follows (followee_id);
    """

    def on_follow_started(self, db: sqlite3.Connection, entry: Entry, p: FollowStarted) -> None:
        if p.followee_id != entry.event.actor:
            db.execute(
                "INSERT INTO follows VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (entry.event.actor, p.followee_id, entry.event.at),
            )

    def on_follow_stopped(self, db: sqlite3.Connection, entry: Entry, p: FollowStopped) -> None:
        db.execute(
            "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
            (entry.event.actor, p.followee_id),
        )


def followees(db: sqlite3.Connection, user_id: str) -> list[str]:
    rows = db.execute(
        "SELECT followee_id FROM follows WHERE follower_id = ? ORDER BY followee_id", (user_id,)
    )
    return [row[0] for row in rows]


def is_following(db: sqlite3.Connection, follower_id: str, followee_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?",
        (follower_id, followee_id),
    ).fetchone()
    return row is not None


def counts(db: sqlite3.Connection, user_id: str) -> tuple[int, int]:
    """(followers, following) of a user."""
    followers = db.execute("SELECT COUNT(*) FROM follows WHERE followee_id = ?", (user_id,))
    following = db.execute("SELECT COUNT(*) FROM follows WHERE follower_id = ?", (user_id,))
    return int(followers.fetchone()[0]), int(following.fetchone()[0])
