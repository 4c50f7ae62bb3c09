"""One region: its log, blob store, views and the projector that feeds them.

This is the composition root below the API: ``Region.open(settings)`` builds
every part from settings, ``start()`` catches the views up and starts
following the log, ``close()`` stops it all. Nothing else constructs a log or
a view store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from stormproof.blobs import BlobStore
from stormproof.blobs.files import FileBlobStore
from stormproof.clock import Clock
from stormproof.durable import write_atomically
from stormproof.errors import LogError, StormproofError
from stormproof.log import Log
from stormproof.log.sqlite import SqliteLog
from stormproof.media import MediaPool
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine
from stormproof.replicated import Replicated
from stormproof.settings import Settings
from stormproof.snapshots import RestoreReport, restore_from_peers
from stormproof.views import all_views
from stormproof.views.projector import Projector
from stormproof.views.store import ViewStore

__all__ = ["Region", "load_secret"]


def load_secret(path: Path) -> bytes:
    """The signing secret for session tokens, created (durably, owner-only)
    on first use. Regions of one cluster share it."""
    if not path.exists():
        write_atomically(path, secrets.token_hex(32).encode(), mode=0o600)
    secret = bytes.fromhex(path.read_text().strip() or "00")
    if len(secret) < 32:
        raise StormproofError(f"{path} does not hold a 32-byte hex secret", code="bad_secret")
    return secret


def _backends(settings: Settings) -> tuple[Log, BlobStore]:
    """The log and the blob store that settings name."""
    if settings.log_backend == "jetstream":
        from stormproof.blobs.jetstream import JetStreamBlobStore
        from stormproof.log.jetstream import JetStreamLog

        urls, index = settings.nats_urls, settings.region_index
        blobs = JetStreamBlobStore(urls, index, cache_dir=settings.blobs_dir)
        return JetStreamLog(urls, index), blobs
    return SqliteLog(settings.log_path), FileBlobStore(settings.blobs_dir)


def _settle_heap() -> None:
    """Move what exists now — mostly the engine's state, which lives as long
    as the process — out of the garbage collector's sight. Otherwise every
    full collection walks hundreds of thousands of objects and stalls
    requests for a fifth of a second (measured in benchmarks/foryou.py)."""
    gc.collect()
    gc.freeze()


@dataclass
class Region:
    settings: Settings
    log: Log
    blobs: BlobStore
    store: ViewStore
    projector: Projector
    engine: Engine
    secret: bytes
    clock: Clock
    #: worker processes that probe and thumbnail uploads (started on first use)
    media: MediaPool
    ready: bool = False
    #: whether the views came from a peer's snapshot at start, and how it went
    restored: RestoreReport | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Region:
        return cls._open(settings, *_backends(settings))

    @classmethod
    async def recover(cls, settings: Settings) -> Region:
        """:meth:`open`, after putting a verified snapshot of a peer in place
        of views that are gone (:func:`~stormproof.snapshots.restore_from_peers`;
        what it did is kept in ``restored``)."""
        log, blobs = _backends(settings)
        try:
            restored = await restore_from_peers(settings, log, load_secret(settings.secret_path))
        except BaseException:
            await log.close()
            await blobs.close()
            raise
        region = cls._open(settings, log, blobs)
        region.restored = restored
        return region

    @classmethod
    def _open(cls, settings: Settings, log: Log, blobs: BlobStore) -> Region:
        # Uploads still being received when the process died are garbage now.
        shutil.rmtree(settings.data_dir / "tmp", ignore_errors=True)
        store = ViewStore(settings.views_path, all_views(), partitions=log.partitions)
        engine = checkpoint.resume(settings.checkpoint_path, store.position())
        store.followers.append(engine)
        return cls(
            settings=settings,
            log=log,
            blobs=blobs,
            store=store,
            projector=Projector(log, store),
            engine=engine,
            secret=load_secret(settings.secret_path),
            clock=Clock(),
            media=MediaPool.from_settings(settings),
        )

    @property
    def name(self) -> str:
        return self.settings.region

    async def start(self) -> None:
        """Set up the replicated streams if needed, catch the views up with the
        log, then keep following it. The region is ``ready`` once its views
        have reached what the log held when it started."""
        await self.log.start()
        await self.blobs.start()
        last = await self.log.last_seqs()
        if any(seq > top for seq, top in zip(self.store.position(), last, strict=True)):
            raise LogError(
                f"the views ({list(self.store.position())}) are ahead of the log ({last}): "
                "was the log replaced? rebuild the views (`stormproof rebuild`, or "
                "`stormproof cluster restore REGION --wipe` in a cluster)",
                code="views_ahead_of_log",
            )
        await checkpoint.catch_up(self.engine, self.log, self.store)
        await self.projector.catch_up()
        if any(self.engine.position):
            # Before serving: the first save copies everything under the engine
            # lock (later ones only what changed), and a restart then replays less.
            await asyncio.to_thread(checkpoint.save, self.engine, self.settings.checkpoint_path)
        _settle_heap()
        self.ready = all(seq >= top for seq, top in zip(self.projector.position, last, strict=True))
        self._tasks.append(asyncio.create_task(self.projector.run(), name="projector"))
        self._tasks.append(asyncio.create_task(self._checkpoints(), name="checkpoints"))
        self._tasks.append(asyncio.create_task(self._until_ready(last), name="readiness"))

    async def _checkpoints(self) -> None:
        """Save the engine now and then, so a restart replays only a short tail."""
        saved = self.engine.position
        while True:
            await asyncio.sleep(self.settings.checkpoint_every_s)
            if self.engine.position != saved:
                path = self.settings.checkpoint_path
                pid, position = await asyncio.to_thread(checkpoint.save_in_child, self.engine, path)
                _, status = await asyncio.to_thread(os.waitpid, pid, 0)
                if os.waitstatus_to_exitcode(status) == 0:
                    saved = position
                gc.freeze()  # what grew since start is long-lived too

    async def _until_ready(self, target: list[int]) -> None:
        while not self.ready and any(
            seq < top for seq, top in zip(self.projector.position, target, strict=True)
        ):
            await self.projector.wait_advanced(1.0)
        self.ready = True
        if self._replicated():
            await self._rebalance()

    def _replicated(self) -> list[Replicated]:
        """The parts with leaders to put back: none in embedded mode."""
        return [part for part in (self.log, self.blobs) if isinstance(part, Replicated)]

    async def _rebalance(self, every: float = 5.0) -> None:
        """Nothing moves a stream's leader back after a failover, so leaders
        would pile onto one server: put them back in their regions. The first
        region does it for everyone; any region does it once it is ready."""
        while True:
            for part in self._replicated():
                with contextlib.suppress(StormproofError):
                    await part.rebalance()
            if self.settings.region_index != 0:
                return
            await asyncio.sleep(every)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.media.close()
        await self.log.close()
        await self.blobs.close()
        self.store.close()
