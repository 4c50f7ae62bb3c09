"""``GET /v1/health``: is this region serving, and (for operators) how far
behind are its views."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from fastapi import APIRouter, Request
from pydantic import BaseModel

from stormproof.api.deps import BearerDoc, RegionDep
from stormproof.operators import is_operator
from stormproof.region import Region
from stormproof.views.quarantine import quarantined_count

router = APIRouter(prefix="/v1", tags=["health"])


class ViewHealth(BaseModel):
    position: list[int]
    lag: int


class Health(BaseModel):
    region: str
    ready: bool
    #: the rest only for operators (null otherwise)
    log: list[int] | None = None
    log_seq: int | None = None
    views: dict[str, ViewHealth] | None = None
    #: log entries no view could apply, set aside (views/quarantine.py)
    quarantined: int | None = None
    error: str | None = None


@router.get("/health", response_model_exclude_none=True)
async def health(region: RegionDep, request: Request, _: BearerDoc) -> Health:
    """``ready`` is true once the views have caught up with the log as it
    stood when the region started, and while they follow it without error;
    until then other requests get 503 ``not_ready`` so clients go to another
    region. With the operator token: the log's last sequence per partition
    (``log``, summed in ``log_seq``), how many entries each view still has to
    apply (every view applies the same transactions, so they share one
    position), how many entries are quarantined, and a failing view's error."""
    error = region.projector.error
    ready = region.ready and error is None
    if not is_operator(region.secret, request.headers.get("authorization")):
        return Health(region=region.name, ready=ready)
    state = await region_state(region)
    lag = sum(max(0, last - seq) for last, seq in zip(state.log, state.position, strict=True))
    return Health(
        region=region.name,
        ready=ready,
        log=state.log,
        log_seq=sum(state.log),
        views={
            view.name: ViewHealth(position=state.position, lag=lag) for view in region.store.views
        },
        quarantined=state.quarantined,
        error=error.message if error else None,
    )


@dataclass(frozen=True)
class RegionState:
    """What operators see of a region (``/v1/health``'s details, ``/metrics``)."""

    ready: bool
    #: the log's last sequence, and the views' position, per partition
    log: list[int]
    position: list[int]
    quarantined: int


async def region_state(region: Region) -> RegionState:
    log = await region.log.last_seqs()

    def read(db: sqlite3.Connection) -> tuple[list[int], int]:
        return list(region.store.position(db)), quarantined_count(db)

    position, quarantined = await region.store.query(read)
    ready = region.ready and region.projector.error is None
    return RegionState(ready, log, position, quarantined)
