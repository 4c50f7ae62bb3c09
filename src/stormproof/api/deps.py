"""Dependencies every router shares: the region, the caller, keys and ``min_seq``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response

from stormproof.actions import Written, causal_after
from stormproof.actions.accounts import Credentials, authenticate
from stormproof.errors import BadRequest, Unavailable
from stormproof.log import Position, from_token
from stormproof.region import Region

__all__ = [
    "Caller",
    "Fresh",
    "IdemKey",
    "RegionDep",
    "acknowledge",
    "decode_cursor",
    "encode_cursor",
    "position_header",
]


def _region(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


RegionDep = Annotated[Region, Depends(_region)]


async def _caller(
    region: RegionDep,
    authorization: Annotated[str | None, Header()] = None,
    after: Annotated[
        int | None,
        Header(
            alias="Stormproof-After",
            ge=0,
            description="The `Stormproof-At` of your last write: this write is ordered after it, "
            "whichever region takes it.",
        ),
    ] = None,
) -> Credentials:
    if after:
        causal_after.set(after)
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


def position_header(position: Position) -> str:
    return ".".join(map(str, position))


async def _fresh(
    region: RegionDep,
    response: Response,
    min_seq: Annotated[
        int | None,
        Query(ge=0, description="The `seq` of a write: wait until this region has applied it."),
    ] = None,
) -> Position:
    if min_seq is not None:
        partition, seq = from_token(min_seq, region.log.partitions)
        reached = await region.projector.wait_for(partition, seq, region.settings.min_seq_wait_s)
        if not reached:
            raise Unavailable(
                f"this region has not applied seq {min_seq} yet; retry or try another region",
                code="stale_view",
                position=list(region.projector.position),
            )
    response.headers["Stormproof-Region"] = region.name
    response.headers["Stormproof-Position"] = position_header(region.projector.position)
    return region.projector.position


Fresh = Annotated[Position, Depends(_fresh)]


def acknowledge(response: Response, region: Region, written: Written) -> int:
    """Mark a write's response with its sequence; return the sequence."""
    response.headers["Stormproof-Region"] = region.name
    response.headers["Stormproof-Seq"] = str(written.seq)
    response.headers["Stormproof-At"] = str(written.event.at)
    if written.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return written.seq


def encode_cursor(at: int, item_id: str) -> str:
    """A cursor for lists ordered by (time, id)."""
    return f"{at}:{item_id}"


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    at, sep, item_id = cursor.partition(":")
    if not sep or not at.isdigit() or not item_id:
        raise BadRequest("this cursor is not one we gave out", code="invalid_cursor")
    return int(at), item_id
