"""90 days of uptime read from the status view: the window, the shares, the
colours — a row a day, never the rounds."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from stormproof.status.uptime import DAYS, Day, level, read_uptime
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from tests.status.probes import PERIOD, entry, probes

PROBERS = ("east", "north", "west")
TODAY = dt.date(2025, 11, 24)  # the day of tests.status.probes.T0


def _store(path: Path, west_failing: range, rounds: int = 10, start: int = 0) -> ViewStore:
    store = ViewStore(path, all_views())
    entries = []
    for n in range(start, start + rounds):
        failing = {"west"} if n in west_failing else set()
        for prober in PROBERS:
            entries.append(entry(0, len(entries) + 1, probes(prober, n, failing=failing)))
    store.apply(entries)
    return store


def test_the_window_ends_on_the_newest_rounds_day_and_skips_days_without_data(
    tmp_path: Path,
) -> None:
    found = read_uptime(_store(tmp_path / "views.sqlite", range(2, 5)).reader())
    assert (found.first, found.last) == (TODAY - dt.timedelta(days=DAYS - 1), TODAY)
    assert len(found.dates()) == DAYS
    assert sorted(found.overall) == ["for_you", "sign_in"]
    [west] = found.regions["sign_in"]["west"].days
    assert west == Day(TODAY, rounds=10, judged_ms=10 * PERIOD, down_ms=3 * PERIOD, partial_ms=0)
    assert found.regions["sign_in"]["west"].uptime == pytest.approx(0.7)
    assert found.regions["sign_in"]["east"].uptime == 1.0
    [overall] = found.overall["sign_in"].days
    assert (overall.down_ms, overall.partial_ms) == (0, 3 * PERIOD)
    assert found.overall["sign_in"].uptime == pytest.approx(0.7)


def test_days_before_the_window_are_left_out(tmp_path: Path) -> None:
    # Rounds on T0's day, then DAYS days later: the first day falls out.
    store = _store(tmp_path / "views.sqlite", range(0, 1), rounds=1)
    later = (DAYS * 86_400_000) // PERIOD
    extra = [entry(0, 4 + n, probes(p, later)) for n, p in enumerate(PROBERS)]
    store.apply(extra)
    found = read_uptime(store.reader())
    assert found.last == TODAY + dt.timedelta(days=DAYS)
    assert [d.date for d in found.regions["sign_in"]["west"].days] == [found.last]
    assert found.regions["sign_in"]["west"].uptime == 1.0


def test_an_empty_view_has_no_components_and_a_window_ending_today(tmp_path: Path) -> None:
    store = ViewStore(tmp_path / "views.sqlite", all_views())
    before = dt.datetime.now(dt.UTC).date()
    found = read_uptime(store.reader())
    after = dt.datetime.now(dt.UTC).date()
    assert found.overall == {} and found.regions == {}
    assert found.last in (before, after) and len(found.dates()) == DAYS


@pytest.mark.parametrize(
    ("down_ms", "partial_ms", "shade"),
    [
        (0, 0, "up"),
        (1, 0, "minor"),
        (864_000, 0, "minor"),  # 1 % of a day
        (864_001, 0, "major"),
        (0, 8_640_000, "major"),  # down in some region 10 % of the day
        (8_640_001, 0, "down"),
        (86_400_000, 0, "down"),
    ],
)
def test_a_days_colour_is_by_its_share_down(down_ms: int, partial_ms: int, shade: str) -> None:
    day = Day(TODAY, rounds=8640, judged_ms=86_400_000, down_ms=down_ms, partial_ms=partial_ms)
    assert level(day) == shade
    assert level(None) == "no_data"


def test_ninety_days_are_read_a_row_a_day(tmp_path: Path) -> None:
    store = _store(tmp_path / "views.sqlite", range(0, 5), rounds=40)
    db = store.reader()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        read_uptime(db)
    finally:
        db.set_trace_callback(None)
    plain = sqlite3.connect(store.path)
    plans = [
        row[3]
        for statement in statements
        if "uptime_days" in statement
        for row in plain.execute(f"EXPLAIN QUERY PLAN {statement}")
    ]
    assert plans and all(p.startswith("SEARCH uptime_days USING PRIMARY KEY") for p in plans)
