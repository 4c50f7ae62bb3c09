"""Per-user watch history: what each user watched, skipped or hid — read
by ``GET /v1/account/history`` (the person's own watch history).

Every column only adds or takes a minimum or maximum, so arrival order does
not matter. A system account (a prober's) keeps no history: what it does
counts nowhere. (The For You engine keeps its own record of what each person has
seen, in memory; this is the durable, pageable one.)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import InteractionsRecorded, is_system
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["HistoryView", "Watched", "watch_history"]


class HistoryView(View):
    name = "history"
    tables = ("history",)
    schema = """
    CREATE TABLE IF NOT EXISTS history (
        user_id TEXT NOT NULL,
        video_id TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        watches INTEGER NOT NULL DEFAULT 0,
        watched_ms INTEGER NOT NULL DEFAULT 0,
        completions INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        not_interested INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, video_id)
    );
    CREATE INDEX IF NOT EXISTS history_by_time ON history (user_id, last_at, video_id);
    """

    def on_interactions_recorded(
        self, db: sqlite3.Connection, entry: Entry, p: InteractionsRecorded
    ) -> None:
        user, at = entry.event.actor, entry.event.at
        if is_system(user):
            return
        for item in p.items:
            if item.type not in ("watch", "skip", "not_interested"):
                continue
            db.execute(
                "INSERT INTO history (user_id, video_id, first_at, last_at, watches, watched_ms, "
                "completions, skipped, not_interested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, video_id) DO UPDATE "
                "SET first_at = MIN(first_at, excluded.first_at), "
                "last_at = MAX(last_at, excluded.last_at), "
                "watches = watches + excluded.watches, "
                "watched_ms = watched_ms + excluded.watched_ms, "
                "completions = completions + excluded.completions, "
                "skipped = skipped + excluded.skipped, "
                "not_interested = MAX(not_interested, excluded.not_interested)",
                (
                    user, item.video_id, at, at,
                    int(item.type == "watch"), item.watched_ms if item.type == "watch" else 0,
                    int(item.type == "watch" and item.completed),
                    int(item.type == "skip"), int(item.type == "not_interested"),
                ),
            )  # fmt: skip


@dataclass(frozen=True)
class Watched:
    video_id: str
    last_at: int
    watches: int
    watched_ms: int
    completions: int


def watch_history(
    db: sqlite3.Connection, user_id: str, *, before: tuple[int, str] | None, limit: int
) -> list[Watched]:
    """The videos a user watched, the most recently watched first; page with
    ``before`` = (last_at, video_id) of the last one received."""
    at, video_id = before or (2**63 - 1, "")
    rows = db.execute(
        "SELECT video_id, last_at, watches, watched_ms, completions FROM history "
        "WHERE user_id = ? AND watches > 0 AND (last_at < ? OR (last_at = ? AND video_id > ?)) "
        "ORDER BY last_at DESC, video_id LIMIT ?",
        (user_id, at, at, video_id, limit),
    ).fetchall()
    return [Watched(*row) for row in rows]
