"""Dependencies every router shares: the region, the caller, keys and ``min_seq``."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from pydantic import NonNegativeInt

from stormproof.actions import Written, causal_after, client_write_at
from stormproof.actions.accounts import Credentials, authenticate
from stormproof.api.limits import limits_of
from stormproof.errors import BadRequest, Unavailable, Unprocessable
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
    "write_clock",
]


def _region(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


RegionDep = Annotated[Region, Depends(_region)]


#: how far a client's write time may run ahead of ours, or lag behind it
_AHEAD_MS = 60_000
_BEHIND_MS = 24 * 3600 * 1000


async def write_clock(
    after: Annotated[
        int | None,
        Header(
            alias="Stormproof-After",
            ge=0,
            description="The `Stormproof-At` of your last write: this write is ordered after "
            "it, whichever region takes it.",
        ),
    ] = None,
    write_at: Annotated[
        int | None,
        Header(
            alias="Stormproof-Write-At",
            ge=0,
            description="Your time for this write (unix ms), the same on every retry: a retry "
            "that reaches another region then writes the very same event.",
        ),
    ] = None,
) -> None:
    """Take the client's clock headers into this request's write context."""
    if after:
        causal_after.set(after)
    if write_at:
        now = int(time.time() * 1000)
        if not now - _BEHIND_MS <= write_at <= now + _AHEAD_MS:
            raise Unprocessable(
                "Stormproof-Write-At is too far from the server's clock", code="clock_skew"
            )
        client_write_at.set(max(write_at, (after or 0) + 1))


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
        list[NonNegativeInt] | None,
        Query(
            description="The `seq` of writes you made (repeat for several): wait until this "
            "region has applied them.",
        ),
    ] = None,
) -> Position:
    for token in min_seq or ():
        partition, seq = from_token(token, region.log.partitions)
        reached = await region.projector.wait_for(partition, seq, region.settings.min_seq_wait_s)
        if not reached:
            raise Unavailable(
                f"this region has not applied seq {token} yet; retry or try another region",
                code="stale_view",
                position=list(region.projector.position),
            )
    response.headers["Stormproof-Region"] = region.name
    response.headers["Stormproof-Position"] = position_header(region.projector.position)
    return region.projector.position


Fresh = Annotated[Position, Depends(_fresh)]


async def _caller(
    region: RegionDep,
    _: Fresh,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Credentials:
    # After min_seq: a session started in another region is known here first.
    caller = await authenticate(region, authorization)
    limits_of(request).check_write(request.method, caller.user_id)
    return caller


Caller = Annotated[Credentials, Depends(_caller)]


def acknowledge(response: Response, region: Region, written: Written) -> int:
    """Mark a write's response with its sequence; return the sequence."""
    response.headers["Stormproof-Region"] = region.name
    response.headers["Stormproof-Seq"] = str(written.seq)
    response.headers["Stormproof-At"] = str(written.event.at)
    response.headers["Stormproof-Partitions"] = str(region.log.partitions)
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
