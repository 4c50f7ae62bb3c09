"""Incidents: read by anyone, written by operators (ADR 021).

``GET /v1/incidents`` and ``GET /v1/incidents/{id}`` are public and answered
even while this region catches up, as ``GET /v1/status`` is: the region
people reach during an outage may be replaying the log. Opening, updating,
correcting and resolving are for accounts with the ``operator`` role
(403 ``not_an_operator`` for anyone else, nothing stored); the region's own
judge does the same by itself (``status/judge.py``).
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel, Field

from stormproof.actions import incidents as actions
from stormproof.api.deps import (
    Fresh,
    IdemKey,
    OperatorCaller,
    RegionDep,
    When,
    acknowledge,
    decode_cursor,
    encode_cursor,
)
from stormproof.api.routers import api_router
from stormproof.api.schemas import Written
from stormproof.errors import NotFound
from stormproof.events import COMPONENTS, IMPACTS, INCIDENT_STATUSES, MAX_TIME_MS, Figures
from stormproof.status.figures import utc
from stormproof.views import incidents as view
from stormproof.views.incidents import Incident, Update

__all__ = ["IncidentOut", "UpdateOut", "incident_out", "router"]

router = api_router(prefix="/v1/incidents", tags=["incidents"])

_TEXT = 10_000  # the actions refuse past MAX_UPDATE_CHARS with a code of their own


class UpdateOut(BaseModel):
    id: str
    at: int = Field(description="unix ms")
    at_utc: str
    status: str
    text: str
    impact: str | None = Field(description="the impact this update set, if it changed it")
    components: list[str] = Field(description="components this update added")
    figures: Figures | None = Field(description="the numbers an automatic update carries")
    automatic: bool
    corrected: bool
    original_text: str | None = Field(description="what it said before it was corrected")


class IncidentOut(BaseModel):
    id: str
    title: str
    regions: list[str]
    components: list[str]
    impact: str
    status: str
    automatic: bool = Field(description="opened by the platform's judge, not by an operator")
    began_at: int = Field(description="when the trouble began, unix ms")
    opened_at: int
    resolved_at: int | None
    recorded_after: bool = Field(
        description="written once it was over: a blackout, when no region could record a "
        "probe round; began_at is the last round before, resolved_at the first after"
    )
    updates: list[UpdateOut] = Field(description="oldest first; the opening is the first")


class IncidentPage(BaseModel):
    items: list[IncidentOut] = Field(
        description="the latest opened first, each with its last update"
    )
    next_cursor: str | None
    position: list[int]


def _update_out(u: Update) -> UpdateOut:
    return UpdateOut(
        id=u.update_id,
        at=u.at,
        at_utc=utc(u.at),
        status=u.status,
        text=u.text,
        impact=u.impact,
        components=list(u.components),
        figures=u.figures,
        automatic=u.automatic,
        corrected=u.corrected_from is not None,
        original_text=u.corrected_from,
    )


def incident_out(i: Incident, *, last_only: bool = False) -> IncidentOut:
    updates = i.updates[-1:] if last_only else i.updates
    return IncidentOut(
        id=i.incident_id,
        title=i.title,
        regions=list(i.regions),
        components=list(i.components),
        impact=i.impact,
        status=i.status,
        automatic=i.automatic,
        began_at=i.began_at,
        opened_at=i.opened_at,
        resolved_at=i.resolved_at,
        recorded_after=i.recorded_after,
        updates=[_update_out(u) for u in updates],
    )


@router.get("")
async def list_incidents(
    region: RegionDep,
    _: Fresh,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    open: Annotated[bool, Query(description="only those not resolved")] = False,
) -> IncidentPage:
    """Open and recent incidents, the latest opened first, each with its
    last update; pass ``next_cursor`` back for older ones. No sign-in needed."""
    before = decode_cursor(cursor)

    def read(db: sqlite3.Connection) -> tuple[list[Incident], list[int]]:
        db.execute("BEGIN")
        try:
            found = view.incidents(db, limit=limit, before=before, open_only=open)
            return found, list(region.store.position(db))
        finally:
            db.execute("COMMIT")

    found, position = await region.store.query(read)
    last = found[-1] if len(found) == limit else None
    return IncidentPage(
        items=[incident_out(i, last_only=True) for i in found],
        next_cursor=encode_cursor(last.opened_at, last.incident_id) if last else None,
        position=position,
    )


@router.get("/{incident_id}")
async def get_incident(incident_id: str, region: RegionDep, _: Fresh) -> IncidentOut:
    """An incident with every update, oldest first. No sign-in needed."""
    found = await region.store.query(lambda db: view.incident(db, incident_id))
    if found is None:
        raise NotFound("no such incident", code="incident_not_found")
    return incident_out(found)


class IncidentIn(BaseModel):
    """The schema states the rules; the action checks them itself, so a
    breach answers 422 with ``unknown_region``, ``unknown_component``,
    ``invalid_impact``, ``invalid_status``, ``empty_title`` or ``empty_text``."""

    title: str = Field(max_length=1000)
    regions: list[str] = Field(max_length=100)
    components: list[str] = Field(
        max_length=20, json_schema_extra={"items": {"enum": list(COMPONENTS)}}
    )
    impact: str = Field(max_length=20, json_schema_extra={"enum": list(IMPACTS)})
    text: str = Field(max_length=_TEXT)
    status: str = Field(
        "investigating", max_length=20, json_schema_extra={"enum": list(INCIDENT_STATUSES[:-1])}
    )
    began_at: int | None = Field(
        None, ge=0, le=MAX_TIME_MS, description="unix ms; now if not given"
    )


class IncidentWritten(Written):
    incident: IncidentOut


async def _answer(region: RegionDep, incident_id: str, seq: int) -> IncidentOut:
    found = await region.store.query(lambda db: view.incident(db, incident_id))
    assert found is not None, f"incident {incident_id} written at {seq} is not in the views"
    return incident_out(found)


@router.post("", status_code=201)
async def open_incident(
    body: IncidentIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> IncidentWritten:
    """Open an incident by hand (operators only)."""
    written = await actions.open_incident(
        region,
        caller.user_id,
        title=body.title,
        regions=body.regions,
        components=body.components,
        impact=body.impact,
        text=body.text,
        status=body.status,
        began_at=body.began_at,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, written)
    return IncidentWritten(
        seq=seq, incident=await _answer(region, written.payload.incident_id, seq)
    )


class UpdateIn(BaseModel):
    """``status`` ``resolved`` resolves the incident, for good. Breaches
    answer 422 ``invalid_status``, ``empty_text``, ``invalid_impact``,
    ``unknown_component``; a resolved incident 409 ``incident_resolved``."""

    status: str = Field(max_length=20, json_schema_extra={"enum": list(INCIDENT_STATUSES)})
    text: str = Field(max_length=_TEXT)
    impact: str | None = Field(None, max_length=20, json_schema_extra={"enum": list(IMPACTS)})
    components: list[str] = Field([], max_length=20, description="components affected as well")


@router.post("/{incident_id}/updates", status_code=201)
async def post_update(
    incident_id: str,
    body: UpdateIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> IncidentWritten:
    """Post an update: a new status, what people are told, maybe a new
    impact (operators only)."""
    written = await actions.post_update(
        region,
        caller.user_id,
        incident_id,
        status=body.status,
        text=body.text,
        impact=body.impact,
        components=body.components,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, written)
    return IncidentWritten(seq=seq, incident=await _answer(region, incident_id, seq))


class CorrectionIn(BaseModel):
    text: str = Field(max_length=_TEXT)


@router.post("/{incident_id}/updates/{update_id}/correction", status_code=201)
async def correct_update(
    incident_id: str,
    update_id: str,
    body: CorrectionIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> IncidentWritten:
    """Correct what an update said (the opening's id is the incident's);
    the first text stays visible as ``original_text`` (operators only)."""
    written = await actions.correct_update(
        region,
        caller.user_id,
        incident_id,
        update_id,
        text=body.text,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, written)
    return IncidentWritten(seq=seq, incident=await _answer(region, incident_id, seq))
