"""A zone's offset runs put every window on the local day its start falls on,
as ``datetime.astimezone`` does, through a whole year of changes: +5:45,
half-hour summer time, clocks changed at midnight, a day skipped
(creators/offsets.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from stormproof.creators.offsets import DAY_MS, day_shift, offset_spans
from stormproof.views.engagement import WINDOW_MS


def _year(year: int) -> tuple[int, int]:
    """The windows of a UTC year, and a day more on each side."""
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000) - DAY_MS
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000) + DAY_MS
    return start // WINDOW_MS, end // WINDOW_MS


@pytest.mark.parametrize(
    ("zone", "year"),
    [
        ("Asia/Kathmandu", 1986),  # +5:30, then +5:45 from the first of January
        ("Asia/Kathmandu", 2024),
        ("Australia/Lord_Howe", 2024),  # summer time of half an hour
        ("America/Santiago", 2022),  # clocks change at midnight
        ("America/Sao_Paulo", 2018),  # midnight too, the day begins at 01:00
        ("Pacific/Apia", 2011),  # 2011-12-30 did not happen
        ("America/New_York", 2024),
        ("UTC", 2024),
    ],
)
def test_every_window_falls_on_its_local_day(zone: str, year: int) -> None:
    tz = ZoneInfo(zone)
    low, high = _year(year)
    spans = offset_spans(tz, low, high)
    assert spans[0][0] == low and spans[-1][1] == high
    assert all(a[1] == b[0] and a[2] != b[2] for a, b in pairwise(spans))
    for first, end, offset in spans:
        shift = day_shift(offset)
        for window in range(first, end):
            found = date.fromordinal((window * WINDOW_MS + shift) // DAY_MS)
            expected = datetime.fromtimestamp(window * WINDOW_MS / 1000, UTC).astimezone(tz)
            assert found == expected.date(), (zone, window)


def test_runs_of_a_short_range_and_of_none() -> None:
    tz = ZoneInfo("Europe/London")
    change = int(datetime(2024, 3, 31, 1, 0, tzinfo=UTC).timestamp() * 1000) // WINDOW_MS
    assert offset_spans(tz, change - 2, change + 3) == [
        (change - 2, change, 0),
        (change, change + 3, 3_600_000),
    ]
    assert offset_spans(tz, change, change + 1) == [(change, change + 1, 3_600_000)]
    assert offset_spans(tz, change, change) == []
