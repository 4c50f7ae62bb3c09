"""Dependencies every router shares: the region, the caller, keys and ``min_seq``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response

from stormproof.actions import Written
from stormproof.actions.accounts import Credentials, authenticate
from stormproof.errors import Unavailable
from stormproof.region import Region

__all__ = ["Caller", "Fresh", "IdemKey", "RegionDep", "acknowledge"]


def _region(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


RegionDep = Annotated[Region, Depends(_region)]


async def _caller(
    region: RegionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Credentials:
    return await authenticate(region, authorization)


Caller = Annotated[Credentials, Depends(_caller)]

IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Send a request again with the same key: you get the first answer back "
        "and nothing new is created.",
    ),
]


async def _fresh(
    region: RegionDep,
    response: Response,
    min_seq: Annotated[
        int | None,
        Query(ge=0, description="Wait until this region's views have applied this sequence."),
    ] = None,
) -> int:
    if min_seq is not None:
        reached = await region.projector.wait_for(min_seq, region.settings.min_seq_wait_s)
        if not reached:
            raise Unavailable(
                f"this region's views are behind sequence {min_seq}; retry or try another region",
                code="stale_view",
                position=region.projector.position,
            )
    response.headers["X-Stormproof-Region"] = region.name
    response.headers["X-Stormproof-Seq"] = str(region.projector.position)
    return region.projector.position


Fresh = Annotated[int, Depends(_fresh)]


def acknowledge(response: Response, region: Region, written: Written) -> int:
    """Mark a write's response with its sequence; return the sequence."""
    response.headers["X-Stormproof-Region"] = region.name
    response.headers["X-Stormproof-Seq"] = str(written.seq)
    if written.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return written.seq
