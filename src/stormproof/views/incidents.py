"""The incidents view: incidents with their updates, and maintenance windows
(ADR 021).

Every event is kept as a row of its own, keyed by what it is about and its
event id, and what is shown is chosen when read, by fixed rules — never by
arrival — so every region holds the same rows and shows the same thing
whatever order the partitions arrive in:

- an incident is its **earliest opening** by ``(at, event id)``: every
  region's judge may open the same automatic incident (they derive its id
  from the region and the round the outage began), each under a key of its
  own, and the first written is the one shown;
- an automatic incident of one region that opened while an earlier
  automatic incident of that region was open, sharing a component with it,
  is **folded** into that one: not listed, not found by its id, never
  updated by a judge. Two judges whose views disagreed on the round an
  outage began derive two ids for one outage (ADR 021); the earliest
  opened by ``(at, incident id)`` stands;
- an update is likewise the earliest of those sharing its ``update_id``
  (the judges' updates of one decision share it);
- an incident's status is that of its latest update by ``(at, event id)``,
  the opening counting as the first — except that **resolved is final**: once
  any update resolved it, it stays resolved, and it was resolved at the
  earliest such update; an incident recorded after it ended (a *blackout*,
  when no region could record a probe round: its shown opening says when it
  ended) is resolved then;
- its impact is the latest one an update set, else the opening's; its
  components are the opening's and every update's together;
- an update's text is its latest correction's, if any;
- a maintenance window ends at its ``ends_at`` or at the earliest
  ``maintenance.completed``, whichever is first. Whether it is scheduled, in
  progress or completed depends on the time it is read at, which is the
  reader's to give (a view never reads the clock).

An update or a correction that arrives before its incident is kept and
shown once the incident is there.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Literal, cast

from stormproof.events import (
    MAX_TIME_MS,
    Figures,
    Impact,
    IncidentOpened,
    IncidentStatus,
    IncidentUpdated,
    MaintenanceEnded,
    MaintenanceScheduled,
    UpdateCorrected,
)
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "Incident",
    "IncidentsView",
    "Update",
    "Window",
    "WindowState",
    "blackouts",
    "incident",
    "incidents",
    "open_incidents",
    "opening_components",
    "window",
    "windows",
]


def _names(values: tuple[str, ...]) -> str:
    """A set of names as one column: sorted JSON, the same for every order."""
    return json.dumps(sorted(values), separators=(",", ":"))


def _figures(figures: Figures | None) -> str | None:
    if figures is None:
        return None
    return json.dumps(figures.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


class IncidentsView(View):
    name = "incidents"
    tables = (
        "incidents",
        "incident_updates",
        "incident_corrections",
        "maintenance",
        "maintenance_ends",
    )
    schema = """
    CREATE TABLE IF NOT EXISTS incidents (
        incident_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        actor TEXT NOT NULL,
        title TEXT NOT NULL,
        regions TEXT NOT NULL,
        components TEXT NOT NULL,
        impact TEXT NOT NULL,
        began_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        text TEXT NOT NULL,
        figures TEXT,
        automatic INTEGER NOT NULL,
        resolved_at INTEGER,
        PRIMARY KEY (incident_id, at, eid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS incidents_by_time ON incidents (at, incident_id);
    CREATE TABLE IF NOT EXISTS incident_updates (
        update_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        text TEXT NOT NULL,
        impact TEXT,
        components TEXT NOT NULL,
        figures TEXT,
        automatic INTEGER NOT NULL,
        PRIMARY KEY (update_id, at, eid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS incident_updates_by_incident
        ON incident_updates (incident_id, status, at);
    CREATE TABLE IF NOT EXISTS incident_corrections (
        update_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (update_id, at, eid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS incident_corrections_by_incident
        ON incident_corrections (incident_id);
    CREATE TABLE IF NOT EXISTS maintenance (
        maintenance_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        actor TEXT NOT NULL,
        title TEXT NOT NULL,
        regions TEXT NOT NULL,
        components TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (maintenance_id, at, eid)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS maintenance_by_end ON maintenance (ends_at);
    CREATE TABLE IF NOT EXISTS maintenance_ends (
        maintenance_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        actor TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (maintenance_id, at, eid)
    ) WITHOUT ROWID;
    """

    def on_incident_opened(self, db: sqlite3.Connection, entry: Entry, p: IncidentOpened) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                p.incident_id,
                event.at,
                event.id,
                event.actor,
                p.title,
                _names(p.regions),
                _names(p.components),
                p.impact,
                p.began_at,
                p.status,
                p.text,
                _figures(p.figures),
                int(p.automatic),
                p.resolved_at,
            ),
        )

    def on_incident_updated(self, db: sqlite3.Connection, entry: Entry, p: IncidentUpdated) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO incident_updates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                p.update_id,
                event.at,
                event.id,
                p.incident_id,
                event.actor,
                p.status,
                p.text,
                p.impact,
                _names(p.components),
                _figures(p.figures),
                int(p.automatic),
            ),
        )

    def on_incident_corrected(
        self, db: sqlite3.Connection, entry: Entry, p: UpdateCorrected
    ) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO incident_corrections VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.update_id, event.at, event.id, p.incident_id, event.actor, p.text),
        )

    def on_maintenance_scheduled(
        self, db: sqlite3.Connection, entry: Entry, p: MaintenanceScheduled
    ) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO maintenance VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                p.maintenance_id,
                event.at,
                event.id,
                event.actor,
                p.title,
                _names(p.regions),
                _names(p.components),
                p.starts_at,
                p.ends_at,
                p.text,
            ),
        )

    def on_maintenance_completed(
        self, db: sqlite3.Connection, entry: Entry, p: MaintenanceEnded
    ) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO maintenance_ends VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.maintenance_id, event.at, event.id, event.actor, p.text),
        )


# -- reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """One update of an incident as shown (the opening is the first)."""

    update_id: str
    at: int
    actor: str
    status: IncidentStatus
    text: str
    impact: Impact | None
    components: tuple[str, ...]
    figures: Figures | None
    automatic: bool
    #: the text as first written, when a correction replaced it
    corrected_from: str | None = None


@dataclass(frozen=True)
class Incident:
    incident_id: str
    title: str
    regions: tuple[str, ...]
    components: tuple[str, ...]
    impact: Impact
    status: IncidentStatus
    began_at: int
    opened_at: int
    resolved_at: int | None
    automatic: bool
    actor: str
    #: oldest first, the opening first of all
    updates: tuple[Update, ...]
    #: recorded after it ended: a blackout, when no region could record
    #: anything (ADR 021); it opened resolved
    recorded_after: bool = False

    @property
    def open(self) -> bool:
        return self.status != "resolved"


def _loads_figures(raw: str | None) -> Figures | None:
    return None if raw is None else Figures.model_validate_json(raw)


_OPENING = """
SELECT incident_id, at, eid, actor, title, regions, components, impact, began_at, status,
       text, figures, automatic, resolved_at
FROM incidents WHERE incident_id = ? ORDER BY at, eid LIMIT 1
"""


#: an update as stored: at, eid, update_id, actor, status, text, impact,
#: components, figures, automatic
_UpdateRow = tuple[int, str, str, str, str, str, str | None, str, str | None, int]


def incident(db: sqlite3.Connection, incident_id: str) -> Incident | None:
    """An incident with every update, as shown; None if it was never opened,
    or was folded into another (:func:`folded_into`)."""
    found = _as_opened(db, incident_id)
    if found is None or folded_into(db, found) is not None:
        return None
    return found


def folded_into(db: sqlite3.Connection, found: Incident) -> str | None:
    """The incident an automatic one is folded into, if any: the earliest
    opened (by ``(opened_at, incident id)``), itself not folded, automatic
    incident of the same one region that was still open when ``found``
    opened and shares a component with it. Two judges that disagreed on
    the round an outage began opened both; people see the first, and the
    judges update that one only."""
    if not found.automatic or found.recorded_after or len(found.regions) != 1:
        return None
    opened = (found.opened_at, found.incident_id)
    earlier: list[tuple[str]] = db.execute(
        _EARLIER_OPEN, (_names(found.regions), *opened, found.opened_at)
    ).fetchall()
    for (candidate_id,) in earlier:
        candidate = _as_opened(db, candidate_id)
        if candidate is None or not set(candidate.components) & set(found.components):
            continue
        if folded_into(db, candidate) is None:
            return candidate_id
    return None


def _as_opened(db: sqlite3.Connection, incident_id: str) -> Incident | None:
    """An incident as its own events make it, folded or not."""
    row = db.execute(_OPENING, (incident_id,)).fetchone()
    if row is None:
        return None
    (_, opened_at, eid, actor, title, regions, components, impact, began_at, status, text,
     figures, automatic, ended_at) = row  # fmt: skip
    opening: _UpdateRow = (
        opened_at, eid, incident_id, actor, status, text, impact, "[]", figures, automatic
    )  # fmt: skip
    rows: list[_UpdateRow] = db.execute(
        "SELECT at, eid, update_id, actor, status, text, impact, components, figures, automatic "
        "FROM incident_updates WHERE incident_id = ? ORDER BY at, eid",
        (incident_id,),
    ).fetchall()
    firsts: dict[str, _UpdateRow] = {}
    for update in [opening, *rows]:
        firsts.setdefault(update[2], update)  # earliest first: the first of an id wins
    corrections: dict[str, str] = dict(
        db.execute(
            "SELECT update_id, text FROM incident_corrections WHERE incident_id = ? "
            "ORDER BY at, eid",
            (incident_id,),
        ).fetchall()
    )  # the latest correction of each update wins
    updates = tuple(
        _update(row, corrections.get(row[2]))
        for row in sorted(firsts.values(), key=lambda r: (r[0], r[1]))
    )
    found = _incident(
        incident_id, title, regions, components, began_at, opened_at, automatic, actor, updates
    )
    if ended_at is None:
        return found
    return replace(found, status="resolved", resolved_at=ended_at, recorded_after=True)


def _update(row: _UpdateRow, correction: str | None) -> Update:
    at, _, update_id, actor, status, text, impact, components, figures, automatic = row
    return Update(
        update_id=update_id,
        at=at,
        actor=actor,
        status=cast(IncidentStatus, status),
        text=text if correction is None else correction,
        impact=cast(Impact | None, impact),
        components=tuple(json.loads(components)),
        figures=_loads_figures(figures),
        automatic=bool(automatic),
        corrected_from=None if correction is None else text,
    )


def _incident(
    incident_id: str,
    title: str,
    regions: str,
    components: str,
    began_at: int,
    opened_at: int,
    automatic: int,
    actor: str,
    updates: tuple[Update, ...],
) -> Incident:
    """An incident's state from its updates, by the rules of the module's docstring."""
    resolved = [u.at for u in updates if u.status == "resolved"]
    impact = [u.impact for u in updates if u.impact is not None][-1]
    affected = set(json.loads(components)).union(*(u.components for u in updates))
    return Incident(
        incident_id=incident_id,
        title=title,
        regions=tuple(json.loads(regions)),
        components=tuple(sorted(affected)),
        impact=impact,
        status="resolved" if resolved else updates[-1].status,
        began_at=began_at,
        opened_at=opened_at,
        resolved_at=min(resolved) if resolved else None,
        automatic=bool(automatic),
        actor=actor,
        updates=updates,
    )


_RESOLVED = "(i.resolved_at IS NOT NULL OR EXISTS (SELECT 1 FROM incident_updates u " \
    "WHERE u.incident_id = i.incident_id AND u.status = 'resolved'))"  # fmt: skip
_FIRST = "NOT EXISTS (SELECT 1 FROM incidents j WHERE j.incident_id = i.incident_id " \
    "AND (j.at, j.eid) < (i.at, i.eid))"  # fmt: skip
#: automatic incidents of one region (its names as stored), opened before
#: (at, incident id), not resolved at a time
_EARLIER_OPEN = f"""
SELECT i.incident_id FROM incidents i
WHERE {_FIRST} AND i.automatic AND i.resolved_at IS NULL AND i.regions = ?
  AND (i.at, i.incident_id) < (?, ?)
  AND NOT EXISTS (SELECT 1 FROM incident_updates u WHERE u.incident_id = i.incident_id
                  AND u.status = 'resolved' AND u.at <= ?)
ORDER BY i.at, i.incident_id
"""


def incidents(
    db: sqlite3.Connection,
    *,
    limit: int,
    before: tuple[int, str] | None = None,
    open_only: bool = False,
) -> list[Incident]:
    """Incidents, the latest opened first (``before``: those opened before
    that ``(opened_at, incident_id)``, for the next page)."""
    where = [_FIRST, "(i.at, i.incident_id) < (?, ?)"]
    if open_only:
        where.append(f"NOT {_RESOLVED}")
    query = (
        f"SELECT i.at, i.incident_id FROM incidents i WHERE {' AND '.join(where)} "
        "ORDER BY i.at DESC, i.incident_id DESC LIMIT ?"
    )
    cursor: tuple[int, str] = before if before is not None else (MAX_TIME_MS + 1, "")
    shown: list[Incident] = []
    while len(shown) < limit:  # past the folded ones, to fill the page
        wanted = limit - len(shown)
        rows = db.execute(query, (*cursor, wanted)).fetchall()
        found = (incident(db, incident_id) for _, incident_id in rows)
        shown += [i for i in found if i is not None]
        if len(rows) < wanted:
            break
        cursor = (rows[-1][0], rows[-1][1])
    return shown


def open_incidents(db: sqlite3.Connection, limit: int = 1000) -> list[Incident]:
    """Every incident not resolved, the latest opened first."""
    return incidents(db, limit=limit, open_only=True)


WindowState = Literal["scheduled", "in_progress", "completed"]


@dataclass(frozen=True)
class Window:
    """A maintenance window as shown at some time."""

    maintenance_id: str
    title: str
    regions: tuple[str, ...]
    components: tuple[str, ...]
    starts_at: int
    #: when it ends: as scheduled, or when it was completed, if earlier
    ends_at: int
    scheduled_ends_at: int
    text: str
    #: what the operator said when completing it early
    completed_text: str | None
    actor: str

    def state(self, now: int) -> WindowState:
        if now >= self.ends_at:
            return "completed"
        return "in_progress" if now >= self.starts_at else "scheduled"

    def covers(self, region: str, component: str, now: int) -> bool:
        """Whether it holds ``component`` of ``region`` under maintenance at ``now``."""
        return (
            self.state(now) == "in_progress"
            and region in self.regions
            and component in self.components
        )


_WINDOW = """
SELECT m.maintenance_id, m.title, m.regions, m.components, m.starts_at, m.ends_at, m.text,
       m.actor, e.at, e.text
FROM maintenance m
LEFT JOIN maintenance_ends e ON e.maintenance_id = m.maintenance_id AND NOT EXISTS (
    SELECT 1 FROM maintenance_ends f WHERE f.maintenance_id = e.maintenance_id
    AND (f.at, f.eid) < (e.at, e.eid))
WHERE NOT EXISTS (SELECT 1 FROM maintenance n WHERE n.maintenance_id = m.maintenance_id
                  AND (n.at, n.eid) < (m.at, m.eid))
"""


#: a window as read by _WINDOW
_WindowRow = tuple[str, str, str, str, int, int, str, str, int | None, str | None]


def _window(row: _WindowRow) -> Window:
    (maintenance_id, title, regions, components, starts_at, ends_at, text, actor, ended_at,
     ended_text) = row  # fmt: skip
    return Window(
        maintenance_id=maintenance_id,
        title=title,
        regions=tuple(json.loads(regions)),
        components=tuple(json.loads(components)),
        starts_at=starts_at,
        ends_at=ends_at if ended_at is None else min(ends_at, ended_at),
        scheduled_ends_at=ends_at,
        text=text,
        completed_text=ended_text,
        actor=actor,
    )


def window(db: sqlite3.Connection, maintenance_id: str) -> Window | None:
    row = db.execute(f"{_WINDOW} AND m.maintenance_id = ?", (maintenance_id,)).fetchone()
    return None if row is None else _window(row)


def windows(db: sqlite3.Connection, *, ending_after: int, limit: int = 100) -> list[Window]:
    """Windows scheduled to end after ``ending_after`` (those not over yet,
    or recent ones), the earliest starting first. A window completed early
    is left out once its completion passed ``ending_after``."""
    rows = db.execute(
        f"{_WINDOW} AND m.ends_at > ? ORDER BY m.starts_at, m.maintenance_id LIMIT ?",
        (ending_after, limit),
    ).fetchall()
    return [w for w in map(_window, rows) if w.ends_at > ending_after]


def blackouts(db: sqlite3.Connection, *, ending_after: int) -> list[tuple[int, int]]:
    """The spans (began_at, resolved_at) of the blackouts shown that ended
    after ``ending_after``, the earliest first: the time no region recorded
    a probe round, which the uptime bars count as down (ADR 023)."""
    rows = db.execute(
        f"SELECT i.began_at, i.resolved_at FROM incidents i WHERE {_FIRST} "
        "AND i.automatic AND i.resolved_at > ? ORDER BY i.began_at, i.resolved_at",
        (ending_after,),
    ).fetchall()
    return [(began, ended) for began, ended in rows]


def opening_components(db: sqlite3.Connection, incident_id: str) -> tuple[str, ...]:
    """The components an incident's shown opening named (before any update
    added more): what it was about as first said, for a webhook sent "as of"
    that update (ADR 024)."""
    row = db.execute(
        "SELECT components FROM incidents WHERE incident_id = ? ORDER BY at, eid LIMIT 1",
        (incident_id,),
    ).fetchone()
    return () if row is None else tuple(json.loads(row[0]))
