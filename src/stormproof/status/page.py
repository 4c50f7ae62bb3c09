"""The status page's content, read from the status view at one position.

Every read is an indexed lookup: per component of a region, its last
:data:`WINDOW` verdicts, and when the oldest run of those may reach further
back (the window is full), three lookups to find where that run began and
whether it is long enough for the guard — never a scan of the history. A
region's state therefore depends on the runs that end in the window (the
oldest counted whole): a component that flapped for a whole window reads as
degraded, whatever came before (:mod:`stormproof.status.states`).

The page's incidents and scheduled maintenance come from the incidents
view (ADR 021) through :func:`incidents_section` and
:func:`maintenance_section`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import COMPONENTS
from stormproof.status.states import Assessed, Run, State, across_regions, in_region, runs_of, worst
from stormproof.views import incidents, postmortems, status

__all__ = [
    "RECENT_INCIDENTS",
    "WINDOW",
    "ComponentStatus",
    "Notice",
    "NoticeUpdate",
    "Page",
    "ProberStatus",
    "RegionStatus",
    "incidents_section",
    "maintenance_section",
    "read_page",
]

#: verdicts read per component of a region (10 minutes of rounds at 10 s)
WINDOW = 60
#: incidents the page shows besides the open ones, the latest opened first
RECENT_INCIDENTS = 20


@dataclass(frozen=True)
class RegionStatus:
    region: str
    state: State
    since: int | None
    #: the latest round that judged it
    last_round_at: int
    #: in that round: probers that saw it fail or could not reach it, of those voting
    failing_probers: int
    probers: int


@dataclass(frozen=True)
class ComponentStatus:
    component: str
    state: State
    since: int | None
    regions: list[RegionStatus]


@dataclass(frozen=True)
class ProberStatus:
    prober: str
    #: its latest round, and what its health checks of each region said then
    round_at: int
    regions: list[status.Seen]


@dataclass(frozen=True)
class Page:
    state: State
    newest_round_at: int | None
    components: list[ComponentStatus]
    probers: list[ProberStatus]


def read_page(db: sqlite3.Connection, *, fail_rounds: int, pass_rounds: int) -> Page:
    """The page as the view holds it; run in one read transaction to see one position."""
    by_component: dict[str, list[RegionStatus]] = {}
    for region, component in status.judged_pairs(db):
        found = _in_region(db, region, component, fail_rounds, pass_rounds)
        by_component.setdefault(component, []).append(found)
    order: dict[str, int] = {name: n for n, name in enumerate(COMPONENTS)}
    components = []
    for component in sorted(by_component, key=lambda c: (order.get(c, len(order)), c)):
        regions = by_component[component]
        overall = across_regions([Assessed(r.state, r.since) for r in regions])
        components.append(ComponentStatus(component, overall.state, overall.since, regions))
    probers = [
        ProberStatus(prober, at, status.regions_seen(db, prober, at))
        for prober, at in status.probers(db)
    ]
    return Page(
        state=worst(c.state for c in components),
        newest_round_at=status.newest_round(db),
        components=components,
        probers=probers,
    )


def _in_region(
    db: sqlite3.Connection, region: str, component: str, fail_rounds: int, pass_rounds: int
) -> RegionStatus:
    verdicts = status.recent_verdicts(db, region, component, WINDOW)
    runs = runs_of([(v.round_at, v.failing) for v in verdicts])
    oldest = runs[-1]
    if len(verdicts) < WINDOW:  # the whole history
        runs[-1] = Run(oldest.failing, oldest.rounds, oldest.first_at, from_start=True)
    else:  # the oldest run may have begun before the window
        other = status.boundary(
            db, region, component, failing=not oldest.failing, before=oldest.first_at
        )
        first = status.first_round_after(db, region, component, -1 if other is None else other)
        enough = max(fail_rounds, pass_rounds)
        before = status.rounds_between(db, region, component, first, oldest.first_at, enough)
        runs[-1] = Run(oldest.failing, oldest.rounds + before, first, from_start=other is None)
    assessed = in_region(runs, fail_rounds=fail_rounds, pass_rounds=pass_rounds)
    newest = verdicts[0]
    return RegionStatus(
        region=region,
        state=assessed.state,
        since=assessed.since,
        last_round_at=newest.round_at,
        failing_probers=newest.against,
        probers=newest.voters,
    )


# -- incidents and maintenance: the seam -----------------------------------------


@dataclass(frozen=True)
class NoticeUpdate:
    """One update of an incident or a maintenance, as the page and the feed show it."""

    #: unique for good: the Atom entry's id is made from it
    id: str
    #: unix ms
    at: int
    #: incidents: investigating, identified, monitoring, resolved;
    #: maintenance: scheduled, in_progress, completed
    status: str
    text: str


@dataclass(frozen=True)
class Notice:
    """An incident or a scheduled maintenance, as the page and the feed show it."""

    id: str
    title: str
    #: incidents: none, minor, major, critical; maintenance: maintenance
    impact: str
    #: its latest update's status
    status: str
    #: unix ms: when it began (incidents) or is to begin (maintenance)
    begins_at: int
    #: unix ms: when it was resolved or is to end; None: open
    ends_at: int | None
    components: list[str]
    regions: list[str]
    #: newest first
    updates: list[NoticeUpdate]
    #: an incident whose postmortem is published (ADR 025)
    postmortem: bool = False


def incidents_section(db: sqlite3.Connection) -> list[Notice]:
    """The incidents to show, the latest opened first: every open one, and
    the :data:`RECENT_INCIDENTS` latest whatever their state."""
    found = {i.incident_id: i for i in incidents.open_incidents(db)}
    for i in incidents.incidents(db, limit=RECENT_INCIDENTS):
        found.setdefault(i.incident_id, i)
    latest = sorted(found.values(), key=lambda i: (i.opened_at, i.incident_id), reverse=True)
    return [_incident_notice(i, _published(db, i)) for i in latest]


def _published(db: sqlite3.Connection, i: incidents.Incident) -> bool:
    return not i.open and postmortems.edits(db, i.incident_id).published_at is not None


def _incident_notice(i: incidents.Incident, published: bool) -> Notice:
    return Notice(
        id=i.incident_id,
        title=i.title,
        impact=i.impact,
        status=i.status,
        begins_at=i.began_at,
        ends_at=i.resolved_at,
        components=list(i.components),
        regions=list(i.regions),
        updates=[NoticeUpdate(u.update_id, u.at, u.status, u.text) for u in reversed(i.updates)],
        postmortem=published,
    )


def maintenance_section(db: sqlite3.Connection, now: int) -> list[Notice]:
    """Maintenance in progress or scheduled at ``now`` (unix ms), soonest first."""
    return [_window_notice(w, now) for w in incidents.windows(db, ending_after=now)]


def _window_notice(w: incidents.Window, now: int) -> Notice:
    updates = [NoticeUpdate(f"{w.maintenance_id}:scheduled", w.starts_at, "scheduled", w.text)]
    if w.completed_text is not None:
        updates.insert(
            0,
            NoticeUpdate(f"{w.maintenance_id}:completed", w.ends_at, "completed", w.completed_text),
        )
    return Notice(
        id=w.maintenance_id,
        title=w.title,
        impact="maintenance",
        status=w.state(now),
        begins_at=w.starts_at,
        ends_at=w.ends_at,
        components=list(w.components),
        regions=list(w.regions),
        updates=updates,
    )
