"""Uptime by day, kept by the status view as it judges rounds (ADR 023).

The status page shows 90 days of uptime per component, overall and per
region. Reading that from the verdicts would count up to 90 days of 8,640 rounds
per bar; so the status view keeps, for each (component, region, UTC day),
how many rounds were judged and how long the component was down — and a
read of 90 days is 90 rows by primary key.

**What a round adds to its day** (:func:`tally`). A round stands for its
period (``period_ms``, the smallest any prober of the round reported: two
probers on different periods still count each stretch once), and belongs to
the day its ``round_at`` falls in, UTC. For a component in a region: the
round's time is judged, and down when its verdict failed. For a component
overall (the row whose region is :data:`OVERALL`): down when it failed in
every region judged that round, *partly down* when in some but not every.

**The same in every region.** A round's verdicts may change until every
prober's result for it arrived; each time the view judges a round again it
takes back what the round added before (the verdicts it stored, the weight
it recorded in ``round_weights``) and adds what it adds now
(:func:`adjust`). So a day's row is always the sum over its rounds' current
verdicts — a function of the set of results applied, never of their order —
and a late result that flips a round moves its day's figures the same way
everywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "DAY_MS",
    "OVERALL",
    "SCHEMA",
    "TABLES",
    "DayRow",
    "Tally",
    "adjust",
    "days",
    "tally",
    "weight_of",
]

DAY_MS = 86_400_000
#: the region column of a component's rows over all its regions
OVERALL = ""

SCHEMA = """
CREATE TABLE IF NOT EXISTS round_weights (
    round_at INTEGER PRIMARY KEY,
    period_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uptime_days (
    component TEXT NOT NULL,
    region TEXT NOT NULL,
    day INTEGER NOT NULL,
    rounds INTEGER NOT NULL,
    judged_ms INTEGER NOT NULL,
    down_ms INTEGER NOT NULL,
    partial_ms INTEGER NOT NULL,
    PRIMARY KEY (component, region, day)
) WITHOUT ROWID;
"""
TABLES = ("round_weights", "uptime_days")

_ADD = """
INSERT INTO uptime_days VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET rounds = rounds + excluded.rounds,
    judged_ms = judged_ms + excluded.judged_ms, down_ms = down_ms + excluded.down_ms,
    partial_ms = partial_ms + excluded.partial_ms
"""


@dataclass(frozen=True)
class Tally:
    """What rounds add to a day of one component (in a region, or overall)."""

    rounds: int = 0
    judged_ms: int = 0
    #: in a region: failing; overall: failing in every region judged
    down_ms: int = 0
    #: overall only: failing in some regions judged, not all
    partial_ms: int = 0

    def minus(self, other: Tally) -> Tally:
        return Tally(
            self.rounds - other.rounds,
            self.judged_ms - other.judged_ms,
            self.down_ms - other.down_ms,
            self.partial_ms - other.partial_ms,
        )


def tally(
    verdicts: Iterable[tuple[str, str, bool]], weight_ms: int
) -> dict[tuple[str, str], Tally]:
    """What one round adds, by (component, region), from its (region,
    component, failing) verdicts and the time the round stands for."""
    added: dict[tuple[str, str], Tally] = {}
    by_component: dict[str, list[bool]] = {}
    for region, component, failing in verdicts:
        added[component, region] = Tally(1, weight_ms, weight_ms if failing else 0)
        by_component.setdefault(component, []).append(failing)
    for component, outcomes in by_component.items():
        everywhere, somewhere = all(outcomes), any(outcomes)
        added[component, OVERALL] = Tally(
            1,
            weight_ms,
            weight_ms if everywhere else 0,
            weight_ms if somewhere and not everywhere else 0,
        )
    return added


def weight_of(db: sqlite3.Connection, round_at: int) -> int:
    """The time the round's stored verdicts stood for when last counted (0: none)."""
    row = db.execute("SELECT period_ms FROM round_weights WHERE round_at = ?", (round_at,))
    found = row.fetchone()
    return 0 if found is None else int(found[0])


def adjust(
    db: sqlite3.Connection,
    round_at: int,
    weight_ms: int,
    before: Mapping[tuple[str, str], Tally],
    after: Mapping[tuple[str, str], Tally],
) -> None:
    """Move the round's day from what it added ``before`` to what it adds
    ``after`` (counted with ``weight_ms``), dropping rows left with no round."""
    day = round_at // DAY_MS
    changes = []
    for component, region in sorted(before.keys() | after.keys()):
        change = after.get((component, region), Tally()).minus(
            before.get((component, region), Tally())
        )
        if change != Tally():
            changes.append((component, region, day, *vars(change).values()))
    db.executemany(_ADD, changes)
    db.executemany(
        "DELETE FROM uptime_days WHERE component = ? AND region = ? AND day = ? AND rounds = 0",
        [row[:3] for row in changes],
    )
    db.execute(
        "INSERT INTO round_weights VALUES (?, ?) ON CONFLICT DO UPDATE SET period_ms = ?",
        (round_at, weight_ms, weight_ms),
    )


# -- reads: by primary key, one row a day ------------------------------------


@dataclass(frozen=True)
class DayRow:
    day: int
    tally: Tally


def days(
    db: sqlite3.Connection, component: str, region: str, first_day: int, last_day: int
) -> list[DayRow]:
    """The days from ``first_day`` to ``last_day`` (days since 1970-01-01,
    UTC) that have rounds, oldest first."""
    rows = db.execute(
        "SELECT day, rounds, judged_ms, down_ms, partial_ms FROM uptime_days "
        "WHERE component = ? AND region = ? AND day BETWEEN ? AND ? ORDER BY day",
        (component, region, first_day, last_day),
    ).fetchall()
    return [DayRow(day, Tally(*counts)) for day, *counts in rows]
