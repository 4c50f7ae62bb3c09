"""Write paths: each is one named action that validates, appends, and returns.

Every action follows the same steps (zulip's ``do_*`` actions):

1. If the idempotency key was already applied, answer from the stored event
   — a retry never creates a second event and gets the first answer — but
   only if the request is the same one: the same key with another body (a
   message to someone else, another password) is 422
   ``idempotency_key_reused``, as in Stripe's API and the IETF
   Idempotency-Key draft, and stores nothing.
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
actions stay ordered whichever region takes them. Both arrive as a
:class:`WriteTime`, passed to the action like any other argument.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from stormproof.errors import BadRequest, StormproofError, Unprocessable
from stormproof.events import Event, Payload, new_event
from stormproof.log import Entry, event_id_for, to_token
from stormproof.region import Region
from stormproof.views.keys import event_of_key

__all__ = [
    "NOW",
    "WriteTime",
    "Written",
    "derived_id",
    "event_time",
    "key_reused",
    "log_key",
    "prior",
    "write",
]

P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class WriteTime:
    """When a write happens, as its client asked (unix ms, 0 when not said):
    ``at`` is the client's own time for it, the same on every retry;
    ``after`` is the time of the client's last acknowledged write, which this
    one must follow. The API checks both against the region's clock."""

    at: int = 0
    after: int = 0


#: a write with no wishes about its time: the region's clock decides
NOW = WriteTime()


@dataclass(frozen=True)
class Written(Generic[P]):
    """An acknowledged write: ``event`` at ``seq`` (a token for ``min_seq``),
    and its payload, typed."""

    seq: int
    event: Event
    payload: P
    replayed: bool = False


def log_key(actor: str, scope: str, idempotency_key: str | None) -> str:
    """The log key of a write: the client's key, namespaced by actor and action."""
    return f"{actor or 'anon'}:{scope}:{idempotency_key or uuid.uuid4().hex}"


def derived_id(prefix: str, key: str) -> str:
    """An id for something a write creates: the same for every retry."""
    return prefix + hashlib.sha256(f"{prefix}{key}".encode()).hexdigest()[:32]


def event_time(region: Region, when: WriteTime) -> int:
    """The ``at`` of the write being made now."""
    return when.at or region.clock.tick(when.after)


def key_reused() -> Unprocessable:
    """The answer to an Idempotency-Key sent again with a different request."""
    return Unprocessable(
        "this Idempotency-Key was already used for a different request",
        code="idempotency_key_reused",
    )


def _written(region: Region, entry: Entry, expected: type[P], replayed: bool) -> Written[P]:
    payload = entry.event.data
    if not isinstance(payload, expected):
        raise key_reused()
    seq = to_token(entry.partition, entry.seq, region.log.partitions)
    return Written(seq=seq, event=entry.event, payload=payload, replayed=replayed)


async def prior(
    region: Region,
    key: str,
    expected: type[P],
    same: Callable[[P], bool] = lambda _: True,
) -> Written[P] | None:
    """The write an earlier request with this key produced, if any. ``same``
    tells whether its payload is what this request asks for (what the key's
    scope does not already pin down); if not, 422 ``idempotency_key_reused``."""
    entry = await region.store.query(lambda db: event_of_key(db, key))
    if entry is None:
        return None
    written = _written(region, entry, expected, True)
    if not same(written.payload):
        raise key_reused()
    return written


#: what a log key may be: printable ASCII (it travels as a NATS header), bounded
_LOG_KEY = re.compile(r"[\x20-\x7e]{1,512}")


async def write(
    region: Region,
    key: str,
    payload: P,
    *,
    actor: str,
    when: WriteTime = NOW,
    at: int | None = None,
    partition: int | None = None,
) -> Written[P]:
    """Append a validated payload under ``key`` and wait for the local views.
    Its time is ``at`` if the action already fixed it, else from ``when``.
    It goes to this region's partition first, or to ``partition`` and no
    other when the action needs every region's copies of a key in one
    stream (a payout: 503 ``log_unavailable`` while that stream has no
    leader, rather than a second copy of its slot elsewhere)."""
    if not _LOG_KEY.fullmatch(key):
        raise BadRequest("this write's key is not printable ASCII", code="invalid_key")
    stamp = at or event_time(region, when)
    event = new_event(payload, actor=actor, at=stamp, id=event_id_for(key))
    entry = await _append(region, key, event, partition)
    await region.projector.wait_for(entry.partition, entry.seq, region.settings.min_seq_wait_s)
    return _written(region, entry, type(payload), entry.duplicate)


async def _append(region: Region, key: str, event: Event, partition: int | None) -> Entry:
    """Append to ``partition`` (by default this region's) first, timed for
    ``/metrics`` under the partition that took it."""
    started = time.perf_counter()
    first = region.settings.region_index if partition is None else partition
    try:
        entry = await region.log.append(key, event, partition=first, only=partition is not None)
    except StormproofError:
        region.metrics.append_failed()
        raise
    region.metrics.appended(entry.partition, time.perf_counter() - started)
    return entry
