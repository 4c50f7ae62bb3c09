"""``GET /v1/health``: is this region serving, and (for operators) how far
behind are its views, and how far it has caught up since it started."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from stormproof.api.deps import BearerDoc, RegionDep
from stormproof.api.routers import api_router
from stormproof.catch_up import CatchUpProgress, Phase
from stormproof.operators import is_operator
from stormproof.region import Region
from stormproof.snapshots import RestoreReport
from stormproof.views.quarantine import quarantined_count

router = api_router(prefix="/v1", tags=["health"])


class ViewHealth(BaseModel):
    position: list[int]
    lag: int


class CatchUpHealth(BaseModel):
    """How far a region that is not ready yet has caught up."""

    phase: Phase = Field(
        description="`snapshot`: taking a verified snapshot of a peer's views (this region's "
        "are gone; `remaining` is what its views still miss); `engine`: replaying the log "
        "into the For You engine up to the views' position; `views`: applying the log to the "
        "views up to where it stood at start"
    )
    remaining: int = Field(description="log entries this phase still has to apply, all partitions")
    applied: int = Field(description="log entries applied since the catch-up began")
    per_s: float | None = Field(
        description="entries applied per second over the last few seconds; null until measured"
    )
    eta_s: float | None = Field(
        description="seconds left at that rate (`remaining / per_s`); null until a rate is known"
    )


class Health(BaseModel):
    region: str
    ready: bool
    #: the rest only for operators (absent otherwise)
    log: list[int] | None = None
    log_seq: int | None = None
    views: dict[str, ViewHealth] | None = None
    #: log entries no view could apply, set aside (views/quarantine.py)
    quarantined: int | None = None
    #: while the region catches up (absent once it is ready)
    catch_up: CatchUpHealth | None = None
    #: when this region's views were gone at start: whose snapshot it took
    #: (where, how big, how long) or why it took none (ADR 017)
    restored: RestoreReport | None = None
    error: str | None = None


@router.get("/health", response_model_exclude_unset=True)
async def health(region: RegionDep, request: Request, _: BearerDoc) -> Health:
    """``ready`` is true once the region has caught up with the log as it
    stood when it started — the For You engine, then the views — and while
    its views follow the log without error; until then other requests get 503
    ``not_ready`` so clients go to another region. With the operator token:
    the log's last sequence per partition (``log``, summed in ``log_seq``),
    how many entries each view still has to apply (every view applies the
    same transactions, so they share one position), how many entries are
    quarantined, while the region catches up how far it is (``catch_up``),
    and the error that stops a view or the catch-up."""
    if not is_operator(region.secret, request.headers.get("authorization")):
        error = region.failure or region.projector.error
        return Health(region=region.name, ready=region.ready and error is None)
    state = await region_state(region)
    lag = sum(max(0, last - seq) for last, seq in zip(state.log, state.position, strict=True))
    # Unset fields are left out of the answer; a field set to None reads null.
    optional: dict[str, Any] = {}
    if state.catch_up is not None:
        optional["catch_up"] = CatchUpHealth(**dataclasses.asdict(state.catch_up))
    if region.restored is not None and region.restored.skipped is None:
        optional["restored"] = region.restored
    if state.error is not None:
        optional["error"] = state.error
    return Health(
        region=region.name,
        ready=state.ready,
        log=state.log,
        log_seq=sum(state.log),
        views={
            view.name: ViewHealth(position=state.position, lag=lag) for view in region.store.views
        },
        quarantined=state.quarantined,
        **optional,
    )


@dataclass(frozen=True)
class RegionState:
    """What operators see of a region (``/v1/health``'s details, ``/metrics``)."""

    ready: bool
    #: the log's last sequence, and the views' position, per partition
    log: list[int]
    position: list[int]
    quarantined: int
    #: how far the catch-up is, while there is one
    catch_up: CatchUpProgress | None
    #: what stops the views (for a while) or the catch-up (for good)
    error: str | None


async def region_state(region: Region) -> RegionState:
    log = await region.log.last_seqs()

    def read(db: sqlite3.Connection) -> tuple[list[int], int]:
        return list(region.store.position(db)), quarantined_count(db)

    position, quarantined = await region.store.query(read)
    error = region.failure or region.projector.error
    catch_up = region.catching_up.progress() if region.catching_up is not None else None
    return RegionState(
        ready=region.ready and error is None,
        log=log,
        position=position,
        quarantined=quarantined,
        catch_up=catch_up,
        error=error.message if error is not None else None,
    )
