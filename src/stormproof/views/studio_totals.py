"""Studio totals: what a creator's views add up to in each 10-minute window,
kept as the watches apply, so that the studio's overview and the ledger
read in time proportional to the windows of a range, not to its views
(ADR 030 and 031, amendments "Totals kept as the events apply").

Part of the studio view (:class:`~stormproof.views.studio.StudioView`): its
handlers call these in the same transaction as the view's rows, so the
totals are a function of log position like every view, and join its digest.

**Why 10-minute windows.** A view falls on the day its window starts
(:mod:`stormproof.creators.analytics`); a window's start is one instant, so
it falls on exactly one local day in every time zone (+5:30 and +5:45
included), and a creator's enrollment is checked against the window itself
(:func:`stormproof.creators.ledger.accruals`). Coarser buckets would lose
one or the other.

**What is kept**, per (creator, window) and per (video, window): views,
watch time, completions, the sum of shares watched (millionths), the views
qualified under each threshold of :data:`QUALIFIED_LADDER` (a read-time
setting: a threshold off the ladder is counted from the studio's rows
instead, exactly, slower) and views by source; per (video, window) also
views by the highest retention step they reached. Unique viewers do not add
up: per (creator, window, viewer) a row says the viewer viewed, counted
with a DISTINCT at read (a video's are its rows in ``studio_watches``).

**A watch before its video.** Owner and duration come from the video's
upload, which may apply after its watches (another partition). The studio
keeps its own copy of them (``studio_videos``, first upload applied wins,
as in the videos view); watches of a video not yet known count in no total,
and when its upload applies, its views are added then. Whatever the order,
the totals end equal.

**A view that grows.** A later watch in the same window raises a view's
watch time or completes it (the row merges by maximum); the totals take
the difference between the row before and after.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from stormproof.events import WATCH_SOURCES

__all__ = [
    "QUALIFIED_LADDER",
    "SCHEMA",
    "STEPS",
    "TABLES",
    "Pending",
    "Window",
    "add_video",
    "add_view",
    "creator_spans",
    "creator_viewers",
    "qualified_windows",
    "share_of",
    "step_of",
    "video_spans",
    "video_viewers",
]

#: the qualifying thresholds (ms) whose counts are kept; ``studio_qualified_ms``
#: should be one of them (5000 by default) for reads to be fast
QUALIFIED_LADDER: tuple[int, ...] = (1000, 2000, 3000, 5000, 10_000, 15_000, 30_000, 60_000)
#: shares watched are counted in millionths
MILLIONTH = 1_000_000

_Q = [f"q{ms}" for ms in QUALIFIED_LADDER]
_S = [f"s_{source}" for source in WATCH_SOURCES]
_ADDED = ["views", "watched_ms", "completed", "share_millionths", *_Q, *_S]
#: retention steps (0 %, 5 %, … 100 %): views by the highest step they reached
STEPS = 21
_R = [f"r{k}" for k in range(STEPS)]

TABLES = ("studio_videos", "studio_windows", "studio_viewers", "studio_video_windows")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS studio_videos (
    video_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    duration_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS studio_windows (
    owner_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in _ADDED)},
    PRIMARY KEY (owner_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS studio_video_windows (
    video_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in [*_ADDED, *_R])},
    PRIMARY KEY (video_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS studio_viewers (
    owner_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    viewer_id TEXT NOT NULL,
    PRIMARY KEY (owner_id, bucket, viewer_id)
) WITHOUT ROWID;
"""


def _upsert(table: str, key: str, columns: list[str]) -> str:
    return (
        f"INSERT INTO {table} VALUES (?, ?, {', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({key}, bucket) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)
    )


_UPSERT = _upsert("studio_windows", "owner_id", _ADDED)
_UPSERT_VIDEO = _upsert("studio_video_windows", "video_id", [*_ADDED, *_R])

#: a view as the studio's row holds it: (watched_ms, completed, source)
Row = tuple[int, int, str]


def share_of(watched_ms: int, completed: bool, duration_ms: int) -> int:
    """The share of a video a view watched, in millionths (ADR 030)."""
    if completed or duration_ms <= 0:
        return MILLIONTH
    return min(watched_ms, duration_ms) * MILLIONTH // duration_ms


def step_of(watched_ms: int, completed: bool, duration_ms: int) -> int:
    """The highest retention step (0…20) a view reached (ADR 030)."""
    if completed or duration_ms <= 0:
        return STEPS - 1
    return min(watched_ms, duration_ms) * (STEPS - 1) // duration_ms


_LADDER_AT = 4
_SOURCE_AT = {s: _LADDER_AT + len(QUALIFIED_LADDER) + n for n, s in enumerate(WATCH_SOURCES)}
_STEP_AT = len(_ADDED)
_WIDTH = len(_ADDED) + STEPS


def _counts(row: Row, duration_ms: int) -> list[tuple[int, int]]:
    """What one view adds to its video's totals, as (column, count) pairs
    of the columns it adds to (its owner's: those before ``len(_ADDED)``)."""
    watched, done, source = row
    counts = [
        (0, 1), (1, watched), (2, done), (3, share_of(watched, bool(done), duration_ms)),
        (_SOURCE_AT[source], 1), (_STEP_AT + step_of(watched, bool(done), duration_ms), 1),
    ]  # fmt: skip
    counts.extend(
        (_LADDER_AT + n, 1) for n, ms in enumerate(QUALIFIED_LADDER) if done or watched >= ms
    )
    return counts


class Pending:
    """Totals added up in memory since the view's last flush: one upsert
    per (owner or video, window) per transaction, not one per watch."""

    def __init__(self) -> None:
        self.owners: dict[tuple[str, int], list[int]] = {}
        self.videos: dict[tuple[str, int], list[int]] = {}
        #: video id → (owner, duration) as ``studio_videos`` holds it, read this transaction
        self.known: dict[str, tuple[str, int] | None] = {}
        #: (owner, window, viewer) of the new views
        self.viewers: set[tuple[str, int, str]] = set()

    def add(
        self, owner: str, video_id: str, bucket: int, counts: list[tuple[int, int]], sign: int
    ) -> None:
        for sums, key in ((self.owners, (owner, bucket)), (self.videos, (video_id, bucket))):
            total = sums.get(key)
            if total is None:
                sums[key] = total = [0] * _WIDTH
            for n, count in counts:
                total[n] += sign * count

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany(_UPSERT, [(o, b, *t[: len(_ADDED)]) for (o, b), t in self.owners.items()])
        db.executemany(_UPSERT_VIDEO, [(v, b, *t) for (v, b), t in self.videos.items()])
        db.executemany(
            "INSERT INTO studio_viewers VALUES (?, ?, ?) ON CONFLICT DO NOTHING", self.viewers
        )
        self.clear()

    def clear(self) -> None:
        self.owners.clear()
        self.videos.clear()
        self.known.clear()
        self.viewers.clear()


def add_view(
    db: sqlite3.Connection, pending: Pending, video_id: str, bucket: int, viewer: str,
    old: Row | None, new: Row,
) -> None:  # fmt: skip
    """Count the change of one view's row from ``old`` (None: a new view)
    to ``new``, if its video is known."""
    if old == new:
        return
    if video_id in pending.known:
        known = pending.known[video_id]
    else:
        known = pending.known[video_id] = db.execute(
            "SELECT owner_id, duration_ms FROM studio_videos WHERE video_id = ?", (video_id,)
        ).fetchone()
    if known is None:
        return
    owner, duration = known
    pending.add(owner, video_id, bucket, _counts(new, duration), 1)
    if old is None:
        pending.viewers.add((owner, bucket, viewer))
    else:
        pending.add(owner, video_id, bucket, _counts(old, duration), -1)


def add_video(
    db: sqlite3.Connection, pending: Pending, video_id: str, owner: str, duration_ms: int
) -> None:
    """Learn a video's owner and duration from its upload (the first one
    applied), and count the views of it applied before."""
    inserted = db.execute(
        "INSERT INTO studio_videos VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (video_id, owner, duration_ms),
    ).rowcount
    pending.known.pop(video_id, None)
    if not inserted:
        return
    for bucket, viewer, watched, done, source in db.execute(
        "SELECT bucket, viewer_id, watched_ms, completed, source FROM studio_watches "
        "WHERE video_id = ?",
        (video_id,),
    ).fetchall():
        pending.add(owner, video_id, bucket, _counts((watched, done, source), duration_ms), 1)
        pending.viewers.add((owner, bucket, viewer))


# -- reads --------------------------------------------------------------------


class Window:
    """What views in some windows add up to."""

    __slots__ = (
        "completed", "qualified", "reached", "share_millionths", "sources", "views", "watched",
    )  # fmt: skip

    def __init__(self, row: Sequence[int], ladder_index: int) -> None:
        views, watched, completed, share, *rest = row
        self.views, self.watched, self.completed = views, watched, completed
        self.share_millionths = share
        self.qualified = rest[ladder_index]
        sources = rest[len(QUALIFIED_LADDER) : len(QUALIFIED_LADDER) + len(WATCH_SOURCES)]
        self.sources = {s: n for s, n in zip(WATCH_SOURCES, sources, strict=True) if n}
        #: a video's views by the highest retention step they reached; () for a creator
        self.reached = tuple(rest[len(QUALIFIED_LADDER) + len(WATCH_SOURCES) :])


def _spans(spans: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """A ``spans(i, low, high)`` table of numbered window ranges, for a WITH."""
    values = ", ".join("(?, ?, ?)" for _ in spans)
    return f"spans(i, low, high) AS (VALUES {values})", [
        x for i, (low, high) in enumerate(spans) for x in (i, low, high)
    ]


def _sums(
    db: sqlite3.Connection, table: str, key: tuple[str, str], columns: list[str],
    spans: list[tuple[int, int]], qualified_ms: int,
) -> dict[int, Window]:  # fmt: skip
    index = QUALIFIED_LADDER.index(qualified_ms)
    with_spans, args = _spans(spans)
    rows = db.execute(
        f"WITH {with_spans} SELECT s.i, {', '.join(f'SUM(w.{c})' for c in columns)} "
        f"FROM spans s JOIN {table} w "
        f"ON w.{key[0]} = ? AND w.bucket >= s.low AND w.bucket < s.high GROUP BY s.i",
        (*args, key[1]),
    ).fetchall()
    return {i: Window(rest, index) for i, *rest in rows}


def creator_spans(
    db: sqlite3.Connection, owner: str, spans: list[tuple[int, int]], qualified_ms: int
) -> dict[int, Window]:
    """The totals of ``owner``'s windows numbered ``[low, high)``, for each
    ``(low, high)`` of ``spans`` with any (by its index), added up by
    SQLite; ``qualified_ms`` must be on the ladder."""
    return _sums(db, "studio_windows", ("owner_id", owner), _ADDED, spans, qualified_ms)


def video_spans(
    db: sqlite3.Connection, video_id: str, spans: list[tuple[int, int]], qualified_ms: int
) -> dict[int, Window]:
    """:func:`creator_spans` of one video, with its views' retention steps."""
    columns = [*_ADDED, *_R]
    return _sums(db, "studio_video_windows", ("video_id", video_id), columns, spans, qualified_ms)


def _distinct(
    db: sqlite3.Connection, table: str, key: tuple[str, str], spans: list[tuple[int, int]]
) -> list[int]:
    with_spans, args = _spans(spans)
    found = dict(
        db.execute(
            f"WITH {with_spans} SELECT s.i, COUNT(DISTINCT v.viewer_id) FROM spans s "
            f"JOIN {table} v ON v.{key[0]} = ? AND v.bucket >= s.low AND v.bucket < s.high "
            "GROUP BY s.i",
            (*args, key[1]),
        ).fetchall()
    )
    return [found.get(i, 0) for i in range(len(spans))]


def creator_viewers(db: sqlite3.Connection, owner: str, spans: list[tuple[int, int]]) -> list[int]:
    """How many people viewed ``owner``'s videos in the windows numbered
    ``[low, high)`` of each of ``spans``."""
    return _distinct(db, "studio_viewers", ("owner_id", owner), spans)


def video_viewers(db: sqlite3.Connection, video_id: str, spans: list[tuple[int, int]]) -> list[int]:
    """How many people viewed ``video_id`` in each of ``spans``, counted
    from the studio's rows (one per view) by SQLite."""
    return _distinct(db, "studio_watches", ("video_id", video_id), spans)


def qualified_windows(
    db: sqlite3.Connection, owner: str, low: int, high: int, qualified_ms: int
) -> list[tuple[int, int]]:
    """(window number, qualified views) of ``owner``'s windows numbered
    ``[low, high)`` with any; ``qualified_ms`` must be on the ladder."""
    column = _Q[QUALIFIED_LADDER.index(qualified_ms)]
    return db.execute(
        f"SELECT bucket, {column} FROM studio_windows "
        f"WHERE owner_id = ? AND bucket >= ? AND bucket < ? AND {column} > 0 ORDER BY bucket",
        (owner, low, high),
    ).fetchall()
