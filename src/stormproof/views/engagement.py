"""Engagement: per-video counters and who likes what.

Counters only add, so they do not depend on arrival order; a like and an
unlike of the same video by the same user resolve to the latest by
``(at, event id, position in the batch)``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import InteractionsRecorded
from stormproof.log import Entry
from stormproof.views import View

__all__ = ["Counts", "EngagementView", "counts_of", "liked"]

_LIKE = """
INSERT INTO likes VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (video_id, user_id) DO UPDATE SET
    active = excluded.active, at = excluded.at, eid = excluded.eid, idx = excluded.idx
WHERE (excluded.at, excluded.eid, excluded.idx) > (likes.at, likes.eid, likes.idx)
"""
_COUNTERS = {"watch": "views", "share": "shares", "skip": "skips", "not_interested": "hides"}


class EngagementView(View):
    name = "engagement"
    tables = ("engagement", "likes")
    schema = """
    CREATE TABLE IF NOT EXISTS engagement (
        video_id TEXT PRIMARY KEY,
        views INTEGER NOT NULL DEFAULT 0,
        watched_ms INTEGER NOT NULL DEFAULT 0,
        completions INTEGER NOT NULL DEFAULT 0,
        shares INTEGER NOT NULL DEFAULT 0,
        skips INTEGER NOT NULL DEFAULT 0,
        hides INTEGER NOT NULL DEFAULT 0,
        last_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS likes (
        user_id TEXT NOT NULL,
        video_id TEXT NOT NULL,
        active INTEGER NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        idx INTEGER NOT NULL,
        PRIMARY KEY (video_id, user_id)
    );
    """

    def on_interactions_recorded(
        self, db: sqlite3.Connection, entry: Entry, p: InteractionsRecorded
    ) -> None:
        user, at, eid = entry.event.actor, entry.event.at, entry.event.id
        for index, item in enumerate(p.items):
            if item.type in ("like", "unlike"):
                active = int(item.type == "like")
                db.execute(_LIKE, (user, item.video_id, active, at, eid, index))
                continue
            column = _COUNTERS[item.type]
            watched = item.watched_ms if item.type == "watch" else 0
            completed = int(item.type == "watch" and item.completed)
            db.execute(
                f"INSERT INTO engagement (video_id, {column}, watched_ms, completions, last_at) "
                f"VALUES (?, 1, ?, ?, ?) ON CONFLICT (video_id) DO UPDATE SET "
                f"{column} = {column} + 1, watched_ms = watched_ms + excluded.watched_ms, "
                "completions = completions + excluded.completions, "
                "last_at = MAX(last_at, excluded.last_at)",
                (item.video_id, watched, completed, at),
            )


@dataclass(frozen=True)
class Counts:
    views: int = 0
    likes: int = 0
    shares: int = 0
    completions: int = 0
    watched_ms: int = 0
    skips: int = 0


def counts_of(db: sqlite3.Connection, video_ids: list[str]) -> dict[str, Counts]:
    """Views, likes, shares, completions, watch time and skips of each of
    ``video_ids`` (zeros for one nobody touched yet), in two queries."""
    marks = ",".join("?" * len(video_ids))
    rows = db.execute(
        "SELECT video_id, views, shares, completions, watched_ms, skips FROM engagement "
        f"WHERE video_id IN ({marks})",
        video_ids,
    ).fetchall()
    likes = dict(
        db.execute(
            f"SELECT video_id, COUNT(*) FROM likes WHERE video_id IN ({marks}) AND active = 1 "
            "GROUP BY video_id",
            video_ids,
        ).fetchall()
    )
    found = {
        v: Counts(views, likes.get(v, 0), shares, completions, watched_ms, skips)
        for v, views, shares, completions, watched_ms, skips in rows
    }
    return {v: found.get(v) or Counts(likes=likes.get(v, 0)) for v in video_ids}


def liked(db: sqlite3.Connection, user_id: str, video_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM likes WHERE video_id = ? AND user_id = ? AND active = 1",
        (video_id, user_id),
    ).fetchone()
    return row is not None
