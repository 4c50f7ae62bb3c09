"""90 days of uptime per component, overall and per region, read from the
status view's daily rows (ADR 023).

The window ends on the day of the newest round the view holds — the page is
"as of" the position it was read at, like the rest of it, so every region
at one position shows the same bars — or today when there is none. A day
without a row had no round judged: the page shows it as "no data", not as
up.

A **blackout** — a span no region recorded a probe round in (ADR 021) —
has no rounds to count: its incident's span, less the last round before it
(which counts itself), is added to every component's days when read, as
judged and down in every region.

A day's **share down** is the share of its judged time the component was
down: in a region, failing there; overall, failing in at least one region
(``down_ms``: in every region, plus ``partial_ms``: in some). Its **level**
colours its bar (:func:`level`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Literal

from stormproof.clock import now_ms
from stormproof.views import incidents, status, uptime
from stormproof.views.uptime import DAY_MS, OVERALL, Tally

__all__ = ["DAYS", "Day", "Level", "Uptime", "Window", "level", "read_uptime"]

#: days shown
DAYS = 90

Level = Literal["no_data", "up", "minor", "major", "down"]
#: a day's share down at or below each is that level (above the last: "down")
_LEVELS: tuple[tuple[float, Level], ...] = (
    (0.0, "up"),
    (0.01, "minor"),  # up to ~14 minutes of a whole day
    (0.10, "major"),  # up to ~2.4 hours
)


@dataclass(frozen=True)
class Day:
    date: dt.date
    rounds: int
    judged_ms: int
    #: overall: in every region; in a region: there
    down_ms: int
    #: overall: in some regions, not all; in a region: 0
    partial_ms: int

    @property
    def share_down(self) -> float:
        return (self.down_ms + self.partial_ms) / self.judged_ms if self.judged_ms else 0.0


@dataclass(frozen=True)
class Window:
    """One row of bars: the days with data among the window's, oldest first."""

    days: list[Day]

    @property
    def judged_ms(self) -> int:
        return sum(d.judged_ms for d in self.days)

    @property
    def uptime(self) -> float | None:
        """The share of the judged time it was up (None: nothing judged)."""
        judged = self.judged_ms
        if not judged:
            return None
        return 1 - sum(d.down_ms + d.partial_ms for d in self.days) / judged


@dataclass(frozen=True)
class Uptime:
    first: dt.date
    last: dt.date
    #: component -> its window overall
    overall: dict[str, Window]
    #: component -> region -> its window there
    regions: dict[str, dict[str, Window]]

    def dates(self) -> list[dt.date]:
        """Every day of the window, oldest first."""
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def level(day: Day | None) -> Level:
    """How a day's bar is coloured: by its share down."""
    if day is None:
        return "no_data"
    share = day.share_down
    for most, name in _LEVELS:
        if share <= most:
            return name
    return "down"


def read_uptime(db: sqlite3.Connection, *, days: int = DAYS) -> Uptime:
    """Every judged component's last ``days`` days, overall and per region:
    a lookup per component and region, a row per day at most."""
    newest = status.newest_round(db)
    last_day = (now_ms() if newest is None else newest) // DAY_MS
    first_day = last_day - days + 1
    unjudged = _blackouts(db, first_day, last_day)
    overall: dict[str, Window] = {}
    regions: dict[str, dict[str, Window]] = {}
    for region, component in status.judged_pairs(db):
        if component not in overall:
            overall[component] = _window(db, component, OVERALL, unjudged, first_day, last_day)
        window = _window(db, component, region, unjudged, first_day, last_day)
        regions.setdefault(component, {})[region] = window
    return Uptime(_date(first_day), _date(last_day), overall, regions)


def _blackouts(db: sqlite3.Connection, first_day: int, last_day: int) -> dict[int, int]:
    """Day -> the time blackouts took of it that no round counted."""
    taken: dict[int, int] = {}
    for began, resumed in incidents.blackouts(db, ending_after=first_day * DAY_MS):
        start = began + (status.round_period(db, began) or 0)
        for day in range(max(first_day, start // DAY_MS), min(last_day, resumed // DAY_MS) + 1):
            part = min(resumed, (day + 1) * DAY_MS) - max(start, day * DAY_MS)
            if part > 0:
                taken[day] = taken.get(day, 0) + part
    return taken


def _window(
    db: sqlite3.Connection,
    component: str,
    region: str,
    unjudged: dict[int, int],
    first_day: int,
    last_day: int,
) -> Window:
    counted = {
        row.day: row.tally for row in uptime.days(db, component, region, first_day, last_day)
    }
    days = []
    for day in sorted(counted.keys() | unjudged.keys()):
        tally, down = counted.get(day, Tally()), unjudged.get(day, 0)
        days.append(
            Day(_date(day), tally.rounds, tally.judged_ms + down, tally.down_ms + down,
                tally.partial_ms)
        )  # fmt: skip
    return Window(days)


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)
