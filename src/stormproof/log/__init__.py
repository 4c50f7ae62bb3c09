"""The log: durable, ordered partitions of events — the only thing ever written.

A log has ``partitions`` independently ordered sequences (the embedded SQLite
log has one; the replicated JetStream log has one stream per region, so a
write never waits for a dead region's stream to elect a new leader). Views
are built so that their state does not depend on how partitions interleave
(see ``docs/adr/007-partitioned-log.md``).

Contract of every backend (``tests/log/contract.py`` runs on each):

- ``start()`` readies the log before first use — creates what the backend
  needs (streams, files) and waits for its servers a while; calling it again
  is harmless. Failing to get ready raises :class:`~stormproof.errors.LogError`.
- ``append(key, event, partition=p)`` makes the event durable (in a quorum
  of regions, for a replicated backend), then returns its entry. ``p`` is a
  preference: a backend may place the event in another partition when ``p``
  cannot acknowledge in time — unless ``only=True``: then the event goes
  to ``p`` or nowhere (:class:`~stormproof.errors.LogError`), for a write
  whose copies must meet in one stream (a payout's slot). Sequences start
  at 1 in each partition and grow by one.
- Appending with a key the chosen partition already holds stores nothing and
  returns that entry with ``duplicate=True``. The same key may, rarely, land
  in two partitions (a retry that went elsewhere): both copies carry the same
  event, and views apply an event id once.
- ``read(partition, after, limit)`` returns up to ``limit`` entries of that
  partition with ``seq > after``, in order.
- ``wait(positions, timeout)`` returns once some partition ``p`` may hold an
  entry past ``positions[p]``, or when ``timeout`` seconds have passed.
- ``last_seqs()`` is the highest durable sequence of each partition.
- ``close()`` releases connections, files and background tasks; calling it
  again is harmless, and nothing else is called after it.
- Failures of the underlying engine surface as :class:`~stormproof.errors.LogError`.

A replicated backend also implements
:class:`~stormproof.replicated.Replicated` (moving leaders home after a
failover); the region finds that out with ``isinstance``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from stormproof.events import Event

__all__ = [
    "Entry",
    "Log",
    "Position",
    "event_id_for",
    "follow",
    "from_token",
    "to_token",
]

#: one sequence per partition: how far a reader has come
Position = tuple[int, ...]


@dataclass(frozen=True)
class Entry:
    """An event at its place in the log."""

    partition: int
    seq: int
    key: str
    event: Event
    duplicate: bool = False
    #: the event's bytes as the log stores them, when the reader has them
    #: (views keep these instead of encoding the event again)
    body: bytes = field(default=b"", compare=False, repr=False)


class Log(Protocol):
    """Durable, ordered partitions of events: the contract is the module's docstring."""

    @property
    def partitions(self) -> int: ...

    async def start(self) -> None: ...

    async def append(
        self, key: str, event: Event, *, partition: int = 0, only: bool = False
    ) -> Entry: ...

    async def read(self, partition: int, after: int, limit: int = 1000) -> list[Entry]: ...

    async def wait(self, positions: Sequence[int], timeout: float) -> None: ...

    async def last_seqs(self) -> list[int]: ...

    async def close(self) -> None: ...


def event_id_for(key: str) -> str:
    """The event id of a write, derived from its log key: a retry of the same
    write carries the same id wherever it lands."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def to_token(partition: int, seq: int, partitions: int) -> int:
    """One number for a place in the log, handed to clients as ``seq``: with
    one partition it is the sequence itself."""
    return seq * partitions + partition


def from_token(token: int, partitions: int) -> tuple[int, int]:
    """(partition, seq) of a token made by :func:`to_token`."""
    seq, partition = divmod(token, partitions)
    return partition, seq


async def follow(log: Log, partition: int, after: int) -> AsyncIterator[Entry]:
    """Every entry of a partition past ``after``, then new ones as they come."""
    position = after
    while True:
        for entry in await log.read(partition, position):
            yield entry
            position = entry.seq
        positions = [2**62] * log.partitions  # wake only for this partition
        positions[partition] = position
        await log.wait(positions, 3600)
