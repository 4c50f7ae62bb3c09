"""Write paths: each is one named action that validates, appends, and returns.

Every action follows the same steps (zulip's ``do_*`` actions):

1. If the idempotency key was already applied, answer from the stored event
   — a retry never creates a second event and gets the first answer.
2. Validate against the views; bad input raises a 4xx error and stores nothing.
3. Append one event to the log under the key; the log acknowledges only when
   the event is durable.
4. Wait briefly for this region's views to apply it, so the caller reads its
   own write here without passing ``min_seq``.

The event's id derives from the key, and its time comes from the region's
clock, moved past ``causal_after`` (the time of the caller's last write,
which the API takes from the ``Stormproof-After`` header).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from stormproof.errors import Unprocessable
from stormproof.events import Event, Payload, new_event
from stormproof.log import Entry, event_id_for, to_token
from stormproof.region import Region
from stormproof.views.keys import event_of_key

__all__ = ["Written", "causal_after", "log_key", "prior", "write"]

#: the time of the caller's last acknowledged write, if it told us
causal_after: ContextVar[int] = ContextVar("causal_after", default=0)


@dataclass(frozen=True)
class Written:
    """An acknowledged write: ``event`` at ``seq`` (a token for ``min_seq``)."""

    seq: int
    event: Event
    replayed: bool = False


def log_key(actor: str, scope: str, idempotency_key: str | None) -> str:
    """The log key of a write: the client's key, namespaced by actor and action."""
    return f"{actor or 'anon'}:{scope}:{idempotency_key or uuid.uuid4().hex}"


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


async def write(region: Region, key: str, payload: Payload, *, actor: str) -> Written:
    """Append a validated payload under ``key`` and wait for the local views."""
    event = new_event(payload, actor=actor, at=region.clock.tick(causal_after.get()))
    event = event.model_copy(update={"id": event_id_for(key)})
    entry = await region.log.append(key, event, partition=region.settings.region_index)
    await region.projector.wait_for(entry.partition, entry.seq, region.settings.min_seq_wait_s)
    return _written(region, entry, payload.TYPE, entry.duplicate)
