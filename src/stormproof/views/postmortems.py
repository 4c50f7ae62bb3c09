"""The postmortems view: what operators wrote into incidents' postmortems,
and what drills reported they did and measured (ADR 025).

The postmortem itself is not stored: its draft is computed when read from
the incidents and status views (``status/postmortem.py``), so every region
at one log position shows the same one. What only people can say — root
cause, lessons, action items, and whether it is published — is kept here,
every edit as a row of its own, and shown by fixed rules, never by arrival:

- each field reads as the latest edit that set it, by ``(at, event id)``;
- it is published when the latest edit that said whether says yes, since
  that edit's time.

A drill's report (``drill.reported``) is kept whole, the earliest by
``(at, event id)`` of those sharing a drill id shown, and its faults once
more as rows keyed by region and time: a postmortem finds the drills that
cut, froze or cut off one of its regions around its incident with one
indexed lookup.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from stormproof.events import ActionItem, DrillFault, DrillReported, DrillWrites, PostmortemEdited
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["Drill", "Edits", "PostmortemsView", "drills_about", "edits"]


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class PostmortemsView(View):
    name = "postmortems"
    tables = ("postmortem_edits", "drill_reports", "drill_faults")
    schema = """
    CREATE TABLE IF NOT EXISTS postmortem_edits (
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        actor TEXT NOT NULL,
        root_cause TEXT,
        lessons TEXT,
        action_items TEXT,
        published INTEGER,
        PRIMARY KEY (incident_id, at, eid)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS drill_reports (
        drill_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        actor TEXT NOT NULL,
        scenario TEXT NOT NULL,
        faults TEXT NOT NULL,
        writes TEXT,
        continuity_permille INTEGER,
        cold_start_permille INTEGER,
        PRIMARY KEY (drill_id, at, eid)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS drill_faults (
        region TEXT NOT NULL,
        at INTEGER NOT NULL,
        drill_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (region, at, drill_id, kind)
    ) WITHOUT ROWID;
    """

    def on_postmortem_edited(
        self, db: sqlite3.Connection, entry: Entry, p: PostmortemEdited
    ) -> None:
        event = entry.event
        items = None if p.action_items is None else _json([i.model_dump() for i in p.action_items])
        db.execute(
            "INSERT INTO postmortem_edits VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                p.incident_id,
                event.at,
                event.id,
                event.actor,
                p.root_cause,
                p.lessons,
                items,
                None if p.published is None else int(p.published),
            ),
        )

    def on_drill_reported(self, db: sqlite3.Connection, entry: Entry, p: DrillReported) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO drill_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                p.drill_id,
                event.at,
                event.id,
                event.actor,
                p.scenario,
                _json([f.model_dump() for f in p.faults]),
                None if p.writes is None else _json(p.writes.model_dump()),
                p.continuity_permille,
                p.cold_start_permille,
            ),
        )
        db.executemany(
            "INSERT INTO drill_faults VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(f.region, f.at, p.drill_id, f.kind) for f in p.faults],
        )


# -- reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class Edits:
    """What operators wrote into one postmortem, as shown."""

    root_cause: str = ""
    lessons: str = ""
    action_items: tuple[ActionItem, ...] = ()
    #: unix ms since when it is published; None: not published
    published_at: int | None = None
    #: when it was last edited, and by whom (None: never)
    edited_at: int | None = None
    edited_by: tuple[str, ...] = ()


def edits(db: sqlite3.Connection, incident_id: str) -> Edits:
    """Each field's latest edit by (at, event id); see the module's docstring."""
    rows = db.execute(
        "SELECT at, actor, root_cause, lessons, action_items, published FROM postmortem_edits "
        "WHERE incident_id = ? ORDER BY at, eid",
        (incident_id,),
    ).fetchall()
    root_cause, lessons, items, published_at = "", "", "[]", None
    for at, _, cause, learned, listed, published in rows:
        root_cause = root_cause if cause is None else cause
        lessons = lessons if learned is None else learned
        items = items if listed is None else listed
        if published is not None:
            published_at = at if published else None
    return Edits(
        root_cause=root_cause,
        lessons=lessons,
        action_items=tuple(ActionItem.model_validate(i) for i in json.loads(items)),
        published_at=published_at,
        edited_at=rows[-1][0] if rows else None,
        edited_by=tuple(dict.fromkeys(actor for _, actor, *_ in rows)),
    )


@dataclass(frozen=True)
class Drill:
    """A drill's report, as shown."""

    drill_id: str
    at: int
    scenario: str
    faults: tuple[DrillFault, ...]
    writes: DrillWrites | None
    continuity_permille: int | None
    cold_start_permille: int | None


def drills_about(
    db: sqlite3.Connection, regions: Sequence[str], *, since: int, until: int
) -> list[Drill]:
    """Drills that did something to one of ``regions`` between ``since``
    and ``until`` (unix ms), the earliest reported first."""
    marks = ",".join("?" * len(regions))
    ids = [
        drill_id
        for (drill_id,) in db.execute(
            f"SELECT DISTINCT drill_id FROM drill_faults WHERE region IN ({marks}) "
            "AND at BETWEEN ? AND ? ORDER BY drill_id LIMIT 20",
            (*regions, since, until),
        )
    ]
    found = [d for drill_id in ids if (d := _drill(db, drill_id)) is not None]
    return sorted(found, key=lambda d: (d.at, d.drill_id))


def _drill(db: sqlite3.Connection, drill_id: str) -> Drill | None:
    row = db.execute(
        "SELECT at, scenario, faults, writes, continuity_permille, cold_start_permille "
        "FROM drill_reports WHERE drill_id = ? ORDER BY at, eid LIMIT 1",
        (drill_id,),
    ).fetchone()
    if row is None:
        return None
    at, scenario, faults, writes, continuity, cold_start = row
    return Drill(
        drill_id=drill_id,
        at=at,
        scenario=scenario,
        faults=tuple(DrillFault.model_validate(f) for f in json.loads(faults)),
        writes=None if writes is None else DrillWrites.model_validate_json(writes),
        continuity_permille=continuity,
        cold_start_permille=cold_start,
    )
