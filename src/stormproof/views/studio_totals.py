"""Studio totals: what a creator's views add up to in each 10-minute window,
kept as the watches apply, so that the studio's overview and the ledger
read in time proportional to the windows of a range, not to its views
(ADR 030 and 031, amendments "Totals kept as the events apply"); read by
:mod:`stormproof.views.studio_reads`.

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
views by the highest retention step they reached; per (creator, hour) the
creator's sums again, so a day reads ~24 rows, not ~144 (a day beginning
in mid-hour reads the windows at its ends). Unique viewers do not add
up: per (creator, window, viewer) a row says the viewer viewed, and names
the window of that viewer's view of that creator before it (-1: none).
So the people who viewed in windows ``[low, high)`` are the rows there
whose previous window is before ``low`` — each person's first row of the
range — counted without a DISTINCT, from the table alone (a video's are
counted with a DISTINCT over its rows in ``studio_watches``: fewer).
A row's previous window is a function of the set of rows, whatever the
order they came in: a row inserted before another makes itself that one's
previous window.

**Only where they pay** (ADR 030, "Totals only where they pay"): a creator,
and separately a video, has totals once it has :data:`TOTALS_AFTER` views
or more (``studio_creators`` counts each owner's views of known videos;
``totals`` flags who crossed). Below, the reads count the same figures from
its views' rows, as fast; at the crossing its totals are backfilled from
all its rows at once, then kept as the watches apply — so they are what
they would be had they been kept from the first view, whatever the order.
Nothing removes a view's row, so counts only grow.

**A watch before its video.** Owner and duration come from the video's
upload, which may apply after its watches (another partition). The studio
keeps its own copy of them (``studio_videos``, first upload applied wins,
as in the videos view); watches of a video not yet known count in no total
nor towards :data:`TOTALS_AFTER`, and when its upload applies, its views
are added then. Whatever the order, the totals end equal.

**A view that grows.** A later watch in the same window raises a view's
watch time or completes it (the row merges by maximum); the totals take
the difference between the row before and after.
"""

from __future__ import annotations

import sqlite3

from stormproof.events import WATCH_SOURCES
from stormproof.views.engagement import WINDOW_MS

__all__ = [
    "DAY_MS",
    "MILLIONTH",
    "QUALIFIED_LADDER",
    "STEPS",
    "TABLES",
    "TOTALS_AFTER",
    "WINDOWS_PER_HOUR",
    "Pending",
    "add_video",
    "add_view",
    "qualified_column",
    "schema",
    "share_of",
    "step_of",
    "summed_columns",
]

#: the qualifying thresholds (ms) whose counts are kept; ``studio_qualified_ms``
#: should be one of them (5000 by default) for reads to be fast
QUALIFIED_LADDER: tuple[int, ...] = (1000, 2000, 3000, 5000, 10_000, 15_000, 30_000, 60_000)
#: a creator, or a video, has totals from its this-many-th view on: below,
#: its figures are counted from its views' rows as fast (docs/benchmarks.md,
#: "Totals only where they pay"); part of the schema, so changing it
#: rebuilds the views
TOTALS_AFTER = 1000
#: shares watched are counted in millionths
MILLIONTH = 1_000_000
DAY_MS = 86_400_000

_Q = [f"q{ms}" for ms in QUALIFIED_LADDER]
_S = [f"s_{source}" for source in WATCH_SOURCES]
_ADDED = ["views", "watched_ms", "completed", "share_millionths", *_Q, *_S]
#: retention steps (0 %, 5 %, … 100 %): views by the highest step they reached
STEPS = 21
_R = [f"r{k}" for k in range(STEPS)]

TABLES = (
    "studio_creators", "studio_videos", "studio_windows", "studio_hours", "studio_viewers",
    "studio_video_windows",
)  # fmt: skip


def schema(totals_after: int) -> str:
    """The totals' tables, for a view that keeps totals of a creator or a
    video from its ``totals_after``-th view on (the number is written into
    the schema, so that changing it rebuilds the views: ADR 030)."""
    return f"""
-- totals are kept for a creator, and for a video, from its {totals_after}th view on
CREATE TABLE IF NOT EXISTS studio_videos (
    video_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    totals INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS studio_videos_by_owner ON studio_videos (owner_id);
CREATE TABLE IF NOT EXISTS studio_creators (
    owner_id TEXT PRIMARY KEY,
    views INTEGER NOT NULL,
    totals INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS studio_windows (
    owner_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in _ADDED)},
    PRIMARY KEY (owner_id, bucket)
) WITHOUT ROWID;
-- the same by (creator, hour: 6 windows), so a day reads ~24 rows, not ~144
CREATE TABLE IF NOT EXISTS studio_hours (
    owner_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in _ADDED)},
    PRIMARY KEY (owner_id, hour)
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
    previous INTEGER NOT NULL,
    PRIMARY KEY (owner_id, bucket, viewer_id)
) WITHOUT ROWID;
-- a viewer's windows in order, to find a new row's neighbours
CREATE INDEX IF NOT EXISTS studio_viewers_by_viewer ON studio_viewers (owner_id, viewer_id, bucket);
"""


def _upsert(table: str, key: str, columns: list[str], unit: str = "bucket") -> str:
    return (
        f"INSERT INTO {table} VALUES (?, ?, {', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({key}, {unit}) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)
    )


_UPSERT = _upsert("studio_windows", "owner_id", _ADDED)
_UPSERT_HOUR = _upsert("studio_hours", "owner_id", _ADDED, "hour")
#: 10-minute windows in an hour
WINDOWS_PER_HOUR = 3_600_000 // WINDOW_MS
_VIEWER = (
    "INSERT INTO studio_viewers VALUES (?1, ?2, ?3, COALESCE((SELECT MAX(bucket) "
    "FROM studio_viewers WHERE owner_id = ?1 AND viewer_id = ?3 AND bucket < ?2), -1)) "
    "ON CONFLICT DO NOTHING"
)
#: the viewer's next row, if any, now comes after the one just inserted
_NEXT = (
    "UPDATE studio_viewers SET previous = ?2 WHERE owner_id = ?1 AND viewer_id = ?3 "
    "AND bucket = (SELECT MIN(bucket) FROM studio_viewers "
    "WHERE owner_id = ?1 AND viewer_id = ?3 AND bucket > ?2)"
)
_UPSERT_VIDEO = _upsert("studio_video_windows", "video_id", [*_ADDED, *_R])
_COUNTED = (
    "INSERT INTO studio_creators VALUES (?, ?, 0) "
    "ON CONFLICT (owner_id) DO UPDATE SET views = views + excluded.views RETURNING views, totals"
)
_ROWS = "SELECT bucket, viewer_id, watched_ms, completed, source FROM studio_watches "

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


def _add(sums: dict[tuple[str, int], list[int]], key: tuple[str, int],
         counts: list[tuple[int, int]], sign: int) -> None:  # fmt: skip
    total = sums.get(key)
    if total is None:
        sums[key] = total = [0] * _WIDTH
    for n, count in counts:
        total[n] += sign * count


#: a view's row changed: (video, window, viewer, before — None: new —, after)
Change = tuple[str, int, str, Row | None, Row]
#: ids looked up in one statement
_AT_A_TIME = 500


def _chunks(ids: list[str]) -> list[tuple[str, list[str]]]:
    """``ids`` in pieces of :data:`_AT_A_TIME`, each with its ``?, ?, …``."""
    pieces = [ids[n : n + _AT_A_TIME] for n in range(0, len(ids), _AT_A_TIME)]
    return [(", ".join("?" * len(piece)), piece) for piece in pieces]


class Pending:
    """What the views' rows did since the view's last flush, turned into
    totals at the flush: one upsert per (owner or video, window) per
    transaction, not one per watch, and each video's owner looked up once
    per transaction, for all the videos at once.

    Totals are kept only for a creator (a video) with ``totals_after``
    views or more — below, a read counts its views' rows as fast — and
    begin with a backfill from every view it has (:func:`_backfill_creator`),
    so they are what they would be had they been kept from the first view,
    whatever order the views came in. Who has totals changes only at the
    end of a flush, after the changes are added up: a view is added to the
    totals or left to the backfill, never both."""

    def __init__(self, totals_after: int) -> None:
        self.totals_after = totals_after
        self.changes: list[Change] = []
        #: videos whose upload this transaction made known → (owner, duration)
        self.uploaded: dict[str, tuple[str, int]] = {}

    def flush(self, db: sqlite3.Connection) -> None:
        if not (self.changes or self.uploaded):
            return
        owners: dict[tuple[str, int], list[int]] = {}
        videos: dict[tuple[str, int], list[int]] = {}
        viewers: set[tuple[str, int, str]] = set()
        #: owner → views of its known videos added; videos without totals that grew → owner
        counted: dict[str, int] = {}
        growing: dict[str, str] = {}
        known, creators = self._known(db)
        # a video made known here is counted from its rows below, as they end
        for video_id, bucket, viewer, old, new in self.changes:
            if video_id in self.uploaded or (found := known.get(video_id)) is None:
                continue
            owner, duration, video_totals = found
            if old is None:
                counted[owner] = counted.get(owner, 0) + 1
                if not video_totals:
                    growing[video_id] = owner
            if not (creators[owner] or video_totals):
                continue
            counts = _counts(new, duration)
            was = None if old is None else _counts(old, duration)
            if creators[owner]:
                _add(owners, (owner, bucket), counts, 1)
                if was is None:
                    viewers.add((owner, bucket, viewer))
                else:
                    _add(owners, (owner, bucket), was, -1)
            if video_totals:
                _add(videos, (video_id, bucket), counts, 1)
                if was is not None:
                    _add(videos, (video_id, bucket), was, -1)
        sparse = [v for v, (owner, _) in self.uploaded.items() if not creators[owner]]
        views_of = dict.fromkeys(sparse, 0)
        for marks, piece in _chunks(sparse):
            views_of.update(
                db.execute(
                    f"SELECT video_id, COUNT(*) FROM studio_watches WHERE video_id IN ({marks}) "
                    "GROUP BY video_id",
                    piece,
                ).fetchall()
            )
        for video_id, (owner, duration) in self.uploaded.items():
            growing[video_id] = owner
            if not creators[owner]:
                counted[owner] = counted.get(owner, 0) + views_of[video_id]
                continue
            rows = db.execute(_ROWS + "WHERE video_id = ?", (video_id,)).fetchall()
            for bucket, viewer, watched, done, source in rows:
                _add(owners, (owner, bucket), _counts((watched, done, source), duration), 1)
                viewers.add((owner, bucket, viewer))
            counted[owner] = counted.get(owner, 0) + len(rows)
        _write_owners(db, owners)
        db.executemany(_UPSERT_VIDEO, [(v, b, *t) for (v, b), t in videos.items()])
        for viewer_row in viewers:
            if db.execute(_VIEWER, viewer_row).rowcount:
                db.execute(_NEXT, viewer_row)
        enough = set()
        for owner, added in counted.items():
            views, totals = db.execute(_COUNTED, (owner, added)).fetchone()
            if views >= self.totals_after:
                enough.add(owner)
                if not totals:
                    _backfill_creator(db, owner)
        for video_id, owner in growing.items():
            if owner not in enough:
                continue  # a video has no more views than its owner
            (views,) = db.execute(
                "SELECT COUNT(*) FROM studio_watches WHERE video_id = ?", (video_id,)
            ).fetchone()
            if views >= self.totals_after:
                _backfill_video(db, video_id)
        self.clear()

    def _known(
        self, db: sqlite3.Connection
    ) -> tuple[dict[str, tuple[str, int, int]], dict[str, bool]]:
        """The changed videos known before this transaction → (owner,
        duration, has totals), and every owner concerned → has totals."""
        known: dict[str, tuple[str, int, int]] = {}
        creators: dict[str, bool] = {}
        ids = list({video_id for video_id, *_ in self.changes if video_id not in self.uploaded})
        for marks, piece in _chunks(ids):
            for video_id, owner, duration, totals, creator_totals in db.execute(
                "SELECT v.video_id, v.owner_id, v.duration_ms, v.totals, COALESCE(c.totals, 0) "
                "FROM studio_videos v LEFT JOIN studio_creators c ON c.owner_id = v.owner_id "
                f"WHERE v.video_id IN ({marks})",
                piece,
            ):
                known[video_id] = (owner, duration, totals)
                creators[owner] = bool(creator_totals)
        others = list({owner for owner, _ in self.uploaded.values()} - creators.keys())
        creators.update(dict.fromkeys(others, False))
        for marks, piece in _chunks(others):
            for owner, totals in db.execute(
                f"SELECT owner_id, totals FROM studio_creators WHERE owner_id IN ({marks})", piece
            ):
                creators[owner] = bool(totals)
        return known, creators

    def clear(self) -> None:
        self.changes.clear()
        self.uploaded.clear()


def _write_owners(db: sqlite3.Connection, owners: dict[tuple[str, int], list[int]]) -> None:
    """Add what (owner, window)s changed by to their windows and their hours."""
    db.executemany(_UPSERT, [(o, b, *t[: len(_ADDED)]) for (o, b), t in owners.items()])
    hours: dict[tuple[str, int], list[int]] = {}
    for (owner, bucket), total in owners.items():
        hour = hours.setdefault((owner, bucket // WINDOWS_PER_HOUR), [0] * len(_ADDED))
        for n in range(len(_ADDED)):
            hour[n] += total[n]
    db.executemany(_UPSERT_HOUR, [(o, h, *t) for (o, h), t in hours.items()])


def _backfill_creator(db: sqlite3.Connection, owner: str) -> None:
    """Give ``owner`` totals from every view of its known videos, at once:
    the totals it would have had from its first view on, kept
    incrementally from now on."""
    sums: dict[tuple[str, int], list[int]] = {}
    seen: dict[str, list[int]] = {}
    for bucket, viewer, watched, done, source, duration in db.execute(
        "SELECT w.bucket, w.viewer_id, w.watched_ms, w.completed, w.source, v.duration_ms "
        "FROM studio_videos v JOIN studio_watches w ON w.video_id = v.video_id "
        "WHERE v.owner_id = ?",
        (owner,),
    ):
        _add(sums, (owner, bucket), _counts((watched, done, source), duration), 1)
        seen.setdefault(viewer, []).append(bucket)
    _write_owners(db, sums)
    rows = []
    for viewer, buckets in seen.items():
        previous = -1
        for bucket in sorted(set(buckets)):
            rows.append((owner, bucket, viewer, previous))
            previous = bucket
    db.executemany("INSERT INTO studio_viewers VALUES (?, ?, ?, ?)", rows)
    db.execute("UPDATE studio_creators SET totals = 1 WHERE owner_id = ?", (owner,))


def _backfill_video(db: sqlite3.Connection, video_id: str) -> None:
    """Give a known video totals from all its views, at once."""
    (duration,) = db.execute(
        "SELECT duration_ms FROM studio_videos WHERE video_id = ?", (video_id,)
    ).fetchone()
    sums: dict[tuple[str, int], list[int]] = {}
    for bucket, _, watched, done, source in db.execute(_ROWS + "WHERE video_id = ?", (video_id,)):
        _add(sums, (video_id, bucket), _counts((watched, done, source), duration), 1)
    db.executemany(_UPSERT_VIDEO, [(v, b, *t) for (v, b), t in sums.items()])
    db.execute("UPDATE studio_videos SET totals = 1 WHERE video_id = ?", (video_id,))


def add_view(
    db: sqlite3.Connection, pending: Pending, video_id: str, bucket: int, viewer: str,
    old: Row | None, new: Row,
) -> None:  # fmt: skip
    """Count the change of one view's row from ``old`` (None: a new view)
    to ``new`` at the flush: in the totals of its owner and of its video
    where they are kept, and towards ``totals_after`` if new — if its video
    is known by then."""
    if old != new:
        pending.changes.append((video_id, bucket, viewer, old, new))


def add_video(
    db: sqlite3.Connection, pending: Pending, video_id: str, owner: str, duration_ms: int
) -> None:
    """Learn a video's owner and duration from its upload (the first one
    applied); at the flush, its views applied before count towards its
    owner's totals and its own."""
    inserted = db.execute(
        "INSERT INTO studio_videos VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING",
        (video_id, owner, duration_ms),
    ).rowcount
    if inserted:
        pending.uploaded[video_id] = (owner, duration_ms)


def summed_columns(qualified_ms: int, steps: bool) -> list[str]:
    """The columns of a table of totals a read sums, in
    :class:`~stormproof.views.studio_reads.Window`'s order: views, watch
    time, completions, shares watched, the views qualified under
    ``qualified_ms`` (on the ladder), views by source, then (``steps``: a
    video's) views by retention step."""
    return [*_ADDED[:4], qualified_column(qualified_ms), *_S, *(_R if steps else ())]


def qualified_column(qualified_ms: int) -> str:
    """The column counting views qualified under ``qualified_ms`` (on the ladder)."""
    return _Q[QUALIFIED_LADDER.index(qualified_ms)]
