"""A time zone's UTC offset over a run of 10-minute windows, so that SQLite
can put each window on its local day with arithmetic alone (ADR 031,
amendment "Accruals grouped by day in SQLite").

A window falls on the local day its start falls on: the date of its start
plus the zone's offset at that instant, exactly what
``datetime.fromtimestamp(start, UTC).astimezone(zone).date()`` gives. Over a
run of windows where the offset does not change, that date is
``(start + offset) // day``; :func:`offset_spans` cuts a range of windows
into such runs, and :func:`day_shift` turns an offset into the number a
query adds before dividing, so that the quotient is the date's ordinal
(``date.toordinal``) and never negative.

The offset is looked at once a day and, where two looks differ, at the
windows between them (a bisection) to find the first window of the new
offset: this assumes a zone does not change its offset and change it back
within one day, true of every zone of the tz database (changes are weeks
apart at the least). ``tests/creators/test_offsets.py`` holds the runs
equal to a window-by-window look over a year in zones with +5:45, half-hour
summer time and changes at midnight.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from stormproof.views.engagement import WINDOW_MS

__all__ = ["DAY_MS", "day_shift", "offset_spans"]

DAY_MS = 86_400_000
_WINDOW_S = WINDOW_MS // 1000
_WINDOWS_A_DAY = DAY_MS // WINDOW_MS
#: 1970-01-01 as an ordinal: a day's ordinal is this plus its days since the epoch
_EPOCH = date(1970, 1, 1).toordinal()


def _offset(zone: ZoneInfo, window: int) -> int:
    """The zone's UTC offset (ms) at the start of window number ``window``."""
    at = datetime.fromtimestamp(window * _WINDOW_S, UTC).astimezone(zone)
    offset = at.utcoffset()
    return 0 if offset is None else offset // timedelta(milliseconds=1)


def offset_spans(zone: ZoneInfo, low: int, high: int) -> list[tuple[int, int, int]]:
    """The windows numbered ``[low, high)`` as runs ``(first, end, offset
    ms)`` of constant UTC offset in ``zone``, in order, together covering
    the range (none if it is empty)."""
    if low >= high:
        return []
    spans = []
    start, current = low, _offset(zone, low)
    probe = low
    while probe < high - 1:
        ahead = min(probe + _WINDOWS_A_DAY, high - 1)
        if _offset(zone, ahead) == current:
            probe = ahead
            continue
        same, changed = probe, ahead  # the first window of another offset is in (same, changed]
        while changed - same > 1:
            middle = (same + changed) // 2
            if _offset(zone, middle) == current:
                same = middle
            else:
                changed = middle
        spans.append((start, changed, current))
        start, current, probe = changed, _offset(zone, changed), changed
    spans.append((start, high, current))
    return spans


def day_shift(offset_ms: int) -> int:
    """What to add to a window's start (unix ms) in a run of ``offset_ms``
    so that ``// DAY_MS`` gives the ordinal of its local date."""
    return offset_ms + _EPOCH * DAY_MS
