"""Studio reads: what a creator's or a video's views add up to, over
spans of 10-minute windows — from the totals the studio keeps for it
(:mod:`stormproof.views.studio_totals`) when it has them and the qualifying
threshold is on their ladder, else from its views' rows, by the same
queries giving the same row shape (ADR 030, amendments "Totals only where
they pay" and "A dense creator's totals by hour too").

Each span is summed by its own range scan of a table's key, the spans of a
read joined by ``UNION ALL`` (:func:`_each_span`): no join with a table of
spans grouped through a temporary B-tree. A creator with totals is read by
hour, and by window at the ends of a span that begins or ends in mid-hour.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from stormproof.events import WATCH_SOURCES
from stormproof.views.engagement import WINDOW_MS
from stormproof.views.studio_totals import (
    DAY_MS,
    MILLIONTH,
    QUALIFIED_LADDER,
    STEPS,
    WINDOWS_PER_HOUR,
    qualified_column,
    summed_columns,
)

__all__ = [
    "Window",
    "creator_has_totals",
    "creator_spans",
    "creator_viewers",
    "qualified_days",
    "qualified_windows",
    "video_has_totals",
    "video_spans",
    "video_viewers",
]


def creator_has_totals(db: sqlite3.Connection, owner: str) -> bool:
    """Whether ``owner`` has totals (it reached ``totals_after`` views)."""
    row = db.execute("SELECT totals FROM studio_creators WHERE owner_id = ?", (owner,)).fetchone()
    return bool(row and row[0])


def video_has_totals(db: sqlite3.Connection, video_id: str) -> bool:
    """Whether ``video_id`` has totals (it reached ``totals_after`` views)."""
    row = db.execute("SELECT totals FROM studio_videos WHERE video_id = ?", (video_id,)).fetchone()
    return bool(row and row[0])


class Window:
    """What views in some windows add up to."""

    __slots__ = (
        "completed", "qualified", "reached", "share_millionths", "sources", "views", "watched",
    )  # fmt: skip

    def __init__(self, row: Sequence[int]) -> None:
        """``row``: the sums of views, watch time, completions, shares
        watched, the qualified views, views by source, then any retention steps."""
        views, watched, completed, share, qualified, *rest = row
        self.views, self.watched, self.completed = views, watched, completed
        self.share_millionths, self.qualified = share, qualified
        sources = rest[: len(WATCH_SOURCES)]
        self.sources = {s: n for s, n in zip(WATCH_SOURCES, sources, strict=True) if n}
        #: a video's views by the highest retention step they reached; () for a creator
        self.reached = tuple(rest[len(WATCH_SOURCES) :])


#: spans one statement sums (SQLite compounds at most 500 SELECTs)
_SPANS_AT_A_TIME = 400


def _each_span(
    db: sqlite3.Connection, body: str, spans: list[tuple[int, int]],
    args: Callable[[int, int], tuple[object, ...]],
) -> dict[int, tuple[Any, ...]]:  # fmt: skip
    """``SELECT i, body`` for the ``i``-th of ``spans``, each bound to
    ``args(low, high)``, as one ``UNION ALL`` per :data:`_SPANS_AT_A_TIME`:
    a range scan of the table's key per span, added up as it goes — no
    join with a table of spans grouped through a temporary B-tree (half
    the time, docs/benchmarks.md). The text depends only on how many spans
    there are, so a repeated read reuses its compiled statement. Span
    index → the rest of its row."""
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(spans), _SPANS_AT_A_TIME):
        chunk = spans[start : start + _SPANS_AT_A_TIME]
        query = " UNION ALL ".join(f"SELECT {start + n}, {body}" for n in range(len(chunk)))
        bound = [x for low, high in chunk for x in args(low, high)]
        found.update((i, tuple(rest)) for i, *rest in db.execute(query, bound))
    return found


def _from_totals(qualified_ms: int, steps: bool) -> list[str]:
    """A window's figures (:class:`Window`'s order) summed from a table of totals ``w``."""
    return [f"SUM(w.{c})" for c in summed_columns(qualified_ms, steps)]


def _from_rows(qualified_ms: int, steps: bool) -> list[str]:
    """The same figures counted from the rows of :data:`_ROWS_OF` (what
    :func:`_counts` adds up, in SQL)."""
    return [
        "COUNT(*)", "SUM(watched_ms)", "SUM(completed)", "SUM(share)",
        f"SUM(completed = 1 OR watched_ms >= {int(qualified_ms)})",
        *(f"SUM(source = '{source}')" for source in WATCH_SOURCES),
        *((f"SUM(step = {k})" for k in range(STEPS)) if steps else ()),
    ]  # fmt: skip


_FULL = "(w.completed = 1 OR v.duration_ms <= 0)"
_PART = "MIN(w.watched_ms, v.duration_ms)"
#: each view of the videos whose ``{key}`` is ``?`` in windows ``[?, ?)``,
#: with its share watched and retention step (integers divide as Python's
#: ``//`` for these non-negative values); ``LIMIT -1`` keeps SQLite from
#: flattening it into the sums, which would compute the step once per sum
_ROWS_OF = (
    "SELECT w.watched_ms AS watched_ms, w.completed AS completed, w.source AS source, "
    f"CASE WHEN {_FULL} THEN {MILLIONTH} ELSE {_PART} * {MILLIONTH} / v.duration_ms END AS share, "
    f"CASE WHEN {_FULL} THEN {STEPS - 1} ELSE {_PART} * {STEPS - 1} / v.duration_ms END AS step "
    "FROM studio_videos v JOIN studio_watches w ON w.video_id = v.video_id "
    "WHERE v.{key} = ? AND w.bucket >= ? AND w.bucket < ? LIMIT -1"
)


def _sums(
    db: sqlite3.Connection, key: tuple[str, str], totals: bool, spans: list[tuple[int, int]],
    qualified_ms: int,
) -> dict[int, Window]:  # fmt: skip
    """``key``: ("owner_id", a creator) or ("video_id", a video)."""
    steps = key[0] == "video_id"
    if totals:
        # only the columns a read shows: each summed column costs every row
        table = "studio_video_windows" if steps else "studio_windows"
        body = (
            f"{', '.join(_from_totals(qualified_ms, steps))} FROM {table} w "
            f"WHERE w.{key[0]} = ? AND w.bucket >= ? AND w.bucket < ?"
        )
    else:
        rows = _ROWS_OF.format(key=key[0])
        body = f"{', '.join(_from_rows(qualified_ms, steps))} FROM ({rows})"
    found = _each_span(db, body, spans, lambda low, high: (key[1], low, high))
    # a span without views sums to NULLs (or counts 0 views): absent, as none
    return {i: Window(row) for i, row in found.items() if row[0]}


def _hours_and_windows(
    spans: list[tuple[int, int]],
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """Each ``(low, high)`` window range of ``spans`` as the whole hours in
    it and the windows at its ends outside them (a day in a zone at +5:30
    or +5:45 begins and ends in mid-hour): ``(span index, low, high)`` of
    hours, and of windows."""
    hours, windows = [], []
    for i, (low, high) in enumerate(spans):
        first = -(-low // WINDOWS_PER_HOUR)
        last = high // WINDOWS_PER_HOUR
        if first >= last:
            windows.append((i, low, high))
            continue
        hours.append((i, first, last))
        for a, b in ((low, first * WINDOWS_PER_HOUR), (last * WINDOWS_PER_HOUR, high)):
            if a < b:
                windows.append((i, a, b))
    return hours, windows


def _creator_totals(
    db: sqlite3.Connection, owner: str, spans: list[tuple[int, int]], qualified_ms: int
) -> dict[int, Window]:
    """:func:`creator_spans` from the creator's totals: by hour, and by
    window where a span begins or ends in mid-hour."""
    figures = ", ".join(_from_totals(qualified_ms, False))
    sums: dict[int, list[int]] = {}
    for part, (table, unit) in zip(
        _hours_and_windows(spans),
        (("studio_hours", "hour"), ("studio_windows", "bucket")),
        strict=True,
    ):
        found = _each_span(
            db,
            f"{figures} FROM {table} w WHERE w.owner_id = ? AND w.{unit} >= ? AND w.{unit} < ?",
            [(low, high) for _, low, high in part],
            lambda low, high: (owner, low, high),
        )
        for n, row in found.items():
            if row[0]:
                total = sums.setdefault(part[n][0], [0] * len(row))
                for k, value in enumerate(row):
                    total[k] += value
    return {i: Window(total) for i, total in sums.items()}


def creator_spans(
    db: sqlite3.Connection, owner: str, spans: list[tuple[int, int]], qualified_ms: int
) -> dict[int, Window]:
    """The figures of ``owner``'s views in windows numbered ``[low, high)``,
    for each ``(low, high)`` of ``spans`` with any (by its index), added up
    by SQLite: from its totals when it has them and ``qualified_ms`` is on
    their ladder (by hour, and by window at the spans' ends), else from its
    views' rows — the same figures."""
    if qualified_ms in QUALIFIED_LADDER and creator_has_totals(db, owner):
        return _creator_totals(db, owner, spans, qualified_ms)
    return _sums(db, ("owner_id", owner), False, spans, qualified_ms)


def video_spans(
    db: sqlite3.Connection, video_id: str, spans: list[tuple[int, int]], qualified_ms: int
) -> dict[int, Window]:
    """:func:`creator_spans` of one video, with its views' retention steps."""
    totals = qualified_ms in QUALIFIED_LADDER and video_has_totals(db, video_id)
    return _sums(db, ("video_id", video_id), totals, spans, qualified_ms)


def _distinct(
    db: sqlite3.Connection, key: tuple[str, str], spans: list[tuple[int, int]]
) -> list[int]:
    """People who viewed in each of ``spans``, from the rows of the videos
    whose ``key[0]`` is ``key[1]``."""
    found = _each_span(
        db,
        "COUNT(DISTINCT w.viewer_id) FROM studio_videos v JOIN studio_watches w "
        f"ON w.video_id = v.video_id WHERE v.{key[0]} = ? AND w.bucket >= ? AND w.bucket < ?",
        spans,
        lambda low, high: (key[1], low, high),
    )
    return [found[i][0] for i in range(len(spans))]


def creator_viewers(
    db: sqlite3.Connection, owner: str, days: list[tuple[int, int]]
) -> tuple[list[int], int]:
    """How many people viewed ``owner``'s videos in the windows numbered
    ``[low, high)`` of each of ``days`` — which follow one another — and
    over all of them. With totals: the rows of ``studio_viewers`` there
    whose viewer's previous window is before the day's ``low`` (the first
    day's, for all), counted by SQLite in one pass; without, a DISTINCT
    over its views' rows (fewer than ``totals_after``)."""
    if not creator_has_totals(db, owner):
        *per_day, whole = _distinct(db, ("owner_id", owner), [*days, (days[0][0], days[-1][1])])
        return per_day, whole
    since = days[0][0]
    found = _each_span(
        db,
        "SUM(previous < ?), SUM(previous < ?) FROM studio_viewers "
        "WHERE owner_id = ? AND bucket >= ? AND bucket < ?",
        days,
        lambda low, high: (low, since, owner, low, high),
    )
    per_day = [found[i][0] or 0 for i in range(len(days))]
    return per_day, sum(whole or 0 for _, whole in found.values())


def video_viewers(db: sqlite3.Connection, video_id: str, spans: list[tuple[int, int]]) -> list[int]:
    """How many people viewed ``video_id`` in each of ``spans``, counted
    from the studio's rows (one per view) by SQLite."""
    return _distinct(db, ("video_id", video_id), spans)


def qualified_days(
    db: sqlite3.Connection, owner: str, parts: Sequence[tuple[int, int, int]], qualified_ms: int
) -> list[tuple[int, int]]:
    """(day, qualified views) of ``owner``'s windows in the ranges ``(low,
    high, shift)`` of ``parts``, a window numbered ``b`` falling on day
    ``(b * WINDOW_MS + shift) // 86,400,000``, for the days with any, added
    up by SQLite (the ledger, :mod:`stormproof.creators.offsets`): from the
    totals when the creator has them and ``qualified_ms`` is on their
    ladder, else from the rows."""
    values = ", ".join("(?, ?, ?)" for _ in parts)
    day = f"(w.bucket * {WINDOW_MS} + p.shift) / {DAY_MS}"
    args = (*(x for part in parts for x in part), owner)
    if qualified_ms in QUALIFIED_LADDER and creator_has_totals(db, owner):
        column = qualified_column(qualified_ms)
        return db.execute(
            f"WITH parts(low, high, shift) AS (VALUES {values}) "
            f"SELECT {day} AS day, SUM(w.{column}) FROM parts p JOIN studio_windows w "
            f"ON w.owner_id = ? AND w.bucket >= p.low AND w.bucket < p.high "
            f"WHERE w.{column} > 0 GROUP BY day ORDER BY day",
            args,
        ).fetchall()
    return db.execute(
        f"WITH parts(low, high, shift) AS (VALUES {values}) "
        f"SELECT {day} AS day, COUNT(*) FROM parts p JOIN studio_videos v ON v.owner_id = ? "
        "JOIN studio_watches w ON w.video_id = v.video_id AND w.bucket >= p.low "
        "AND w.bucket < p.high WHERE w.completed = 1 OR w.watched_ms >= ? "
        "GROUP BY day ORDER BY day",
        (*args, qualified_ms),
    ).fetchall()


def qualified_windows(
    db: sqlite3.Connection, owner: str, low: int, high: int, qualified_ms: int
) -> list[tuple[int, int]]:
    """(window number, qualified views) of ``owner``'s windows numbered
    ``[low, high)`` with any: from the totals when the creator has them
    and ``qualified_ms`` is on their ladder, else from the rows."""
    if qualified_ms in QUALIFIED_LADDER and creator_has_totals(db, owner):
        column = qualified_column(qualified_ms)
        return db.execute(
            f"SELECT bucket, {column} FROM studio_windows "
            f"WHERE owner_id = ? AND bucket >= ? AND bucket < ? AND {column} > 0 ORDER BY bucket",
            (owner, low, high),
        ).fetchall()
    return db.execute(
        "SELECT w.bucket, COUNT(*) FROM studio_videos v JOIN studio_watches w "
        "ON w.video_id = v.video_id AND w.bucket >= ? AND w.bucket < ? "
        "WHERE v.owner_id = ? AND (w.completed = 1 OR w.watched_ms >= ?) "
        "GROUP BY w.bucket ORDER BY w.bucket",
        (low, high, owner, qualified_ms),
    ).fetchall()
