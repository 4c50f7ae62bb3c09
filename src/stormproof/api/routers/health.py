"""``GET /v1/health``: is this region serving, and how far behind are its views."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from stormproof.api.deps import RegionDep

router = APIRouter(prefix="/v1", tags=["health"])


class ViewHealth(BaseModel):
    position: list[int]
    lag: int


class Health(BaseModel):
    region: str
    ready: bool
    log: list[int]
    log_seq: int
    views: dict[str, ViewHealth]
    error: str | None


@router.get("/health")
async def health(region: RegionDep) -> Health:
    """The log's last sequence per partition (``log``, summed in ``log_seq``),
    and how many entries each view still has to apply. Every view applies the
    same transactions, so they share one position. ``ready`` is true once the
    views have caught up with the log as it stood when the region started, and
    while they follow it without error; until then other requests get 503
    ``not_ready`` so clients go to another region."""
    log = await region.log.last_seqs()
    position = list(await region.store.query(region.store.position))
    lag = sum(max(0, last - seq) for last, seq in zip(log, position, strict=True))
    error = region.projector.error
    return Health(
        region=region.name,
        ready=region.ready and error is None,
        log=log,
        log_seq=sum(log),
        views={view.name: ViewHealth(position=position, lag=lag) for view in region.store.views},
        error=error.message if error else None,
    )
