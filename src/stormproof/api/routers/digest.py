"""``GET /v1/digest``: this region's view digests, to compare regions."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from stormproof.api.deps import Operator, RegionDep
from stormproof.api.routers import api_router

router = api_router(prefix="/v1", tags=["health"])


class DigestOut(BaseModel):
    region: str
    position: list[int]
    views: dict[str, str]


@router.get("/digest")
async def digest(region: RegionDep, _: Operator) -> DigestOut:
    """Each view's digest and the log position it stands at, read in one
    transaction. Two regions at the same position must show the same digests.
    For operators only: it holds the view store's write lock while it reads
    every table."""
    taken = await asyncio.to_thread(region.store.digests)
    return DigestOut(region=region.name, position=taken["position"], views=taken["views"])
