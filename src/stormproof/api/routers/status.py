"""``GET /v1/status``: the platform's status as this region's views hold it.

Public, and answered even while this region catches up (ADR 020): a status
page must be served by every region still standing, and the one people reach
during an outage may well be replaying the log. Its answer then says it may
be behind (``fresh: false``, and the position its views stand at); the
other regions' answers, at the same position, are the same.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from stormproof.api.deps import Fresh, RegionDep
from stormproof.api.routers.incidents import IncidentOut, incident_out
from stormproof.api.routers.maintenance import WindowOut, window_out
from stormproof.status import Page, State, read_page
from stormproof.status.maintenance import under_maintenance
from stormproof.views import incidents
from stormproof.views.incidents import Incident, Window

router = APIRouter(prefix="/v1", tags=["status"])


def iso(ms: int) -> str:
    """A round's time as ISO 8601 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    incidents: list[IncidentOut] = Field(
        description="open incidents, the latest opened first, each with its last update"
    )
    maintenance: list[WindowOut] = Field(description="maintenance scheduled or in progress")


def _components(page: Page) -> list[ComponentOut]:
    def when(ms: int | None) -> str | None:
        return None if ms is None else iso(ms)

    return [
        ComponentOut(
            component=c.component,
            state=c.state,
            since=when(c.since),
            regions=[
                RegionOut(
                    region=r.region,
                    state=r.state,
                    since=when(r.since),
                    last_round=iso(r.last_round_at),
                    failing_probers=r.failing_probers,
                    probers=r.probers,
                )
                for r in c.regions
            ],
        )
        for c in page.components
    ]


def _probers(page: Page) -> list[ProberOut]:
    return [
        ProberOut(
            prober=p.prober,
            round=iso(p.round_at),
            regions=[SeenOut(**vars(seen)) for seen in p.regions],
        )
        for p in page.probers
    ]


@router.get("/status")
async def platform_status(region: RegionDep, _: Fresh) -> StatusOut:
    """Each component's state, overall and in each region, from every
    region's probes: a component of a region fails a round when most probers
    saw it fail or could not reach it, is down after ``fail_rounds`` failing
    rounds in a row and back after ``pass_rounds`` passing ones. States are
    Statuspage's: operational, degraded_performance, partial_outage (down in
    some regions), major_outage, under_maintenance (a maintenance window in
    progress holds it). Open incidents and maintenance come with it. No
    sign-in needed."""
    settings = region.settings
    fail_rounds, pass_rounds = settings.probe_fail_rounds, settings.probe_pass_rounds

    now = int(time.time() * 1000)

    def read(db: sqlite3.Connection) -> tuple[Page, list[int], list[Incident], list[Window]]:
        db.execute("BEGIN")  # one position for every read
        try:
            page = read_page(db, fail_rounds=fail_rounds, pass_rounds=pass_rounds)
            windows = incidents.windows(db, ending_after=now)
            page = under_maintenance(page, windows, now)
            open_ = incidents.open_incidents(db, limit=100)
            return page, list(region.store.position(db)), open_, windows
        finally:
            db.execute("COMMIT")

    page, position, open_, windows = await region.store.query(read)
    stopped = region.failure or region.projector.error
    return StatusOut(
        state=page.state,
        newest_round=None if page.newest_round_at is None else iso(page.newest_round_at),
        components=_components(page),
        probers=_probers(page),
        region=region.name,
        fresh=region.ready and stopped is None,
        position=position,
        fail_rounds=fail_rounds,
        pass_rounds=pass_rounds,
        incidents=[incident_out(i, last_only=True) for i in open_],
        maintenance=[window_out(w, now) for w in windows],
    )
