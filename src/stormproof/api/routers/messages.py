"""Direct messages: send, list conversations, read one, and a live stream."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from stormproof.actions import social
from stormproof.api.deps import (
    Caller,
    Fresh,
    IdemKey,
    RegionDep,
    When,
    acknowledge,
    plain_number,
    position_header,
)
from stormproof.api.routers import api_router
from stormproof.api.schemas import ConversationOut, MessageOut, Written, message_out, user_ref
from stormproof.errors import BadRequest, NotFound, TooManyRequests
from stormproof.region import Region
from stormproof.views import accounts, messages

__all__ = ["parse_last_event_id", "router"]

router = api_router(prefix="/v1", tags=["messages"])

#: a comment line is sent this often on an idle stream, so proxies keep it open
_KEEPALIVE_S = 15.0


class MessageIn(BaseModel):
    to: str
    text: str


class SentOut(MessageOut, Written):
    """The message, and the ``seq`` of its write."""


@router.post("/messages", status_code=201)
async def send(
    body: MessageIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> SentOut:
    written = await social.send_message(
        region, caller.user_id, body.to, body.text, idempotency_key=key, when=when
    )
    seq = acknowledge(response, region, written)
    sent = written.payload
    recipient = await region.store.query(lambda db: user_ref(db, sent.to_id))
    return SentOut(
        id=sent.message_id,
        seq=seq,
        sender=caller.username,
        recipient=recipient.username,
        text=sent.text,
        at=written.event.at,
    )


@router.get("/conversations")
async def conversations(region: RegionDep, caller: Caller, _: Fresh) -> list[ConversationOut]:
    """Your conversations, the most recently active first."""
    return await region.store.query(
        lambda db: [
            ConversationOut(
                id=messages.conversation_id(caller.user_id, c.other_id),
                with_user=user_ref(db, c.other_id).username,
                messages=c.count,
                last=message_out(db, c.last),
            )
            for c in messages.conversations(db, caller.user_id)
        ]
    )


@router.get("/conversations/{who}/messages")
async def conversation(
    who: str,
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    after: Annotated[str | None, Query(description="the id of the last message you have")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[MessageOut]:
    """Oldest first. ``who`` is the other participant's username, or a
    conversation id from ``/v1/conversations``. Only its two participants can
    read a conversation; anyone else gets 404, as if it did not exist."""
    pair = messages.participants(who)
    if pair is not None:
        if caller.user_id not in pair:
            raise NotFound("no such conversation", code="conversation_not_found")
        other_id = pair[1] if pair[0] == caller.user_id else pair[0]
    else:
        other = await region.store.query(lambda db: accounts.account_by_name(db, who))
        if other is None:
            raise NotFound(f"no user {who!r}", code="user_not_found")
        other_id = other.user_id

    def read(db: sqlite3.Connection) -> list[MessageOut]:
        start = None
        if after:
            last = messages.message(db, after)
            if last is None:
                raise BadRequest(f"no message {after}", code="invalid_cursor")
            start = (last.at, last.message_id)
        found = messages.conversation(db, caller.user_id, other_id, after=start, limit=limit)
        return [message_out(db, m) for m in found]

    return await region.store.query(read)


def parse_last_event_id(raw: str, partitions: int) -> list[int]:
    """The position a ``Last-Event-ID`` names; 400 for anything this stream
    could not have sent."""
    parts = raw.split(".")
    if len(parts) != partitions or not all(plain_number(p) for p in parts):
        raise BadRequest("Last-Event-ID is an id this stream sent", code="invalid_last_event_id")
    return [int(p) for p in parts]


async def _stream(
    request: Request, region: Region, user_id: str, start: list[int]
) -> AsyncIterator[str]:
    """Messages in log order, partition by partition. Each event's id is the
    position up to which this user has every message, so a reconnect (to any
    region) with ``Last-Event-ID`` resumes without loss; a message may come
    twice around a failover, with the same ``id`` field in its data."""
    yield ": connected\n\n"
    position = list(start)
    while not await request.is_disconnected():
        upto = region.projector.position
        for partition, last in enumerate(upto):
            if last <= position[partition]:
                continue
            found = await region.store.query(
                lambda db, p=partition, a=position[partition], u=last: [  # type: ignore[misc]
                    (seq, message_out(db, m))
                    for seq, m in messages.inbox(db, user_id, partition=p, after_seq=a, upto_seq=u)
                ]
            )
            for seq, message in found:
                position[partition] = seq
                data = json.dumps(message.model_dump())
                yield f"id: {position_header(tuple(position))}\nevent: message\ndata: {data}\n\n"
            position[partition] = last
        # Nothing past the client's position (which may lie *ahead* of this
        # region: it resumed here after failing over from a region further
        # on): wait for the views to move, never spin.
        if all(last <= at for last, at in zip(region.projector.position, position, strict=True)):
            before = region.projector.position
            await region.projector.wait_advanced(_KEEPALIVE_S)
            if region.projector.position == before:
                yield ": keepalive\n\n"


@router.get("/messages/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    region: RegionDep,
    caller: Caller,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events, one ``message`` event per message you send or
    receive. Each event's id is a log position: reconnect with
    ``Last-Event-ID`` (browsers do it themselves) and nothing is lost. Without
    it the stream starts with every message you have."""
    partitions = region.log.partitions
    start = parse_last_event_id(last_event_id, partitions) if last_event_id else [0] * partitions
    streams: Counter[str] = request.app.state.streams
    if streams[caller.user_id] >= region.settings.max_streams_per_user:
        raise TooManyRequests(
            f"at most {region.settings.max_streams_per_user} live streams per person; "
            "close one first",
            code="too_many_streams",
            retry_after=int(_KEEPALIVE_S),
        )
    streams[caller.user_id] += 1

    def release() -> None:  # after the stream ends, however it ends
        streams[caller.user_id] -= 1
        if streams[caller.user_id] <= 0:
            del streams[caller.user_id]

    return StreamingResponse(
        _stream(request, region, caller.user_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(release),
    )
