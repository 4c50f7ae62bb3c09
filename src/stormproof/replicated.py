"""What a replicated backend adds to the log and blob store: leaders to put back.

A replicated backend (the JetStream log and blob store) keeps one stream per
region, each led by its region's server so that a write goes to a nearby
leader. After a failover nothing moves a leader back, and leaders would pile
onto one server. So a region, once ready, asks each of its replicated parts
to :meth:`~Replicated.rebalance` (see ``docs/adr/008-jetstream-backends.md``).

This is a protocol of its own, not part of ``Log`` or ``BlobStore``: an
embedded backend has no leaders, and should not pretend to move them. The
region tells the two apart with ``isinstance(part, Replicated)``.

Contract:

- ``rebalance()`` asks each stream whose leader is not its region's server
  to move there, when that server is up and caught up, and returns the
  indexes (partitions, buckets) it asked to move; ``[]`` when all are home.
  It is safe to call at any time, from any region, as often as wanted.
- Failures surface as :class:`~stormproof.errors.StormproofError`
  (``LogError``, ``BlobError``): a rebalance that fails is tried again later.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Replicated"]


@runtime_checkable
class Replicated(Protocol):
    """A backend whose streams have leaders to place: the module's contract."""

    async def rebalance(self) -> list[int]: ...
