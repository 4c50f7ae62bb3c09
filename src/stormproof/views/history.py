"""Per-user watch history: what each user watched, skipped or hid.

The For You feed never shows a video again once it is here. Every column
only adds or takes a minimum or maximum, so arrival order does not matter.
"""

from __future__ import annotations

import sqlite3

from stormproof.events import InteractionsRecorded
from stormproof.log import Entry
from stormproof.views import View

__all__ = ["HistoryView", "seen", "watched"]


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
    """

    def on_interactions_recorded(
        self, db: sqlite3.Connection, entry: Entry, p: InteractionsRecorded
    ) -> None:
        user, at = entry.event.actor, entry.event.at
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


def seen(db: sqlite3.Connection, user_id: str) -> set[str]:
    """Every video the user watched, skipped or marked not interested."""
    rows = db.execute("SELECT video_id FROM history WHERE user_id = ?", (user_id,))
    return {row[0] for row in rows}


def watched(db: sqlite3.Connection, user_id: str, limit: int = 100) -> list[tuple[str, int, int]]:
    """(video_id, watched_ms, completions) most recent first."""
    rows = db.execute(
        "SELECT video_id, watched_ms, completions FROM history WHERE user_id = ? AND watches > 0 "
        "ORDER BY last_at DESC, video_id LIMIT ?",
        (user_id, limit),
    ).fetchall()
    return [(v, ms, c) for v, ms, c in rows]
