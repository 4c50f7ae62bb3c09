"""Postmortems and drill reports (ADR 025).

- ``GET /v1/incidents/{id}/postmortem``: a resolved incident's postmortem
  as JSON (with its Markdown): for operators while it is a draft, for
  anyone once published (404 ``postmortem_not_published`` before, to
  everyone else);
- ``PATCH`` and ``PUT /v1/incidents/{id}/postmortem``: operators fill in
  root cause, lessons and action items, and publish (``published``);
  PATCH changes the fields given, PUT sets all three (empty when not
  given); either is an event, answered with the postmortem as it then reads;
- ``GET /status/incidents/{id}/postmortem`` (HTML, like the status page:
  no script, nothing loaded from anywhere) and ``….md`` (Markdown): public,
  once published;
- ``POST /v1/drills``: a drill run by an operator reports its faults and
  what its checker measured, so postmortems can cite it.

Reads are answered while the region catches up, as the status is.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

from fastapi import Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from stormproof.actions import postmortems as actions
from stormproof.actions.postmortems import FaultIn, ItemIn
from stormproof.api.deps import (
    Fresh,
    IdemKey,
    MaybeCaller,
    OperatorCaller,
    RegionDep,
    When,
    acknowledge,
)
from stormproof.api.routers import api_router
from stormproof.api.schemas import Written
from stormproof.creators.impact import CreatorImpact, ImpactRates
from stormproof.errors import Conflict, NotFound
from stormproof.events import (
    DRILL_FAULTS,
    MAX_TIME_MS,
    ActionItem,
    DrillWrites,
    Figures,
    RegionRequests,
)
from stormproof.region import Region
from stormproof.status.postmortem import Postmortem, PostmortemImpact, draft, when
from stormproof.status.postmortem_render import render_html, render_markdown
from stormproof.views import incidents, roles
from stormproof.views.incidents import Incident

__all__ = ["public_path", "router"]

router = api_router(tags=["postmortems"])

#: as the status page's: its own inline styles, nothing else
_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
#: what the routes take in, at most (the actions refuse past the events' bounds with codes)
_TEXT = 30_000


def public_path(incident_id: str) -> str:
    """Where a published postmortem is read, as HTML (``.md``: Markdown)."""
    return f"/status/incidents/{incident_id}/postmortem"


class MomentOut(BaseModel):
    at: int = Field(description="unix ms")
    at_utc: str
    kind: str = Field(
        description="drill_<fault>, unreachable, first_failing_round, opened, update, "
        "answering, ready, probes_pass, resolved"
    )
    text: str


class WritesLostOut(BaseModel):
    lost: int | None = Field(description="null: not measured")
    duplicated: int | None
    acknowledged: int | None
    how: str = Field(description="how it is known, or why it is not")


class ContinuityOut(BaseModel):
    overlap_at_20: float
    cold_start_overlap_at_20: float | None
    drill_id: str
    scenario: str


class ImpactOut(BaseModel):
    duration_ms: int
    regions: list[str]
    components: list[str]
    figures: list[Figures] = Field(description="per region: probe checks, people active before")
    requests: list[RegionRequests] = Field(description="people's requests each region counted")
    requests_failed: int | None
    uploads_refused: int | None
    uploads_delayed: int | None
    creators_touched: int | None
    writes_lost: WritesLostOut
    continuity: ContinuityOut | None = Field(description="For You continuity a drill measured")
    creators: list[CreatorImpact] = Field(
        description="creators whose uploads it touched (to operators only; the Markdown adds "
        "them up)"
    )


class PostmortemOut(BaseModel):
    incident_id: str
    title: str
    summary: str
    impact: ImpactOut
    began_at: int
    opened_at: int
    resolved_at: int
    detection_ms: int = Field(description="from the first failing probe round to the opening")
    trigger: str
    resolution: str
    timeline: list[MomentOut] = Field(description="oldest first, UTC")
    drills: list[str] = Field(description="the drills it cites")
    root_cause: str
    lessons: str
    action_items: list[ActionItem]
    published: bool
    published_at: int | None
    edited_at: int | None
    url: str = Field(description="where it is read once published (HTML; .md for Markdown)")
    markdown: str
    position: list[int] = Field(description="the log position it was drafted at")


def _continuity(impact: PostmortemImpact) -> ContinuityOut | None:
    return None if impact.continuity is None else ContinuityOut(**vars(impact.continuity))


def _out(pm: Postmortem, position: list[int], *, creators_named: bool = True) -> PostmortemOut:
    """The postmortem as answered; each creator it touched is named to
    operators only (a published postmortem is public; ADR 031)."""
    impact = pm.impact
    return PostmortemOut(
        incident_id=pm.incident_id,
        title=pm.title,
        summary=pm.summary,
        impact=ImpactOut(
            duration_ms=impact.duration_ms,
            regions=list(impact.regions),
            components=list(impact.components),
            figures=list(impact.figures),
            requests=list(impact.requests),
            requests_failed=impact.requests_failed,
            uploads_refused=impact.uploads_refused,
            uploads_delayed=impact.uploads_delayed,
            creators_touched=impact.creators_touched,
            writes_lost=WritesLostOut(**vars(impact.writes_lost)),
            continuity=_continuity(impact),
            creators=list(impact.creators) if creators_named else [],
        ),
        began_at=pm.began_at,
        opened_at=pm.opened_at,
        resolved_at=pm.resolved_at,
        detection_ms=pm.detection_ms,
        trigger=pm.trigger,
        resolution=pm.resolution,
        timeline=[
            MomentOut(at=m.at, at_utc=when(m.at), kind=m.kind, text=m.text) for m in pm.timeline
        ],
        drills=list(pm.drills),
        root_cause=pm.root_cause,
        lessons=pm.lessons,
        action_items=list(pm.action_items),
        published=pm.published,
        published_at=pm.published_at,
        edited_at=pm.edited_at,
        url=public_path(pm.incident_id),
        markdown=render_markdown(pm),
        position=position,
    )


Reader = Literal["operator", "anyone"]


async def _read(region: Region, incident_id: str, reader: Reader) -> tuple[Postmortem, list[int]]:
    """The postmortem as ``reader`` may see it, at one position of the views."""

    def read(db: sqlite3.Connection) -> tuple[Incident | None, Postmortem | None, list[int]]:
        db.execute("BEGIN")
        try:
            found = incidents.incident(db, incident_id)
            pm = None if found is None else draft(db, found, ImpactRates.of(region.settings))
            return found, pm, list(region.store.position(db))
        finally:
            db.execute("COMMIT")

    found, pm, position = await region.store.query(read)
    if found is None:
        raise NotFound("no such incident", code="incident_not_found")
    if pm is not None and pm.published:
        return pm, position
    if reader != "operator":
        raise NotFound("this incident has no published postmortem", code="postmortem_not_published")
    if pm is None:
        raise Conflict(
            "this incident is not resolved: its postmortem is drafted once it is",
            code="incident_not_resolved",
        )
    return pm, position


async def _reader(region: Region, caller: MaybeCaller) -> Reader:
    if caller is None:
        return "anyone"
    holds = await region.store.query(lambda db: roles.has_role(db, caller.user_id, "operator"))
    return "operator" if holds else "anyone"


@router.get("/v1/incidents/{incident_id}/postmortem")
async def get_postmortem(
    incident_id: str, region: RegionDep, caller: MaybeCaller, _: Fresh
) -> PostmortemOut:
    """A resolved incident's postmortem, drafted from the log: for operators
    while it is a draft (409 ``incident_not_resolved`` while the incident is
    open), for anyone once published (404 ``postmortem_not_published``
    before)."""
    reader = await _reader(region, caller)
    pm, position = await _read(region, incident_id, reader)
    return _out(pm, position, creators_named=reader == "operator")


class ItemBody(BaseModel):
    text: str = Field(max_length=_TEXT)
    owner: str = Field("", max_length=1000)


class PostmortemPatch(BaseModel):
    """Fields left out stay as they were. Breaches answer 422 ``empty_edit``,
    ``text_too_long``, ``empty_text``, ``too_many_action_items``,
    ``owner_too_long``; an open incident 409 ``incident_not_resolved``."""

    root_cause: str | None = Field(None, max_length=_TEXT)
    lessons: str | None = Field(None, max_length=_TEXT)
    action_items: list[ItemBody] | None = Field(None, max_length=1000)
    published: bool | None = Field(None, description="true: public at its url; false: not")


class PostmortemPut(BaseModel):
    """All three fields, empty when left out; ``published`` as PATCH's."""

    root_cause: str = Field("", max_length=_TEXT)
    lessons: str = Field("", max_length=_TEXT)
    action_items: list[ItemBody] = Field([], max_length=1000)
    published: bool | None = None


class PostmortemWritten(Written):
    postmortem: PostmortemOut


async def _edit(
    region: Region,
    caller: OperatorCaller,
    incident_id: str,
    body: PostmortemPatch | PostmortemPut,
    response: Response,
    when_: When,
    idempotency_key: str | None,
) -> PostmortemWritten:
    items = body.action_items
    written = await actions.edit_postmortem(
        region,
        caller.user_id,
        incident_id,
        root_cause=body.root_cause,
        lessons=body.lessons,
        action_items=None if items is None else [ItemIn(i.text, i.owner) for i in items],
        published=body.published,
        idempotency_key=idempotency_key,
        when=when_,
    )
    seq = acknowledge(response, region, written)
    pm, position = await _read(region, incident_id, "operator")
    return PostmortemWritten(seq=seq, postmortem=_out(pm, position))


@router.patch("/v1/incidents/{incident_id}/postmortem")
async def patch_postmortem(
    incident_id: str,
    body: PostmortemPatch,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when_: When,
    idempotency_key: IdemKey = None,
) -> PostmortemWritten:
    """Fill in or change some of a postmortem's fields, or publish it (operators only)."""
    return await _edit(region, caller, incident_id, body, response, when_, idempotency_key)


@router.put("/v1/incidents/{incident_id}/postmortem")
async def put_postmortem(
    incident_id: str,
    body: PostmortemPut,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when_: When,
    idempotency_key: IdemKey = None,
) -> PostmortemWritten:
    """Set root cause, lessons and action items at once (operators only)."""
    return await _edit(region, caller, incident_id, body, response, when_, idempotency_key)


@router.get(
    "/status/incidents/{incident_id}/postmortem",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def postmortem_page(incident_id: str, region: RegionDep, _: Fresh) -> HTMLResponse:
    """A published postmortem, HTML: no script, nothing loaded from anywhere."""
    pm, _position = await _read(region, incident_id, "anyone")
    headers = {"Content-Security-Policy": _PAGE_CSP, "Cache-Control": "no-cache"}
    return HTMLResponse(render_html(pm), headers=headers)


@router.get("/status/incidents/{incident_id}/postmortem.md", include_in_schema=False)
async def postmortem_markdown(incident_id: str, region: RegionDep, _: Fresh) -> Response:
    """A published postmortem, Markdown."""
    pm, _position = await _read(region, incident_id, "anyone")
    return Response(
        render_markdown(pm),
        media_type="text/markdown; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


class FaultBody(BaseModel):
    kind: str = Field(max_length=20, json_schema_extra={"enum": list(DRILL_FAULTS)})
    region: str = Field(max_length=64)
    at: int = Field(ge=0, le=MAX_TIME_MS, description="unix ms")


class DrillIn(BaseModel):
    """Breaches answer 422 ``unknown_fault``, ``no_faults``, ``unknown_region``,
    ``invalid_writes``."""

    scenario: str = Field(min_length=1, max_length=100)
    faults: list[FaultBody] = Field(max_length=200)
    writes: DrillWrites | None = None
    continuity_permille: Annotated[int, Field(ge=0, le=1000)] | None = None
    cold_start_permille: Annotated[int, Field(ge=0, le=1000)] | None = None


class DrillWritten(Written):
    drill_id: str


@router.post("/v1/drills", status_code=201)
async def report_drill(
    body: DrillIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when_: When,
    idempotency_key: IdemKey = None,
) -> DrillWritten:
    """A drill's faults and measurements, for the postmortems of the
    incidents it caused (operators only; ``stormproof drill`` posts it)."""
    written = await actions.report_drill(
        region,
        caller.user_id,
        scenario=body.scenario,
        faults=[FaultIn(f.kind, f.region, f.at) for f in body.faults],
        writes=body.writes,
        continuity_permille=body.continuity_permille,
        cold_start_permille=body.cold_start_permille,
        idempotency_key=idempotency_key,
        when=when_,
    )
    seq = acknowledge(response, region, written)
    return DrillWritten(seq=seq, drill_id=written.payload.drill_id)
