"""The status page as a document: what ``GET /v1/status`` and
``GET /v1/status/page`` answer, what ``stormproof status export`` writes
as ``status.json``, and what the HTML page and the Atom feed are rendered
from — whether read from this region's views or fetched from another
region's API (ADR 023).

Times are ISO 8601 in UTC, to the millisecond; days are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from stormproof.status.maintenance import under_maintenance
from stormproof.status.page import Notice, Page, incidents_section, maintenance_section, read_page
from stormproof.status.states import State
from stormproof.status.uptime import DAYS, Uptime, Window, read_uptime
from stormproof.views import incidents as incidents_view

__all__ = [
    "ComponentOut",
    "ComponentUptimeOut",
    "DayOut",
    "NoticeOut",
    "PageDocument",
    "ProberOut",
    "RegionOut",
    "RegionUptimeOut",
    "SeenOut",
    "StatusOut",
    "UpdateOut",
    "UptimeOut",
    "iso",
    "read_document",
    "status_out",
]


def iso(ms: int) -> str:
    """A time as ISO 8601 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _when(ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


# -- GET /v1/status --------------------------------------------------------------


class SeenOut(BaseModel):
    region: str
    reachable: bool
    ready: bool
    remaining: int | None = Field(description="log entries it still had to apply, catching up")
    eta_s: int | None = Field(description="its own estimate of the seconds left, catching up")


class ProberOut(BaseModel):
    prober: str = Field(description="the probing region")
    round: str = Field(description="its latest round")
    regions: list[SeenOut] = Field(description="what its health checks said in that round")


class RegionOut(BaseModel):
    region: str
    state: State
    since: str | None = Field(description="the round since which it is in this state")
    last_round: str = Field(description="the latest round that judged it")
    failing_probers: int = Field(description="probers that saw it fail in that round")
    probers: int = Field(description="probers that judged it in that round")


class ComponentOut(BaseModel):
    component: str
    state: State
    since: str | None
    regions: list[RegionOut]


class StatusOut(BaseModel):
    state: State = Field(description="the platform's: the worst of its components'")
    newest_round: str | None = Field(description="the latest round any prober reported")
    components: list[ComponentOut]
    probers: list[ProberOut]
    region: str = Field(description="the region that answered")
    fresh: bool = Field(
        description="false while this region catches up or its views are stopped: the "
        "answer may be behind the other regions'"
    )
    position: list[int] = Field(description="the log position this answer was read at")
    fail_rounds: int = Field(description="failing rounds in a row that make a region down")
    pass_rounds: int = Field(description="passing rounds in a row that bring it back")


def status_out(
    page: Page,
    *,
    region: str,
    fresh: bool,
    position: Sequence[int],
    fail_rounds: int,
    pass_rounds: int,
) -> StatusOut:
    components = [
        ComponentOut(
            component=c.component,
            state=c.state,
            since=_when(c.since),
            regions=[
                RegionOut(
                    region=r.region,
                    state=r.state,
                    since=_when(r.since),
                    last_round=iso(r.last_round_at),
                    failing_probers=r.failing_probers,
                    probers=r.probers,
                )
                for r in c.regions
            ],
        )
        for c in page.components
    ]
    probers = [
        ProberOut(
            prober=p.prober,
            round=iso(p.round_at),
            regions=[SeenOut(**vars(seen)) for seen in p.regions],
        )
        for p in page.probers
    ]
    return StatusOut(
        state=page.state,
        newest_round=_when(page.newest_round_at),
        components=components,
        probers=probers,
        region=region,
        fresh=fresh,
        position=list(position),
        fail_rounds=fail_rounds,
        pass_rounds=pass_rounds,
    )


# -- uptime ----------------------------------------------------------------------


class DayOut(BaseModel):
    date: str = Field(description="the UTC day, YYYY-MM-DD")
    rounds: int = Field(description="probe rounds that judged it that day")
    judged_ms: int = Field(description="the time those rounds stand for")
    down_ms: int = Field(
        description="of which down: in a region, failing there; overall, in every region"
    )
    partial_ms: int = Field(description="overall: down in some regions, not all; in a region: 0")


class RegionUptimeOut(BaseModel):
    region: str
    uptime: float | None = Field(description="share of the judged time it was up; null: none")
    days: list[DayOut] = Field(description="the days with data, oldest first")


class ComponentUptimeOut(BaseModel):
    component: str
    uptime: float | None = Field(
        description="share of the judged time it was up in every region; null: none"
    )
    days: list[DayOut] = Field(description="the days with data, oldest first")
    regions: list[RegionUptimeOut]


class UptimeOut(BaseModel):
    first_day: str
    last_day: str = Field(description="the day of the newest round (today if none)")
    components: list[ComponentUptimeOut]


def _days(window: Window) -> list[DayOut]:
    return [
        DayOut(
            date=d.date.isoformat(),
            rounds=d.rounds,
            judged_ms=d.judged_ms,
            down_ms=d.down_ms,
            partial_ms=d.partial_ms,
        )
        for d in window.days
    ]


def uptime_out(found: Uptime, order: Sequence[str]) -> UptimeOut:
    """``found`` with its components in ``order`` (the status's)."""
    ranked = {name: n for n, name in enumerate(order)}
    components = sorted(found.overall, key=lambda c: (ranked.get(c, len(ranked)), c))
    return UptimeOut(
        first_day=found.first.isoformat(),
        last_day=found.last.isoformat(),
        components=[
            ComponentUptimeOut(
                component=component,
                uptime=found.overall[component].uptime,
                days=_days(found.overall[component]),
                regions=[
                    RegionUptimeOut(region=region, uptime=window.uptime, days=_days(window))
                    for region, window in sorted(found.regions[component].items())
                ],
            )
            for component in components
        ],
    )


# -- incidents and maintenance -----------------------------------------------------


class UpdateOut(BaseModel):
    id: str
    at: str
    status: str
    text: str


class NoticeOut(BaseModel):
    id: str
    title: str
    impact: str
    status: str
    begins_at: str
    ends_at: str | None
    components: list[str]
    regions: list[str]
    updates: list[UpdateOut] = Field(description="newest first")
    postmortem: str | None = Field(
        None, description="where its published postmortem is read (HTML; .md: Markdown)"
    )


def _notices(found: list[Notice]) -> list[NoticeOut]:
    return [
        NoticeOut(
            id=n.id,
            title=n.title,
            impact=n.impact,
            status=n.status,
            begins_at=iso(n.begins_at),
            ends_at=_when(n.ends_at),
            components=n.components,
            regions=n.regions,
            updates=[UpdateOut(id=u.id, at=iso(u.at), status=u.status, text=u.text)
                     for u in n.updates],
            postmortem=f"/status/incidents/{n.id}/postmortem" if n.postmortem else None,
        )
        for n in found
    ]  # fmt: skip


# -- the whole page ----------------------------------------------------------------


class PageDocument(BaseModel):
    status: StatusOut
    uptime: UptimeOut = Field(description=f"the last {DAYS} days, per component")
    incidents: list[NoticeOut] = Field(description="open and lately resolved, newest first")
    maintenance: list[NoticeOut] = Field(description="in progress or scheduled, soonest first")


def read_document(
    db: sqlite3.Connection,
    *,
    region: str,
    fresh: bool,
    position_of: Callable[[sqlite3.Connection], Sequence[int]],
    fail_rounds: int,
    pass_rounds: int,
    now: int,
) -> PageDocument:
    """The whole page as of ``now`` (unix ms: which maintenance is in
    progress), read in one transaction (one position for every part)."""
    db.execute("BEGIN")
    try:
        page = read_page(db, fail_rounds=fail_rounds, pass_rounds=pass_rounds)
        page = under_maintenance(page, incidents_view.windows(db, ending_after=now), now)
        found = read_uptime(db)
        incidents, maintenance = incidents_section(db), maintenance_section(db, now)
        position = position_of(db)
    finally:
        db.execute("COMMIT")
    status = status_out(
        page,
        region=region,
        fresh=fresh,
        position=position,
        fail_rounds=fail_rounds,
        pass_rounds=pass_rounds,
    )
    return PageDocument(
        status=status,
        uptime=uptime_out(found, [c.component for c in page.components]),
        incidents=_notices(incidents),
        maintenance=_notices(maintenance),
    )
