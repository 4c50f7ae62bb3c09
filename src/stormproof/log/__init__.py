"""The log: one ordered, durable sequence of events — the only thing ever written.

Contract of every backend (the contract tests in ``tests/log`` run on each):

- ``append(key, event)`` makes the event durable, then returns its entry.
  Sequences start at 1 and grow by one. Appending with a key the log already
  holds stores nothing and returns the entry first stored under that key with
  ``duplicate=True`` — so a retried write never creates a second event.
- ``read(after, limit)`` returns up to ``limit`` entries with ``seq > after``
  in sequence order.
- ``wait(after, timeout)`` returns once an entry with ``seq > after`` may
  exist, or when ``timeout`` seconds have passed — whichever comes first.
- ``follow(after)`` yields every entry with ``seq > after`` in order, then
  waits for new ones, forever (cancel the task to stop it).
- ``last_seq()`` is the highest sequence durable in the log (0 when empty).
- Failures of the underlying engine surface as :class:`~stormproof.errors.LogError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from stormproof.events import Event

__all__ = ["Entry", "Log"]


@dataclass(frozen=True)
class Entry:
    """An event at its place in the log."""

    seq: int
    key: str
    event: Event
    duplicate: bool = False


class Log(Protocol):
    async def append(self, key: str, event: Event) -> Entry: ...

    async def read(self, after: int, limit: int = 1000) -> list[Entry]: ...

    async def wait(self, after: int, timeout: float) -> None: ...

    def follow(self, after: int) -> AsyncIterator[Entry]: ...

    async def last_seq(self) -> int: ...

    async def close(self) -> None: ...
