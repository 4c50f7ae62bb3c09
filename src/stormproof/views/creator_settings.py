"""Creator settings: a person's time zone, and whether they opted in to
earnings (issue 15; ADR 031).

Every change is kept as a row of its own, and a setting holds what the
latest change of it by ``(at, event id)`` said: the same answer in every
region whatever order the partitions arrive in (as roles, ADR 021). Earnings
need the history, not only the latest value: a view earns when the creator
was enrolled at its time.
"""

from __future__ import annotations

import sqlite3

from stormproof.events import EarningsEnrolled, TimeZoneSet
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "DEFAULT_ZONE",
    "CreatorSettingsView",
    "enrolled_creators",
    "enrolled_spans",
    "enrollment_changes",
    "time_zone",
]

#: the zone of anyone who did not choose one
DEFAULT_ZONE = "UTC"
_ZONE, _ENROLLED = "time_zone", "earnings"


class CreatorSettingsView(View):
    name = "creator_settings"
    tables = ("creator_settings",)
    schema = """
    CREATE TABLE IF NOT EXISTS creator_settings (
        user_id TEXT NOT NULL,
        setting TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, setting, at, eid)
    ) WITHOUT ROWID;
    """

    def on_account_time_zone_set(
        self, db: sqlite3.Connection, entry: Entry, p: TimeZoneSet
    ) -> None:
        _change(db, entry, _ZONE, p.zone)

    def on_earnings_enrolled(
        self, db: sqlite3.Connection, entry: Entry, p: EarningsEnrolled
    ) -> None:
        _change(db, entry, _ENROLLED, "1" if p.enrolled else "0")


def _change(db: sqlite3.Connection, entry: Entry, setting: str, value: str) -> None:
    event = entry.event
    db.execute(
        "INSERT INTO creator_settings VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (event.actor, setting, event.at, event.id, value),
    )


def time_zone(db: sqlite3.Connection, user_id: str) -> str:
    """The zone ``user_id`` chose last, UTC if none."""
    row = db.execute(
        "SELECT value FROM creator_settings WHERE user_id = ? AND setting = ? "
        "ORDER BY at DESC, eid DESC LIMIT 1",
        (user_id, _ZONE),
    ).fetchone()
    return str(row[0]) if row else DEFAULT_ZONE


def enrollment_changes(db: sqlite3.Connection, user_id: str) -> list[tuple[int, bool]]:
    """Every opt-in and opt-out of ``user_id``, (at, enrolled), in order."""
    rows = db.execute(
        "SELECT at, value FROM creator_settings WHERE user_id = ? AND setting = ? ORDER BY at, eid",
        (user_id, _ENROLLED),
    ).fetchall()
    return [(at, value == "1") for at, value in rows]


def enrolled_spans(db: sqlite3.Connection, user_id: str) -> list[tuple[int, int | None]]:
    """The spans ``[start, end)`` (unix ms; end None: still) in which
    ``user_id`` was enrolled in earnings."""
    spans: list[tuple[int, int | None]] = []
    start: int | None = None
    for at, enrolled in enrollment_changes(db, user_id):
        if enrolled and start is None:
            start = at
        elif not enrolled and start is not None:
            spans.append((start, at))
            start = None
    if start is not None:
        spans.append((start, None))
    return spans


def enrolled_creators(db: sqlite3.Connection) -> list[str]:
    """Everyone who ever opted in to earnings, by id."""
    rows = db.execute(
        "SELECT DISTINCT user_id FROM creator_settings WHERE setting = ? AND value = '1' "
        "ORDER BY user_id",
        (_ENROLLED,),
    ).fetchall()
    return [user_id for (user_id,) in rows]
