"""Write paths: each is one named action that validates, appends, and returns.

Every action follows the same steps (zulip's ``do_*`` actions):

1. If the idempotency key was already applied, answer from the stored event
   — a retry never creates a second event and gets the first answer.
2. Validate against the views; bad input raises a 4xx error and stores nothing.
3. Append one event to the log under the key; the log acknowledges only when
   the event is durable.
4. Wait briefly for this region's views to apply it, so the caller reads its
   own write here without passing ``min_seq``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from stormproof.errors import Unprocessable
from stormproof.events import Event, Payload, new_event
from stormproof.region import Region
from stormproof.views.keys import seq_of_key

__all__ = ["Written", "log_key", "prior", "write"]


@dataclass(frozen=True)
class Written:
    """An acknowledged write: the event now at ``seq`` in the log."""

    seq: int
    event: Event
    replayed: bool = False


def log_key(actor: str, scope: str, idempotency_key: str | None) -> str:
    """The log key of a write: the client's key, namespaced by actor and action."""
    return f"{actor or 'anon'}:{scope}:{idempotency_key or uuid.uuid4().hex}"


async def prior(region: Region, key: str, expected_type: str) -> Written | None:
    """The write an earlier request with this key produced, if any."""
    seq = await region.store.query(lambda db: seq_of_key(db, key))
    if seq is None:
        return None
    (entry,) = await region.log.read(seq - 1, 1)
    return _replayed(entry.seq, entry.event, expected_type)


def _replayed(seq: int, event: Event, expected_type: str) -> Written:
    if event.type != expected_type:
        raise Unprocessable(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
        )
    return Written(seq=seq, event=event, replayed=True)


async def write(region: Region, key: str, payload: Payload, *, actor: str) -> Written:
    """Append a validated payload under ``key`` and wait for the local views."""
    entry = await region.log.append(key, new_event(payload, actor=actor))
    await region.projector.wait_for(entry.seq, region.settings.min_seq_wait_s)
    if entry.duplicate:
        return _replayed(entry.seq, entry.event, payload.TYPE)
    return Written(seq=entry.seq, event=entry.event)
