"""Blocks: who blocked whom. The latest block or unblock of a pair wins, by
``(at, event id)``, like follows, so arrival order does not matter.

A block works both ways (no messages, no follows, no videos of the other in
either feed) and ends any follow between the two. That is not done by
changing follow rows when a block arrives — which would depend on what
arrived first — but by each row keeping the latest time its blocker started
blocking (``started_at``, ``started_eid``: a maximum, so order-free), and the
follows view reading a follow as live only while no block stands between the
pair and none started after the follow (:data:`FOLLOW_LIVE`). A follow made
before a block therefore stays ended after an unblock; following again makes
a new one.
"""

from __future__ import annotations

import sqlite3

from stormproof.events import BlockStarted, BlockStopped
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["FOLLOW_LIVE", "BlocksView", "between", "blocked_by", "blocked_ids"]

_UPSERT = """
INSERT INTO blocks VALUES (?, ?, ?, ?, ?, -1, '')
ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET
    active = excluded.active, at = excluded.at, eid = excluded.eid
WHERE (excluded.at, excluded.eid) > (blocks.at, blocks.eid)
"""
_STARTED = """
UPDATE blocks SET started_at = ?, started_eid = ?
WHERE blocker_id = ? AND blocked_id = ? AND (?, ?) > (started_at, started_eid)
"""

#: SQL: the follow row ``f`` is live — active, no block between the pair
#: stands, and none started after the follow (see the module's docstring)
FOLLOW_LIVE = """(f.active = 1 AND NOT EXISTS (
    SELECT 1 FROM blocks b
    WHERE ((b.blocker_id = f.follower_id AND b.blocked_id = f.followee_id)
           OR (b.blocker_id = f.followee_id AND b.blocked_id = f.follower_id))
      AND (b.active = 1 OR (b.started_at, b.started_eid) > (f.at, f.eid))
))"""


class BlocksView(View):
    name = "blocks"
    tables = ("blocks",)
    schema = """
    CREATE TABLE IF NOT EXISTS blocks (
        blocker_id TEXT NOT NULL,
        blocked_id TEXT NOT NULL,
        active INTEGER NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        started_eid TEXT NOT NULL,
        PRIMARY KEY (blocker_id, blocked_id)
    );
    CREATE INDEX IF NOT EXISTS blocks_by_blocked ON blocks (blocked_id, active);
    """

    def _set(self, db: sqlite3.Connection, entry: Entry, blocked: str, active: int) -> None:
        blocker, at, eid = entry.event.actor, entry.event.at, entry.event.id
        if blocked == blocker:
            return
        db.execute(_UPSERT, (blocker, blocked, active, at, eid))
        if active:
            db.execute(_STARTED, (at, eid, blocker, blocked, at, eid))

    def on_block_started(self, db: sqlite3.Connection, entry: Entry, p: BlockStarted) -> None:
        self._set(db, entry, p.blocked_id, 1)

    def on_block_stopped(self, db: sqlite3.Connection, entry: Entry, p: BlockStopped) -> None:
        self._set(db, entry, p.blocked_id, 0)


def blocked_ids(db: sqlite3.Connection, user_id: str) -> list[str]:
    """Whom a user blocks now."""
    rows = db.execute(
        "SELECT blocked_id FROM blocks WHERE blocker_id = ? AND active = 1 ORDER BY blocked_id",
        (user_id,),
    )
    return [row[0] for row in rows]


def blocked_by(db: sqlite3.Connection, user_id: str) -> list[str]:
    """Who blocks a user now."""
    rows = db.execute(
        "SELECT blocker_id FROM blocks WHERE blocked_id = ? AND active = 1 ORDER BY blocker_id",
        (user_id,),
    )
    return [row[0] for row in rows]


def between(db: sqlite3.Connection, a: str, b: str) -> bool:
    """Whether a block stands between two users, in either direction."""
    row = db.execute(
        "SELECT 1 FROM blocks WHERE active = 1 AND "
        "((blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?))",
        (a, b, b, a),
    ).fetchone()
    return row is not None
