"""``GET /v1/health``: is this region serving, and how far behind are its views."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from stormproof.api.deps import RegionDep

router = APIRouter(prefix="/v1", tags=["health"])


class ViewHealth(BaseModel):
    seq: int
    lag: int


class Health(BaseModel):
    region: str
    ready: bool
    log_seq: int
    views: dict[str, ViewHealth]
    error: str | None


@router.get("/health")
async def health(region: RegionDep) -> Health:
    """``ready`` is true while the views follow the log without error."""
    log_seq = await region.log.last_seq()
    positions = await region.store.query(region.store.positions)
    error = region.projector.error
    return Health(
        region=region.name,
        ready=error is None,
        log_seq=log_seq,
        views={
            name: ViewHealth(seq=seq, lag=max(0, log_seq - seq))
            for name, seq in sorted(positions.items())
        },
        error=error.message if error else None,
    )
