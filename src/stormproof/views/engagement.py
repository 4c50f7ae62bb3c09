"""Engagement: per-video counters and who likes what.

**What one person can add.** Views, completions and shares are counted at
most once per person, per video, per fixed 10-minute window of event time
(``at // WINDOW_MS``): watching a clip on loop, or a script sending watch
after watch, adds one view per window, not one per request. Within a window
the view's watch time is the longest one reported there, and a completion
counts if any watch of that window completed. The rows behind it
(``watch_windows``, ``share_windows``) are keyed by (video, person, window)
and merged by insert-if-absent and maximum, so every interleaving of the
partitions — a late event landing between earlier ones too — ends in the
same counters.

Fixed buckets rather than a sliding window ("one view, then none until 10
minutes after it"): a sliding window over a set of times depends on which
time opened it, so a late event could shift every later window and
recounting would be needed; a fixed bucket is decided by the event alone.
The cost is at the edges: two watches a minute apart across a bucket
boundary count twice — still at most six views per person per video per
hour. The For You engine credits its trending points by the same windows
(:mod:`stormproof.recommend.engine`).

Skips and hides are plain counters (they only add). A like and an unlike of
the same video by the same user resolve to the latest by ``(at, event id,
position in the batch)``.

A system account's interactions (a prober's, ADR 020) count nowhere: they
are left out by the actor's id, which says it is a system one
(:func:`~stormproof.events.is_system`) — no lookup, and the same in every
region even when they arrive before the account's sign-up."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import Interaction, InteractionsRecorded, is_system
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["WINDOW_MS", "Counts", "EngagementView", "counts_of", "liked", "window_of"]

#: one person's views, completions and shares of a video count once per window this long
WINDOW_MS = 10 * 60 * 1000

_LIKE = """
INSERT INTO likes VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (video_id, user_id) DO UPDATE SET
    active = excluded.active, at = excluded.at, eid = excluded.eid, idx = excluded.idx
WHERE (excluded.at, excluded.eid, excluded.idx) > (likes.at, likes.eid, likes.idx)
"""
_ADD = """
INSERT INTO engagement (video_id, views, watched_ms, completions, shares, skips, hides, last_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (video_id) DO UPDATE SET
    views = views + excluded.views, watched_ms = watched_ms + excluded.watched_ms,
    completions = completions + excluded.completions, shares = shares + excluded.shares,
    skips = skips + excluded.skips, hides = hides + excluded.hides,
    last_at = MAX(last_at, excluded.last_at)
"""


def window_of(at: int) -> int:
    """The counting window an event time falls in."""
    return at // WINDOW_MS


class EngagementView(View):
    name = "engagement"
    tables = ("engagement", "likes", "watch_windows", "share_windows")
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
    CREATE TABLE IF NOT EXISTS watch_windows (
        video_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        watched_ms INTEGER NOT NULL,
        completed INTEGER NOT NULL,
        PRIMARY KEY (video_id, user_id, bucket)
    );
    CREATE TABLE IF NOT EXISTS share_windows (
        video_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        PRIMARY KEY (video_id, user_id, bucket)
    );
    """

    def __init__(self) -> None:
        #: counters added since the last flush: video id -> the columns of ``_ADD``
        self._adds: dict[str, list[int]] = {}

    def on_interactions_recorded(
        self, db: sqlite3.Connection, entry: Entry, p: InteractionsRecorded
    ) -> None:
        user, at, eid = entry.event.actor, entry.event.at, entry.event.id
        if is_system(user):
            return
        for index, item in enumerate(p.items):
            if item.type in ("like", "unlike"):
                active = int(item.type == "like")
                db.execute(_LIKE, (user, item.video_id, active, at, eid, index))
            elif item.type == "watch":
                self._watch(db, user, at, item)
            elif item.type == "share":
                added = db.execute(
                    "INSERT INTO share_windows VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (item.video_id, user, window_of(at)),
                ).rowcount
                self._add(item.video_id, at, shares=added)
            else:
                skip, hide = int(item.type == "skip"), int(item.type == "not_interested")
                self._add(item.video_id, at, skips=skip, hides=hide)

    def _watch(self, db: sqlite3.Connection, user: str, at: int, item: Interaction) -> None:
        """A watch: a new view if it opens a window (most do: one statement
        finds that out and stores it); else it may lengthen the window's
        watch time or complete it."""
        key = (item.video_id, user, window_of(at))
        watched, completed = item.watched_ms, int(item.completed)
        opened = db.execute(
            "INSERT INTO watch_windows VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (*key, watched, completed),
        ).rowcount
        if opened:
            self._add(item.video_id, at, views=1, watched_ms=watched, completions=completed)
            return
        row = db.execute(
            "SELECT watched_ms, completed FROM watch_windows "
            "WHERE video_id = ? AND user_id = ? AND bucket = ?",
            key,
        ).fetchone()
        watched, completed = max(watched, row[0]), max(completed, row[1])
        if (watched, completed) != tuple(row):
            db.execute(
                "UPDATE watch_windows SET watched_ms = ?, completed = ? "
                "WHERE video_id = ? AND user_id = ? AND bucket = ?",
                (watched, completed, *key),
            )
        self._add(item.video_id, at, watched_ms=watched - row[0], completions=completed - row[1])

    def _add(
        self,
        video_id: str,
        at: int,
        *,
        views: int = 0,
        watched_ms: int = 0,
        completions: int = 0,
        shares: int = 0,
        skips: int = 0,
        hides: int = 0,
    ) -> None:
        """Add to a video's counters, in memory until :meth:`flush`: a batch
        of the log touches a popular video many times, and one upsert per
        video and batch costs a third of one per interaction (measured in
        ``benchmarks/recovery.py``'s history: 473,115 adds, 177,795 rows
        touched per batch of 5,000 entries). Only adding and taking the
        latest time, so the sums equal the adds made one by one."""
        row = self._adds.get(video_id)
        if row is None:
            self._adds[video_id] = [views, watched_ms, completions, shares, skips, hides, at]
            return
        row[0] += views
        row[1] += watched_ms
        row[2] += completions
        row[3] += shares
        row[4] += skips
        row[5] += hides
        row[6] = max(row[6], at)

    def flush(self, db: sqlite3.Connection) -> None:
        if self._adds:
            db.executemany(_ADD, [(video_id, *row) for video_id, row in self._adds.items()])
            self._adds.clear()

    def forget(self) -> None:
        self._adds.clear()


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
