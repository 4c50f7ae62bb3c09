"""Scheduled maintenance: read by anyone, planned by operators (ADR 021).

While a window is in progress, the components it holds read "under
maintenance" on ``GET /v1/status``, and their failing probes open no
incident.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel, Field

from stormproof.actions import incidents as actions
from stormproof.api.deps import Fresh, IdemKey, OperatorCaller, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Written
from stormproof.errors import NotFound
from stormproof.events import COMPONENTS, MAX_TIME_MS
from stormproof.views import incidents as view
from stormproof.views.incidents import Window, WindowState

__all__ = ["WindowOut", "router", "window_out"]

router = api_router(prefix="/v1/maintenance", tags=["incidents"])


class WindowOut(BaseModel):
    id: str
    title: str
    regions: list[str]
    components: list[str]
    state: WindowState = Field(description="scheduled, in_progress or completed, as of now")
    starts_at: int = Field(description="unix ms")
    ends_at: int = Field(description="as scheduled, or when it was completed early")
    scheduled_ends_at: int
    text: str
    completed_text: str | None


def window_out(w: Window, now: int) -> WindowOut:
    return WindowOut(
        id=w.maintenance_id,
        title=w.title,
        regions=list(w.regions),
        components=list(w.components),
        state=w.state(now),
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        scheduled_ends_at=w.scheduled_ends_at,
        text=w.text,
        completed_text=w.completed_text,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


class WindowPage(BaseModel):
    items: list[WindowOut] = Field(description="the earliest starting first")


@router.get("")
async def list_windows(
    region: RegionDep,
    _: Fresh,
    days: Annotated[
        int, Query(ge=0, le=90, description="and those that ended this many days ago")
    ] = 7,
) -> WindowPage:
    """Maintenance scheduled, in progress, and completed in the last ``days``."""
    now = _now_ms()

    def read(db: sqlite3.Connection) -> list[Window]:
        return view.windows(db, ending_after=now - days * 86_400_000)

    return WindowPage(items=[window_out(w, now) for w in await region.store.query(read)])


@router.get("/{maintenance_id}")
async def get_window(maintenance_id: str, region: RegionDep, _: Fresh) -> WindowOut:
    found = await region.store.query(lambda db: view.window(db, maintenance_id))
    if found is None:
        raise NotFound("no such maintenance", code="maintenance_not_found")
    return window_out(found, _now_ms())


class WindowIn(BaseModel):
    """Breaches answer 422 ``unknown_region``, ``unknown_component``,
    ``invalid_window`` (it ends before it starts, or lasts over 7 days),
    ``window_in_the_past``, ``empty_title``, ``empty_text``."""

    title: str = Field(max_length=1000)
    regions: list[str] = Field(max_length=100)
    components: list[str] = Field(
        max_length=20, json_schema_extra={"items": {"enum": list(COMPONENTS)}}
    )
    starts_at: int = Field(ge=0, le=MAX_TIME_MS, description="unix ms")
    ends_at: int = Field(ge=0, le=MAX_TIME_MS, description="unix ms")
    text: str = Field(max_length=10_000)


class WindowWritten(Written):
    maintenance: WindowOut


async def _answer(region: RegionDep, maintenance_id: str) -> WindowOut:
    found = await region.store.query(lambda db: view.window(db, maintenance_id))
    assert found is not None
    return window_out(found, _now_ms())


@router.post("", status_code=201)
async def schedule(
    body: WindowIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> WindowWritten:
    """Schedule maintenance (operators only)."""
    written = await actions.schedule_maintenance(
        region,
        caller.user_id,
        title=body.title,
        regions=body.regions,
        components=body.components,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        text=body.text,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, written)
    return WindowWritten(seq=seq, maintenance=await _answer(region, written.payload.maintenance_id))


class CompleteIn(BaseModel):
    text: str = Field("", max_length=10_000)


@router.post("/{maintenance_id}/complete", status_code=201)
async def complete(
    maintenance_id: str,
    body: CompleteIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> WindowWritten:
    """End a window now: the work is done, or called off (operators only)."""
    written = await actions.complete_maintenance(
        region,
        caller.user_id,
        maintenance_id,
        text=body.text,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, written)
    return WindowWritten(seq=seq, maintenance=await _answer(region, maintenance_id))
