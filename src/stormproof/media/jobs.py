"""Transcoding jobs: a work queue any region's worker takes jobs from.

A job is one rung of one video, ``(video_id, rung)``; what to make is read
from the renditions view, so a job carries nothing else. Contract of every
queue:

- ``start()`` readies the queue (creates streams, consumers); it may be
  called again after a failure.
- ``submit(job)`` queues a job durably. Submitting a job already queued or
  taken (within ``duplicate window``) queues nothing: every region submits
  every pending rung, and the job is done once.
- ``take(timeout)`` hands out one job as a :class:`Lease`, or None after
  ``timeout`` seconds without one. A lease not settled within the ack wait
  (its worker's region lost power) is handed out again, to any worker;
  ``progress()`` restarts that wait while a long transcode goes on.
- ``Lease.done()`` removes the job; ``Lease.retry()`` hands it out again
  soon. ``Lease.deliveries`` counts hand-outs, this one included: the
  transcoder gives up on a rung past ``transcode_max_deliver``.
- Failures of the queue's engine surface as :class:`JobsUnavailable`.

:class:`LocalQueue` is the embedded region's queue, in memory: the
transcoder fills it from the renditions view (pending rungs) at start, so a
restart loses nothing. :class:`~stormproof.media.jsqueue.JetStreamQueue` is
the replicated one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol

from stormproof.errors import Unavailable

__all__ = ["Job", "JobQueue", "JobsUnavailable", "Lease", "LocalQueue"]


class JobsUnavailable(Unavailable):
    code = "jobs_unavailable"


@dataclass(frozen=True)
class Job:
    video_id: str
    rung: int

    @property
    def key(self) -> tuple[str, int]:
        return self.video_id, self.rung

    @property
    def name(self) -> str:
        """A name fit for a NATS subject token and a message id."""
        return f"{self.video_id}.{self.rung}"


class Lease(Protocol):
    job: Job
    deliveries: int

    async def progress(self) -> None: ...

    async def done(self) -> None: ...

    async def retry(self) -> None: ...


class JobQueue(Protocol):
    async def start(self) -> None: ...

    async def submit(self, job: Job) -> None: ...

    async def take(self, timeout: float) -> Lease | None: ...

    async def close(self) -> None: ...


@dataclass
class _LocalLease:
    job: Job
    deliveries: int
    queue: LocalQueue

    async def progress(self) -> None:
        """Nothing to restart: one process holds every lease of this queue."""

    async def done(self) -> None:
        self.queue._known.discard(self.job)

    async def retry(self) -> None:
        self.queue._pending.put_nowait(self.job)


class LocalQueue:
    """A :class:`JobQueue` in this process's memory (embedded mode)."""

    def __init__(self) -> None:
        self._pending: asyncio.Queue[Job] = asyncio.Queue()
        self._known: set[Job] = set()
        self._deliveries: dict[Job, int] = {}

    async def start(self) -> None:
        """Nothing to set up."""

    async def submit(self, job: Job) -> None:
        if job not in self._known:
            self._known.add(job)
            self._pending.put_nowait(job)

    async def take(self, timeout: float) -> _LocalLease | None:
        job = None
        with contextlib.suppress(TimeoutError):
            job = await asyncio.wait_for(self._pending.get(), timeout)
        if job is None:
            return None
        self._deliveries[job] = self._deliveries.get(job, 0) + 1
        return _LocalLease(job, self._deliveries[job], self)

    async def close(self) -> None:
        """Nothing to release."""
