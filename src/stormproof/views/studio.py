"""Studio: what a creator's analytics are computed from — every view of
their videos, one row per view, with how far it got and where it came from.

**A view** is what the engagement view counts as one (one person, one
video, one 10-minute window of event time: :func:`~stormproof.views.engagement.window_of`),
so the studio's views equal the counters people see. Its row keeps the
longest watch reported in the window, whether any watch of it completed,
and the source of the window's first watch by ``(at, event id, position in
the batch)``. All three merge by maximum or minimum, so the row ends the same
whatever order the partitions arrive in — a late event landing between
earlier ones too.

**Nothing else is stored per view.** Days, qualified views, shares watched
and retention are computed when read (:mod:`stormproof.creators.analytics`),
joining each view to its video's duration and owner (the studio's own copy
of the uploads): so a watch applied before its video's upload (from another
partition) counts the same, a creator's time zone can change without
rewriting anything, and the qualifying threshold can be a read setting
without two regions' views ever differing (ADR 030). For a creator, or a
video, with :data:`~stormproof.views.studio_totals.TOTALS_AFTER` views or
more, totals per 10-minute window are kept beside the rows
(:mod:`stormproof.views.studio_totals`), so its reads cost its windows, not
its views. Likes, comments, shares and follows are read from the views
that already hold them with their times.

A system account's watches (a prober's, ADR 020) are left out by the
actor's id, as everywhere."""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import stormproof.views.studio_reads as studio_reads
import stormproof.views.studio_totals as studio_totals
from stormproof.events import InteractionsRecorded, VideoUploaded, is_system
from stormproof.log import Entry
from stormproof.views.base import View
from stormproof.views.engagement import WINDOW_MS, window_of

__all__ = [
    "StudioView",
    "commented_at",
    "followed_at",
    "liked_at",
    "owner_commented_at",
    "owner_liked_at",
    "owner_shared_at",
    "qualified_by_day",
    "qualified_by_window",
    "shared_at",
    "studio_view",
]

_ROW = (
    "SELECT watched_ms, completed, source, first_at, first_eid, first_idx FROM studio_watches "
    "WHERE video_id = ? AND bucket = ? AND viewer_id = ?"
)
_INSERT = "INSERT INTO studio_watches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
_WATCHES = """
CREATE TABLE IF NOT EXISTS studio_watches (
    video_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    viewer_id TEXT NOT NULL,
    watched_ms INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    source TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    first_eid TEXT NOT NULL,
    first_idx INTEGER NOT NULL,
    PRIMARY KEY (video_id, bucket, viewer_id)
) WITHOUT ROWID;
-- one B-tree a view: its key is the table, which covers every read by
-- (video, windows), the ledger's off-ladder count included (ADR 031)
"""
_UPDATE = (
    "UPDATE studio_watches SET watched_ms = ?, completed = ?, source = ?, first_at = ?, "
    "first_eid = ?, first_idx = ? WHERE video_id = ? AND bucket = ? AND viewer_id = ?"
)


class StudioView(View):
    name = "studio"
    #: a creator, or a video, has totals from this many views on (ADR 030)
    totals_after: ClassVar[int] = studio_totals.TOTALS_AFTER
    tables = ("studio_watches", *studio_totals.TABLES)
    schema = studio_totals.schema(studio_totals.TOTALS_AFTER) + _WATCHES

    def __init__(self) -> None:
        #: totals added up since the last flush (views/studio_totals.py)
        self._pending = studio_totals.Pending(self.totals_after)

    def on_interactions_recorded(
        self, db: sqlite3.Connection, entry: Entry, p: InteractionsRecorded
    ) -> None:
        viewer, at, eid = entry.event.actor, entry.event.at, entry.event.id
        if is_system(viewer):
            return
        window = window_of(at)
        for index, item in enumerate(p.items):
            if item.type != "watch":
                continue
            key = (item.video_id, window, viewer)
            watched, done, first = item.watched_ms, int(item.completed), (at, eid, index)
            # almost every watch is a new view: one statement for those
            if db.execute(_INSERT, (*key, watched, done, item.source, *first)).rowcount:
                new = (watched, done, item.source)
                studio_totals.add_view(db, self._pending, item.video_id, window, viewer, None, new)
                continue
            row = db.execute(_ROW, key).fetchone()
            # merged here: the longest watch, completed if any was, the
            # source of the first by (at, event id, index) — Python orders
            # str by code point as SQLite's BINARY collation orders UTF-8
            # bytes — then a plain UPDATE, and no write at all for a watch
            # that changes nothing (cheaper than an upsert returning the row)
            old_watched, old_done, old_source, *old_first = row
            source = item.source if first < tuple(old_first) else old_source
            merged = (
                max(old_watched, watched),
                max(old_done, done),
                source,
                *min(first, tuple(old_first)),
            )
            if merged == row:
                continue
            db.execute(_UPDATE, (*merged, *key))
            old, new = (old_watched, old_done, old_source), merged[:3]
            if old != new:
                studio_totals.add_view(db, self._pending, item.video_id, window, viewer, old, new)

    def on_video_uploaded(self, db: sqlite3.Connection, entry: Entry, p: VideoUploaded) -> None:
        if is_system(p.owner_id):
            return  # a prober's video has no studio
        studio_totals.add_video(db, self._pending, p.video_id, p.owner_id, p.duration_ms)

    def flush(self, db: sqlite3.Connection) -> None:
        self._pending.flush(db)

    def forget(self) -> None:
        self._pending.clear()


def studio_view(totals_after: int) -> StudioView:
    """A studio view keeping totals from ``totals_after`` views on, its
    schema saying so (tests cross it within a few events; a region runs
    :class:`StudioView`, whose ``totals_after`` is
    :data:`~stormproof.views.studio_totals.TOTALS_AFTER`)."""
    n = totals_after

    class Studio(StudioView):
        totals_after = n
        schema = studio_totals.schema(n) + _WATCHES

    return Studio()


def qualified_by_window(
    db: sqlite3.Connection, owner_id: str, since: int, until: int, qualified_ms: int
) -> list[tuple[int, int]]:
    """(window start, views) of every 10-minute window starting in
    ``[since, until)`` with views of ``owner_id``'s videos watched at least
    ``qualified_ms`` or to the end, for the ledger: from the totals when the
    creator has them and ``qualified_ms`` is on their ladder, else counted
    from the rows by SQLite."""
    low, high = -(-since // WINDOW_MS), -(-until // WINDOW_MS)
    rows = studio_reads.qualified_windows(db, owner_id, low, high, qualified_ms)
    return [(bucket * WINDOW_MS, count) for bucket, count in rows]


#: ranges of windows a query joins at a time (3 variables each)
_PARTS_AT_A_TIME = 500


def qualified_by_day(
    db: sqlite3.Connection, owner_id: str, parts: list[tuple[int, int, int]], qualified_ms: int
) -> dict[int, int]:
    """Day → views of ``owner_id``'s videos watched at least ``qualified_ms``
    or to the end, in the windows of the ranges ``(low, high, shift)`` of
    ``parts`` (window numbers; the ranges do not overlap), a window numbered
    ``b`` falling on day ``(b * WINDOW_MS + shift) // 86,400,000``: for the
    ledger, which makes the shifts from its creator's zone
    (:mod:`stormproof.creators.offsets`). Added up by SQLite, from the
    totals when the creator has them and ``qualified_ms`` is on their
    ladder, else from the rows."""
    days: dict[int, int] = {}
    for n in range(0, len(parts), _PARTS_AT_A_TIME):
        chunk = parts[n : n + _PARTS_AT_A_TIME]
        for day, count in studio_reads.qualified_days(db, owner_id, chunk, qualified_ms):
            days[day] = days.get(day, 0) + count
    return days


# -- what the other views hold with its time, read for the studio ------------


def liked_at(db: sqlite3.Connection, video_id: str, since: int, until: int) -> list[int]:
    """When each standing like of ``video_id`` made in ``[since, until)`` was
    made (the engagement view keeps each person's latest like or unlike)."""
    rows = db.execute(
        "SELECT at FROM likes WHERE video_id = ? AND active = 1 AND at >= ? AND at < ?",
        (video_id, since, until),
    ).fetchall()
    return [at for (at,) in rows]


def commented_at(db: sqlite3.Connection, video_id: str, since: int, until: int) -> list[int]:
    """When each comment on ``video_id`` still up was posted, in ``[since, until)``."""
    rows = db.execute(
        "SELECT created_at FROM comments WHERE video_id = ? AND deleted = 0 "
        "AND created_at >= ? AND created_at < ?",
        (video_id, since, until),
    ).fetchall()
    return [at for (at,) in rows]


def shared_at(db: sqlite3.Connection, video_id: str, since: int, until: int) -> list[int]:
    """The start of each share's window (one per person and window, as the
    engagement view counts them) in ``[since, until)``."""
    low, high = -(-since // WINDOW_MS), -(-until // WINDOW_MS)
    rows = db.execute(
        "SELECT bucket FROM share_windows WHERE video_id = ? AND bucket >= ? AND bucket < ?",
        (video_id, low, high),
    ).fetchall()
    return [bucket * WINDOW_MS for (bucket,) in rows]


def owner_liked_at(db: sqlite3.Connection, owner_id: str, since: int, until: int) -> list[int]:
    """:func:`liked_at` of every video of ``owner_id``, in one query."""
    rows = db.execute(
        "SELECT l.at FROM videos v JOIN likes l ON l.video_id = v.video_id "
        "WHERE v.owner_id = ? AND l.active = 1 AND l.at >= ? AND l.at < ?",
        (owner_id, since, until),
    ).fetchall()
    return [at for (at,) in rows]


def owner_commented_at(db: sqlite3.Connection, owner_id: str, since: int, until: int) -> list[int]:
    """:func:`commented_at` of every video of ``owner_id``, in one query."""
    rows = db.execute(
        "SELECT c.created_at FROM videos v JOIN comments c ON c.video_id = v.video_id "
        "WHERE v.owner_id = ? AND c.deleted = 0 AND c.created_at >= ? AND c.created_at < ?",
        (owner_id, since, until),
    ).fetchall()
    return [at for (at,) in rows]


def owner_shared_at(db: sqlite3.Connection, owner_id: str, since: int, until: int) -> list[int]:
    """:func:`shared_at` of every video of ``owner_id``, in one query."""
    low, high = -(-since // WINDOW_MS), -(-until // WINDOW_MS)
    rows = db.execute(
        "SELECT s.bucket FROM videos v JOIN share_windows s ON s.video_id = v.video_id "
        "WHERE v.owner_id = ? AND s.bucket >= ? AND s.bucket < ?",
        (owner_id, low, high),
    ).fetchall()
    return [bucket * WINDOW_MS for (bucket,) in rows]


def followed_at(db: sqlite3.Connection, user_id: str, since: int, until: int) -> list[int]:
    """When each standing follow of ``user_id`` began, in ``[since, until)``."""
    rows = db.execute(
        "SELECT at FROM follows WHERE followee_id = ? AND active = 1 AND at >= ? AND at < ?",
        (user_id, since, until),
    ).fetchall()
    return [at for (at,) in rows]
