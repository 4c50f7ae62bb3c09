"""Direct messages: send, list conversations, read one, and a live stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from stormproof.actions import social
from stormproof.api.deps import Caller, Fresh, IdemKey, RegionDep, acknowledge
from stormproof.api.schemas import ConversationOut, MessageOut, message_out, user_ref
from stormproof.errors import BadRequest, NotFound
from stormproof.events import MessageSent
from stormproof.region import Region
from stormproof.views import accounts, messages

router = APIRouter(prefix="/v1", tags=["messages"])

#: a comment line is sent this often on an idle stream, so proxies keep it open
_KEEPALIVE_S = 15.0


class MessageIn(BaseModel):
    to: str
    text: str


@router.post("/messages", status_code=201)
async def send(
    body: MessageIn, region: RegionDep, caller: Caller, response: Response, key: IdemKey = None
) -> MessageOut:
    written = await social.send_message(
        region, caller.user_id, body.to, body.text, idempotency_key=key
    )
    acknowledge(response, region, written)
    sent = written.event.data
    assert isinstance(sent, MessageSent)
    recipient = await region.store.query(lambda db: user_ref(db, sent.to_id))
    return MessageOut(
        id=sent.message_id,
        seq=written.seq,
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
    after_seq: Annotated[int, Query(ge=0)] = 0,
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
    return await region.store.query(
        lambda db: [
            message_out(db, m)
            for m in messages.conversation(
                db, caller.user_id, other_id, after_seq=after_seq, limit=limit
            )
        ]
    )


async def _stream(request: Request, region: Region, user_id: str, after: int) -> AsyncIterator[str]:
    yield ": connected\n\n"
    position = after
    while not await request.is_disconnected():
        batch = await region.store.query(
            lambda db, after=position: [  # type: ignore[misc]
                message_out(db, m) for m in messages.inbox(db, user_id, after_seq=after, limit=100)
            ]
        )
        for message in batch:
            position = message.seq
            yield f"id: {message.seq}\nevent: message\ndata: {json.dumps(message.model_dump())}\n\n"
        if not batch:
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
    after_seq: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """Server-sent events, one ``message`` event per message you send or
    receive. Each event's id is its log sequence: reconnect with
    ``Last-Event-ID`` (browsers do it themselves) and nothing is lost."""
    if last_event_id is not None and not last_event_id.isdigit():
        raise BadRequest("Last-Event-ID is a sequence number", code="invalid_last_event_id")
    after = int(last_event_id) if last_event_id is not None else (after_seq or 0)
    return StreamingResponse(
        _stream(request, region, caller.user_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
