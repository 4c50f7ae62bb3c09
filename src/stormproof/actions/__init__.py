"""Write paths: each is one named action that validates, appends, and returns.

Every action follows the same steps (zulip's ``do_*`` actions):

1. If the idempotency key was already applied, answer from the stored event
   — a retry never creates a second event and gets the first answer.
2. Validate against the views; bad input raises a 4xx error and stores nothing.
3. Append one event to the log under the key; the log acknowledges only when
   the event is durable.
4. Wait briefly for this region's views to apply it, so the caller reads its
   own write here without passing ``min_seq``.

A write is a pure function of its key and request: the event id and every
id in the payload derive from the key, and its time is the client's
``Stormproof-Write-At`` when given (the SDK sends the same one on every
retry). So a retry that lands in another region — because the first region
died or froze mid-request — appends an identical event, which the views apply
once. Without that header the time comes from the region's clock, moved past
``Stormproof-After`` (the time of the caller's last write) so a user's own
actions stay ordered whichever region takes them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from stormproof.errors import BadRequest, Unprocessable
from stormproof.events import Event, Payload, new_event
from stormproof.log import Entry, event_id_for, to_token
from stormproof.region import Region
from stormproof.views.keys import event_of_key

__all__ = [
    "Written",
    "causal_after",
    "client_write_at",
    "derived_id",
    "event_time",
    "log_key",
    "prior",
    "write",
]

#: the time of the caller's last acknowledged write, if it told us
causal_after: ContextVar[int] = ContextVar("causal_after", default=0)
#: the time the client stamped on this write, the same on every retry
client_write_at: ContextVar[int] = ContextVar("client_write_at", default=0)


@dataclass(frozen=True)
class Written:
    """An acknowledged write: ``event`` at ``seq`` (a token for ``min_seq``)."""

    seq: int
    event: Event
    replayed: bool = False


def log_key(actor: str, scope: str, idempotency_key: str | None) -> str:
    """The log key of a write: the client's key, namespaced by actor and action."""
    return f"{actor or 'anon'}:{scope}:{idempotency_key or uuid.uuid4().hex}"


def derived_id(prefix: str, key: str) -> str:
    """An id for something a write creates: the same for every retry."""
    return prefix + hashlib.sha256(f"{prefix}{key}".encode()).hexdigest()[:32]


def event_time(region: Region) -> int:
    """The ``at`` of the write being made now."""
    return client_write_at.get() or region.clock.tick(causal_after.get())


def _written(region: Region, entry: Entry, expected_type: str, replayed: bool) -> Written:
    if entry.event.type != expected_type:
        raise Unprocessable(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
        )
    seq = to_token(entry.partition, entry.seq, region.log.partitions)
    return Written(seq=seq, event=entry.event, replayed=replayed)


async def prior(region: Region, key: str, expected_type: str) -> Written | None:
    """The write an earlier request with this key produced, if any."""
    entry = await region.store.query(lambda db: event_of_key(db, key))
    return None if entry is None else _written(region, entry, expected_type, True)


#: what a log key may be: printable ASCII (it travels as a NATS header), bounded
_LOG_KEY = re.compile(r"[\x20-\x7e]{1,512}")


async def write(
    region: Region, key: str, payload: Payload, *, actor: str, at: int | None = None
) -> Written:
    """Append a validated payload under ``key`` and wait for the local views."""
    if not _LOG_KEY.fullmatch(key):
        raise BadRequest("this write's key is not printable ASCII", code="invalid_key")
    event = new_event(payload, actor=actor, at=at or event_time(region), id=event_id_for(key))
    entry = await region.log.append(key, event, partition=region.settings.region_index)
    await region.projector.wait_for(entry.partition, entry.seq, region.settings.min_seq_wait_s)
    return _written(region, entry, payload.TYPE, entry.duplicate)
