"""A region's transcoder: it queues pending rungs and makes them, a few at a time.

Started by the API once the region caught up, when ``Settings.transcode``
is on (ADR 028):

- **Feeding**: every ``transcode_poll_s`` it submits every pending rung of
  the renditions view to the job queue (during a backlog of more than a
  page, every ``_BACKLOG_EVERY_S``), and every ``_PLAN_LATE_EVERY_S``
  first plans the ladder of videos whose uploading region did not (it died
  between the two writes). Every region does this; the queue stores each
  job once.
- **Working**: ``transcode_workers`` loops take jobs. Each reads its rung
  from the view (a rung made or failed meanwhile, or a deleted video, is
  acknowledged unread), fetches the source from the blob store, transcodes
  it in a low-priority child process (:func:`stormproof.media.transcode.run`),
  stores the init segment, media segments, poster and playlist as blobs,
  writes ``video.rendition_ready`` and only then acknowledges the job. While
  the transcode runs it tells the queue so every third of the ack wait.
- **Failing for good**: a source found corrupt, or gone from the blob
  store (``blob_not_found``: every bucket's leader said so, and a leader
  has applied every acked write), marks the rung failed with its reason at
  once; a job handed out more than ``transcode_max_deliver``
  times (its workers kept dying, or ran out of time) fails with ``gave_up``.
  Nothing is retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from stormproof.actions.renditions import plan_renditions, rendition_failed, rendition_ready
from stormproof.errors import NotFound, StormproofError
from stormproof.events import RenditionFailed, RenditionReady
from stormproof.media import transcode
from stormproof.media.jobs import Job, JobQueue, Lease, LocalQueue
from stormproof.media.ladder import content_addressed
from stormproof.periodic import every
from stormproof.region import Region
from stormproof.views import renditions, videos

__all__ = ["Transcoder", "queue_for"]

log = logging.getLogger(__name__)

#: a video with no plan this long after its upload is planned by any region
_PLAN_LATE_MS = 10_000
#: how often a region looks for such videos, planning the 100 oldest. The
#: look reads a few rows of the renditions view's ``unplanned`` table (it
#: scanned the whole catalog until d240b16), so this sets the pace at which
#: a backlog is planned — transcoding turned on over a catalog, say. Looking
#: every 10 s made the jobs of a 400,000-video backlog crowd out a peer's
#: restart at 1M entries (docs/benchmarks.md); a video its region did not
#: plan waits up to a minute more
_PLAN_LATE_EVERY_S = 60.0
#: pending rungs read per look; a full page is a backlog, read again only
#: every ``_BACKLOG_EVERY_S``: the read sorts every pending rung, and what
#: a backlog hands out first does not change from one poll to the next
_PENDING_PAGE = 1000
_BACKLOG_EVERY_S = 10.0


def queue_for(region: Region) -> JobQueue:
    """The job queue of the region's mode: JetStream for a cluster, else in memory."""
    settings = region.settings
    if settings.log_backend == "jetstream":
        from stormproof.media.jsqueue import JetStreamQueue

        return JetStreamQueue(
            settings.nats_urls, settings.region_index, ack_wait=settings.transcode_ack_wait_s
        )
    return LocalQueue()


class Transcoder:
    """Feed and work one region's share of the transcoding jobs."""

    def __init__(self, region: Region, queue: JobQueue) -> None:
        self.region = region
        self.queue = queue
        self._submitted: set[Job] = set()
        self._looked_late = -math.inf  # when _plan_late last ran (monotonic seconds)
        self._looked_pending = -math.inf  # and _submit_pending
        self._backlog = False  # whether it read a full page
        #: jobs this region's workers hold now (for tests and /metrics)
        self.working: set[Job] = set()

    async def run(self, caught_up: Callable[[], Awaitable[None]]) -> None:
        await caught_up()
        while True:
            try:
                await self.queue.start()
                break
            except StormproofError as exc:
                log.warning("cannot start the job queue: %s; trying again", exc.message)
                await asyncio.sleep(1.0)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._feed())
            for _ in range(self.region.settings.transcode_workers):
                group.create_task(self._work())

    async def close(self) -> None:
        await self.queue.close()

    # -- feeding -----------------------------------------------------------------------------

    async def _feed(self) -> None:
        await every(
            self.region.settings.transcode_poll_s,
            self._queue_jobs,
            logger=log,
            refused="cannot queue transcoding jobs",  # the log or the queue is unreachable
            failed="queueing transcoding jobs failed",
        )

    async def _queue_jobs(self) -> None:
        if time.monotonic() - self._looked_late >= _PLAN_LATE_EVERY_S:
            self._looked_late = time.monotonic()
            await self._plan_late()
        if not self._backlog or time.monotonic() - self._looked_pending >= _BACKLOG_EVERY_S:
            self._looked_pending = time.monotonic()
            await self._submit_pending()

    async def _plan_late(self) -> None:
        before = int(time.time() * 1000) - _PLAN_LATE_MS
        late = await self.region.store.query(lambda db: renditions.unplanned_videos(db, before))
        for video_id in late:
            found = await self.region.store.query(partial(videos.video, video_id=video_id))
            if found is not None:
                await plan_renditions(
                    self.region,
                    video_id=found.video_id,
                    owner_id=found.owner_id,
                    width=found.width,
                    height=found.height,
                    at=found.created_at,
                )

    async def _submit_pending(self) -> None:
        read = partial(renditions.pending_rungs, limit=_PENDING_PAGE)
        pending = await self.region.store.query(read)
        self._backlog = len(pending) >= _PENDING_PAGE
        jobs = [Job(p.video_id, p.rung) for p in pending]
        self._submitted &= set(jobs)
        for job in jobs:
            if job not in self._submitted:
                await self.queue.submit(job)
                self._submitted.add(job)

    # -- working -----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            try:
                lease = await self.queue.take(timeout=5.0)
            except StormproofError as exc:
                log.warning("cannot take a transcoding job: %s", exc.message)
                await asyncio.sleep(1.0)
                continue
            if lease is None:
                continue
            self.working.add(lease.job)
            try:
                await self._handle(lease)
            except StormproofError as exc:  # the blob store or the log: hand it out again
                log.warning("transcoding %s: %s; trying again", lease.job.name, exc.message)
                await lease.retry()
            except Exception:  # a bug: logged, and the job counts a delivery towards gave_up
                log.exception("transcoding %s failed", lease.job.name)
                await lease.retry()
            finally:
                self.working.discard(lease.job)

    async def _handle(self, lease: Lease) -> None:
        job = lease.job
        region = self.region
        found = await region.store.query(lambda db: videos.video(db, job.video_id))
        rung = await region.store.query(lambda db: renditions.pending_rung(db, *job.key))
        if found is None or rung is None:
            # The rung's plan was in the log before its job was queued: a
            # region whose views have not applied it yet must not drop it.
            if not await self._views_at_log_head():
                await lease.retry()
                return
            found = await region.store.query(lambda db: videos.video(db, job.video_id))
            rung = await region.store.query(lambda db: renditions.pending_rung(db, *job.key))
        if found is None or rung is None:
            await lease.done()  # deleted, made or failed already
            return
        limit = region.settings.transcode_max_deliver
        if lease.deliveries > limit:
            await self._fail(lease, found, "gave_up", f"no worker finished it in {limit} tries")
            return
        beating = asyncio.create_task(self._heartbeat(lease))
        try:
            outcome = await self._make(found, rung)
        except transcode.TranscodeLost as exc:
            if lease.deliveries >= limit:
                await self._fail(lease, found, "gave_up", str(exc))
            else:
                await lease.retry()
            return
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        if isinstance(outcome, transcode.Refused):
            await self._fail(lease, found, outcome.code, outcome.message)
            return
        try:
            await rendition_ready(region, found.owner_id, outcome)
        except StormproofError as exc:
            if exc.status >= 500:
                raise
            log.info("rendition %s was recorded otherwise: %s", job.name, exc.message)
        await lease.done()

    async def _views_at_log_head(self) -> bool:
        """Wait until this region's views hold what its log holds now; False
        if they are still behind after ``min_seq_wait_s``."""
        region = self.region
        heads = await region.log.last_seqs()
        wait = region.settings.min_seq_wait_s
        applied = [
            await region.projector.wait_for(partition, seq, wait)
            for partition, seq in enumerate(heads)
        ]
        return all(applied)

    async def _fail(self, lease: Lease, found: videos.Video, reason: str, message: str) -> None:
        payload = RenditionFailed(
            video_id=found.video_id, rung=lease.job.rung, reason=reason, message=message[:500]
        )
        try:
            await rendition_failed(self.region, found.owner_id, payload)
        except StormproofError as exc:
            if exc.status >= 500:
                raise
        await lease.done()

    async def _heartbeat(self, lease: Lease) -> None:
        every = self.region.settings.transcode_ack_wait_s / 3
        while True:
            await asyncio.sleep(every)
            await lease.progress()

    async def _make(
        self, found: videos.Video, rung: renditions.Pending
    ) -> RenditionReady | transcode.Refused:
        region = self.region
        settings = region.settings
        try:
            source = await region.blobs.local_path(found.blob)
        except NotFound as exc:  # final: no later delivery would find it
            return transcode.Refused(exc.code, exc.message)
        spool = settings.data_dir / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=spool, prefix="hls-"))
        try:
            made = await transcode.run(
                source,
                folder,
                width=rung.width,
                height=rung.height,
                bitrate=rung.bitrate,
                segment_s=rung.segment_ms / 1000,
                timeout_s=max(60.0, found.duration_ms / 1000 * settings.transcode_timeout_per_s),
                memory_bytes=settings.transcode_memory_bytes,
            )
            if isinstance(made, transcode.Refused):
                return made
            blobs = {}
            for name in (made.init, *made.segments):
                blobs[name] = await region.blobs.put_file(folder / name)
            poster = await region.blobs.put_file(folder / made.poster)
            text = content_addressed((folder / made.playlist).read_text(), blobs)
            playlist = await region.blobs.put_bytes(text.encode())
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        return RenditionReady(
            video_id=found.video_id,
            rung=rung.rung,
            width=rung.width,
            height=rung.height,
            playlist=playlist,
            init=blobs[made.init],
            segments=tuple(blobs[name] for name in made.segments),
            poster=poster,
            bandwidth=made.bandwidth,
            average_bandwidth=made.average_bandwidth,
            codecs=made.codecs,
        )
