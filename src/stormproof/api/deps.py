"""Dependencies every router shares: the region, the caller, keys and ``min_seq``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from stormproof.actions import WriteTime, Written
from stormproof.actions.accounts import Credentials, authenticate
from stormproof.actions.roles import require_role
from stormproof.api.limits import limits_of
from stormproof.api.traffic import PERSON
from stormproof.clock import MAX_BEHIND_MS, Clock, ClockSkew, now_ms
from stormproof.errors import BadRequest, Unauthorized, Unavailable
from stormproof.events import ID_PATTERN, MAX_INT, MAX_TIME_MS
from stormproof.log import Position, from_token
from stormproof.operators import is_operator
from stormproof.region import Region

__all__ = [
    "BearerDoc",
    "Caller",
    "Fresh",
    "IdemKey",
    "MaybeCaller",
    "Operator",
    "OperatorCaller",
    "RegionDep",
    "When",
    "acknowledge",
    "decode_cursor",
    "encode_cursor",
    "plain_number",
    "position_header",
    "wait_for_tokens",
    "write_clock",
]


def _region(request: Request) -> Region:
    region: Region = request.app.state.region
    return region


RegionDep = Annotated[Region, Depends(_region)]


async def write_clock(
    request: Request,
    after: Annotated[
        int | None,
        Header(
            alias="Stormproof-After",
            ge=0,
            le=MAX_TIME_MS,
            description="The `Stormproof-At` of your last write: this write is ordered after "
            "it, whichever region takes it. At most a minute ahead of the server's clock.",
        ),
    ] = None,
    write_at: Annotated[
        int | None,
        Header(
            alias="Stormproof-Write-At",
            ge=0,
            le=MAX_TIME_MS,
            description="Your time for this write (unix ms), the same on every retry: a retry "
            "that reaches another region then writes the very same event. Within a minute "
            "ahead and a day behind the server's clock.",
        ),
    ] = None,
) -> WriteTime:
    """The client's clock headers as this write's time, refusing (422
    ``clock_skew``) any that would move the region's clock further than the
    allowed skew."""
    clock: Clock = request.app.state.region.clock
    if after:
        clock.check(after + 1, what="Stormproof-After")
    stamped = 0
    if write_at:
        stamped = max(write_at, (after or 0) + 1)
        clock.check(stamped, what="Stormproof-Write-At")
        if write_at < now_ms() - MAX_BEHIND_MS:
            raise ClockSkew("Stormproof-Write-At is too far behind the server's clock")
    return WriteTime(at=stamped, after=after or 0)


#: a write's time as its client asked (``Stormproof-Write-At``, ``Stormproof-After``)
When = Annotated[WriteTime, Depends(write_clock)]


IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Send a request again with the same key: you get the first answer back "
        "and nothing new is created. 1-200 printable ASCII characters, no spaces.",
    ),
]


def position_header(position: Position) -> str:
    return ".".join(map(str, position))


#: what an id in a cursor looks like (as ``events.Id``)
_ID = re.compile(ID_PATTERN)
#: a read may wait for this many of the caller's writes
MAX_MIN_SEQ = 16


async def wait_for_tokens(region: Region, tokens: Sequence[int | str]) -> None:
    """Wait until this region's views applied every ``min_seq`` token; 503
    ``stale_view`` if they do not within ``min_seq_wait_s`` (all of them)."""
    if len(tokens) > MAX_MIN_SEQ:
        raise BadRequest(f"at most {MAX_MIN_SEQ} min_seq values", code="invalid_min_seq")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + region.settings.min_seq_wait_s
    for token in tokens:
        if isinstance(token, str) and not plain_number(token):
            raise BadRequest("min_seq is a seq a write answered with", code="invalid_min_seq")
        partition, seq = from_token(int(token), region.log.partitions)
        remaining = max(0.0, deadline - loop.time())
        if not await region.projector.wait_for(partition, seq, remaining):
            raise Unavailable(
                f"this region has not applied seq {token} yet; retry or try another region",
                code="stale_view",
                position=list(region.projector.position),
            )


async def _fresh(
    region: RegionDep,
    response: Response,
    min_seq: Annotated[
        list[Annotated[int, Field(ge=0, le=MAX_INT)]] | None,
        Query(
            max_length=MAX_MIN_SEQ,
            description="The `seq` of writes you made (repeat for several): wait until this "
            "region has applied them.",
        ),
    ] = None,
) -> Position:
    await wait_for_tokens(region, min_seq or ())
    response.headers["Stormproof-Region"] = region.name
    response.headers["Stormproof-Position"] = position_header(region.projector.position)
    return region.projector.position


Fresh = Annotated[Position, Depends(_fresh)]


#: documents the token in the OpenAPI contract (the "Authorize" button of
#: /docs); the header itself is read and checked by ``authenticate``
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="session",
    description="`token` from `POST /v1/sessions` (or the operator token for "
    "`/v1/digest` and the details of `/v1/health`)",
)
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]


async def _caller(
    region: RegionDep,
    _: Fresh,
    request: Request,
    __: BearerDoc,
) -> Credentials:
    # After min_seq: a session started in another region is known here first.
    caller = await authenticate(region, request.headers.get("authorization"))
    setattr(request.state, PERSON, caller.user_id)  # one of the people served
    limits_of(request).check_write(request.method, caller.user_id)
    return caller


Caller = Annotated[Credentials, Depends(_caller)]


async def _maybe_caller(
    region: RegionDep,
    _: Fresh,
    request: Request,
    __: BearerDoc,
) -> Credentials | None:
    """The caller of a read that anyone may make, if they sent a token (a
    token sent must be valid: 401 otherwise)."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return None
    caller = await authenticate(region, authorization)
    setattr(request.state, PERSON, caller.user_id)
    return caller


MaybeCaller = Annotated[Credentials | None, Depends(_maybe_caller)]


def acknowledge(response: Response, region: Region, written: Written[Any]) -> int:
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


def plain_number(text: str) -> bool:
    """ASCII digits that fit SQLite's INTEGER (``str.isdigit`` also takes '²')."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    """``(time, id)`` of a cursor made by :func:`encode_cursor`; 400 otherwise."""
    if not cursor:
        return None
    at, sep, item_id = cursor.partition(":")
    if not sep or not plain_number(at) or not _ID.fullmatch(item_id):
        raise BadRequest("this cursor is not one we gave out", code="invalid_cursor")
    return int(at), item_id


async def _operator(region: RegionDep, request: Request, _: BearerDoc) -> None:
    if not is_operator(region.secret, request.headers.get("authorization")):
        raise Unauthorized(
            "this is for the region's operators: send 'Authorization: Bearer <operator token>' "
            "(`stormproof operator-token --data DIR` prints it)",
            code="operator_only",
        )


#: a route only the region's operators may call (see ``stormproof.operators``)
Operator = Annotated[None, Depends(_operator)]


async def _operator_caller(region: RegionDep, caller: Caller) -> Credentials:
    """The caller, who must hold the ``operator`` role (403 ``not_an_operator``),
    checked before the request's body: a non-operator learns nothing more."""
    await require_role(region, caller.user_id, "operator")
    return caller


#: a signed-in account with the operator role (ADR 021): incidents, maintenance
OperatorCaller = Annotated[Credentials, Depends(_operator_caller)]
