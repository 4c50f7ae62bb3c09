"""Follows: who follows whom. The latest follow or unfollow wins, by
``(at, event id)``, so arrival order does not matter. Every read leaves out
follows a block ended (:data:`stormproof.views.blocks.FOLLOW_LIVE`).

A follow from or of a system account (a prober's) is not kept: it would
count in someone's followers or following (and feed the For You engine,
which leaves it out the same way). The ids say who is one."""

from __future__ import annotations

import sqlite3

from stormproof.events import FollowStarted, FollowStopped, is_system
from stormproof.log import Entry
from stormproof.views.base import View
from stormproof.views.blocks import FOLLOW_LIVE

__all__ = ["FollowsView", "counts", "followees"]

_UPSERT = """
INSERT INTO follows VALUES (?, ?, ?, ?, ?)
ON CONFLICT (follower_id, followee_id) DO UPDATE SET
    active = excluded.active, at = excluded.at, eid = excluded.eid
WHERE (excluded.at, excluded.eid) > (follows.at, follows.eid)
"""


class FollowsView(View):
    name = "follows"
    tables = ("follows",)
    schema = """
    CREATE TABLE IF NOT EXISTS follows (
        follower_id TEXT NOT NULL,
        followee_id TEXT NOT NULL,
        active INTEGER NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
    );
    CREATE INDEX IF NOT EXISTS follows_by_followee ON follows (followee_id, active);
    """

    def _set(self, db: sqlite3.Connection, entry: Entry, followee: str, active: int) -> None:
        actor = entry.event.actor
        if followee != actor and not is_system(actor) and not is_system(followee):
            db.execute(
                _UPSERT, (entry.event.actor, followee, active, entry.event.at, entry.event.id)
            )

    def on_follow_started(self, db: sqlite3.Connection, entry: Entry, p: FollowStarted) -> None:
        self._set(db, entry, p.followee_id, 1)

    def on_follow_stopped(self, db: sqlite3.Connection, entry: Entry, p: FollowStopped) -> None:
        self._set(db, entry, p.followee_id, 0)


def followees(db: sqlite3.Connection, user_id: str) -> list[str]:
    rows = db.execute(
        f"SELECT followee_id FROM follows f WHERE follower_id = ? AND {FOLLOW_LIVE} "
        "ORDER BY followee_id",
        (user_id,),
    )
    return [row[0] for row in rows]


def is_following(db: sqlite3.Connection, follower_id: str, followee_id: str) -> bool:
    """Whether ``follower_id`` follows ``followee_id`` now."""
    row = db.execute(
        f"SELECT 1 FROM follows f WHERE follower_id = ? AND followee_id = ? AND {FOLLOW_LIVE}",
        (follower_id, followee_id),
    )
    return row.fetchone() is not None


def counts(db: sqlite3.Connection, user_id: str) -> tuple[int, int]:
    """(followers, following) of a user."""
    followers = db.execute(
        f"SELECT COUNT(*) FROM follows f WHERE followee_id = ? AND {FOLLOW_LIVE}", (user_id,)
    )
    following = db.execute(
        f"SELECT COUNT(*) FROM follows f WHERE follower_id = ? AND {FOLLOW_LIVE}", (user_id,)
    )
    return int(followers.fetchone()[0]), int(following.fetchone()[0])
