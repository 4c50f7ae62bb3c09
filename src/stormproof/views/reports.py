"""Reports of videos and comments, for the operators to read.

One person's reports of one thing share an id (it derives from the log key,
which derives from reporter, target and id), so they are one report. Should
two events with one id ever arrive, the earliest by ``(at, event id)`` is
kept — the same in every region whatever order they came in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import ReportFiled
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["Report", "ReportsView", "reports"]

_UPSERT = """
INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (report_id) DO UPDATE SET
    reporter_id = excluded.reporter_id, target = excluded.target,
    target_id = excluded.target_id, reason = excluded.reason, note = excluded.note,
    at = excluded.at, eid = excluded.eid
WHERE (excluded.at, excluded.eid) < (reports.at, reports.eid)
"""


class ReportsView(View):
    name = "reports"
    tables = ("reports",)
    schema = """
    CREATE TABLE IF NOT EXISTS reports (
        report_id TEXT PRIMARY KEY,
        reporter_id TEXT NOT NULL,
        target TEXT NOT NULL,
        target_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        note TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS reports_by_time ON reports (at, report_id);
    CREATE INDEX IF NOT EXISTS reports_by_target ON reports (target, target_id);
    """

    def on_report_filed(self, db: sqlite3.Connection, entry: Entry, p: ReportFiled) -> None:
        event = entry.event
        db.execute(
            _UPSERT,
            (p.report_id, event.actor, p.target, p.target_id, p.reason, p.note, event.at, event.id),
        )


@dataclass(frozen=True)
class Report:
    report_id: str
    reporter_id: str
    target: str
    target_id: str
    reason: str
    note: str
    at: int


def reports(db: sqlite3.Connection, *, limit: int = 100) -> list[Report]:
    """The latest reports, newest first."""
    rows = db.execute(
        "SELECT report_id, reporter_id, target, target_id, reason, note, at FROM reports "
        "ORDER BY at DESC, report_id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [Report(*row) for row in rows]
