"""One region: its log, blob store, views and the projector that feeds them.

This is the composition root below the API: ``Region.open(settings)`` builds
every part from settings, ``start()`` starts the log and catches up in the
background (the API answers meanwhile: health, and 503 ``not_ready``), then
follows the log; ``close()`` stops it all. Nothing else constructs a log or
a view store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from stormproof.blobs import BlobStore
from stormproof.blobs.files import FileBlobStore
from stormproof.catch_up import CatchUp, Phase
from stormproof.clock import Clock
from stormproof.errors import LogError, StormproofError
from stormproof.log import Log, Position
from stormproof.log.sqlite import SqliteLog
from stormproof.logs import REGION, log_event
from stormproof.media import MediaPool
from stormproof.metrics import Metrics
from stormproof.operators import load_secret
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine
from stormproof.replicated import Replicated
from stormproof.settings import Settings
from stormproof.snapshots import RestoreReport, restore_from_peers
from stormproof.views import all_views
from stormproof.views.projector import Projector
from stormproof.views.store import ViewStore

__all__ = ["Region"]

logger = logging.getLogger(__name__)

#: a catch-up that replayed more than this many entries into the For You
#: engine past its checkpoint saves it at once (in a forked child, after
#: ready); a shorter one waits for the next save. Otherwise restarts in a
#: row each replay the same tail again: 8,100 entries, 2.5-4.5 s of each
#: restart at 1M entries, measured.
SAVE_AT_ONCE_AFTER = 1_000

#: saves may use at most a third of a core (their children's time), but
#: the unused share piles up to this many seconds: most saves are deltas
#: of tenths of a second (ADR 032), and the credit they leave pays for the
#: occasional whole save (seconds at 1M entries) without a pause after it
SAVE_CREDIT_S = 10.0


#: log errors that pass by themselves (a server starting again, an election):
#: a catch-up waits them out
_PASSING = frozenset({"log_unavailable", "no_quorum"})


def _views_and_engine(settings: Settings, log: Log) -> tuple[ViewStore, Engine]:
    """The view store on disk, and the engine from its checkpoint (or empty)
    following it."""
    store = ViewStore(settings.views_path, all_views(), partitions=log.partitions)
    engine = checkpoint.resume(settings.checkpoint_path, store.position())
    store.followers.append(engine)
    return store, engine


def _backends(settings: Settings) -> tuple[Log, BlobStore]:
    """The log and the blob store that settings name."""
    if settings.log_backend == "jetstream":
        from stormproof.blobs.jetstream import JetStreamBlobStore

        urls, index = settings.nats_urls, settings.region_index
        blobs = JetStreamBlobStore(urls, index, cache_dir=settings.blobs_dir)
        return _log(settings), blobs
    return _log(settings), FileBlobStore(settings.blobs_dir)


def _log(settings: Settings) -> Log:
    """The log that settings name."""
    if settings.log_backend == "jetstream":
        from stormproof.log.jetstream import JetStreamLog

        return JetStreamLog(settings.nats_urls, settings.region_index)
    return SqliteLog(settings.log_path)


def _process_age_s() -> float | None:
    """Seconds since this process began (Linux's /proc), None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


def _apply_views(settings: Settings, parent: int) -> None:
    """The views' side of :meth:`Region._views_apart`, in a process of its
    own: apply the log to the views until it holds nothing more. Exits when
    the region's process ``parent`` is gone, whatever killed it."""

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()

    async def apply() -> None:
        log = _log(settings)
        store = ViewStore(settings.views_path, all_views(), partitions=log.partitions)
        try:
            while True:
                try:
                    await Projector(log, store).catch_up()
                    return
                except LogError as exc:  # a read that timed out under load: go on
                    if exc.code not in _PASSING:
                        raise
                    await asyncio.sleep(1.0)
        finally:
            store.close()
            await log.close()

    asyncio.run(apply())


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
    #: what ``/metrics`` counts between scrapes (requests, appends, probes)
    metrics: Metrics
    ready: bool = False
    #: how far the catch-up is, until the views reached the log (None after)
    catching_up: CatchUp | None = None
    #: what stopped the catch-up: the region then never gets ready
    failure: StormproofError | None = None
    #: whether the views came from a peer's snapshot at start, and how it went
    restored: RestoreReport | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _catching: asyncio.Task[None] | None = field(default=None, repr=False)
    #: where the engine checkpoint on disk stands (known once the replay ended)
    _saved: Position | None = field(default=None, repr=False)
    #: one save of the engine at a time: the periodic ones and :meth:`save_engine`'s
    _saving: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Region:
        began, aged = time.monotonic(), _process_age_s()
        # Uploads still being received when the process died are garbage now.
        shutil.rmtree(settings.data_dir / "tmp", ignore_errors=True)
        log, blobs = _backends(settings)
        store, engine = _views_and_engine(settings, log)
        # where a start's seconds go: the process's own (imports, the app)
        # before this, and the views and engine checkpoint opened here
        log_event(
            "region.opened",
            region=settings.region,
            process_s=None if aged is None else round(aged, 2),
            open_s=round(time.monotonic() - began, 2),
        )
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
            metrics=Metrics(settings.region),
        )

    @classmethod
    def open_in_background(cls, settings: Settings) -> Future[Region]:
        """:meth:`open` begun in a thread of its own. A process that starts
        it before importing the app (``serve``, ``cluster region``) has its
        views and engine checkpoint read while the interpreter imports the
        routers: the reading waits on the disk and numpy, the importing on
        the interpreter, and a restart takes about the longer of the two
        rather than their sum (docs/benchmarks.md)."""
        opened: Future[Region] = Future()

        def run() -> None:
            try:
                opened.set_result(cls.open(settings))
            except BaseException as exc:  # the app's start raises it, as open() would have
                opened.set_exception(exc)

        threading.Thread(target=run, name=f"{settings.region}-open", daemon=True).start()
        return opened

    @property
    def name(self) -> str:
        return self.settings.region

    async def start(self, on_ready: Callable[[Region], Awaitable[object]] | None = None) -> None:
        """Set up the replicated streams if needed (in the background for a
        region that has applied from them before), then catch up in the
        background (:meth:`caught_up` waits for it): the For You engine up to
        the views, the views up to what the log held when the catch-up began,
        a first checkpoint, then ``on_ready`` (``stormproof serve`` seeds the
        demo there). The region is ``ready`` after that; until then
        ``catching_up`` tells how far it is, and a failure stays in
        ``failure``, for ``/v1/health`` to show.

        From here on, what the caller's task (and every task it starts) logs
        names this region."""
        REGION.set(self.name)
        self._tell("starting")
        at = self.store.position()
        if self._replicated() and (any(at) or await self._log_holds_entries()):
            # Replicated streams a region with history applied from exist, and
            # so do those of a cluster whose log holds entries (a region whose
            # disks were lost). Setting them up again (a changed configuration,
            # leaders put back) waits on this region's own server, which starts
            # with it: 2-5 s measured at 1M entries after a restart, 28.7 s
            # after a lost disk (its server copying the streams back answers
            # their info slowly). None of that need come before serving.
            self._tasks.append(asyncio.create_task(self._set_up_streams(), name="streams"))
        else:
            await self._set_up()
        self.catching_up = CatchUp("snapshot", lambda: self.store.position(), at)
        self._tell_phase()
        self._catching = asyncio.create_task(self._catch_up(on_ready), name="catch-up")
        self._tasks.append(self._catching)

    async def _log_holds_entries(self) -> bool:
        """Whether a replica says at once that the log holds entries: its
        streams exist. False when none answers at once (a new cluster's
        streams do not exist yet)."""
        from stormproof.log.jetstream import JetStreamLog

        return isinstance(self.log, JetStreamLog) and await self.log.holds_entries()

    async def _set_up_streams(self) -> None:
        """:meth:`start`'s setting up of the log's and blob store's streams,
        in the background, tried again until it is done."""
        while True:
            try:
                await self._set_up()
                return
            except StormproofError as exc:
                logger.warning("%s: setting up streams: %s; trying again", self.name, exc.message)
                await asyncio.sleep(1.0)

    async def _set_up(self) -> None:
        """Set up the log's and blob store's streams (created if needed, their
        leaders placed), and say how long it took (``region.streams``)."""
        began = time.monotonic()
        await self.log.start()
        await self.blobs.start()
        log_event("region.streams", region=self.name, took_s=round(time.monotonic() - began, 2))

    async def caught_up(self) -> None:
        """Wait until the region is ready; raise what stopped its catch-up."""
        assert self._catching is not None, "start() first"
        await asyncio.shield(self._catching)
        if self.failure is not None:
            raise self.failure

    async def _catch_up(self, on_ready: Callable[[Region], Awaitable[object]] | None) -> None:
        assert self.catching_up is not None
        measuring = asyncio.create_task(self.catching_up.measure())
        try:
            last, saved = await self._replay()
            self._saved = saved
            _settle_heap()
            # A first checkpoint, or a long replay, is saved at once (in a forked
            # child, as ever: the region need not wait); a short replay past a
            # checkpoint on disk waits for the next periodic save.
            replayed = sum(self.engine.position) - sum(saved)
            at_once = replayed > (SAVE_AT_ONCE_AFTER if any(saved) else 0)
            self._tasks.append(asyncio.create_task(self.projector.run(), name="projector"))
            self._tasks.append(
                asyncio.create_task(self._checkpoints(at_once=at_once), name="checkpoints")
            )
            while any(seq < top for seq, top in zip(self.projector.position, last, strict=True)):
                await self.projector.wait_advanced(1.0)
            self.catching_up = None
            if on_ready is not None:
                await on_ready(self)
        except StormproofError as exc:
            self.failure = exc
        except Exception as exc:  # a bug, or on_ready's: never lost
            self.failure = StormproofError(f"catching up failed: {exc!r}", code="catch_up_failed")
        finally:
            measuring.cancel()
            (ended,) = await asyncio.gather(measuring, return_exceptions=True)
            if not isinstance(ended, asyncio.CancelledError):  # a bug: never in the way
                logger.error("measuring the catch-up failed: %r", ended)
        if self.failure is not None:
            failure = self.failure
            self._tell("failed", logging.ERROR, code=failure.code, reason=failure.message)
            self.catching_up = None
            return
        self.ready = True
        self._tell("ready", position=list(self.projector.position))
        if self._replicated():
            self._tasks.append(asyncio.create_task(self._rebalance(), name="rebalance"))

    async def _replay(self) -> tuple[list[int], Position]:
        """The catch-up's phases: views from a peer's snapshot if they are
        gone, the engine up to the views, the views up to what the log held
        when the replay began. Returns that end, and the position of the
        engine's checkpoint on disk. A log that cannot be read for a while
        (a replica whose server starts again, a leader being elected) is
        waited for, and the replay goes on from where it stands: that is no
        reason never to serve."""
        saved: Position | None = None
        while True:
            try:
                at = self.store.position()
                last = await self._log_end(at)
                if saved is None:
                    saved = await self._snapshot_phase(at, last)
                self._phase("engine", lambda: self.engine.position, self.store.position())
                await checkpoint.catch_up(self.engine, self.log, self.store)
                behind = sum(
                    top - seq for seq, top in zip(self.store.position(), last, strict=True)
                )
                if behind >= self.settings.views_apart_after:
                    self._phase("views", lambda: self.store.position(), last)
                    await self._views_apart()
                self._phase("views", lambda: self.projector.position, last)
                await self.projector.catch_up()
                return last, saved
            except LogError as exc:
                if exc.code not in _PASSING:
                    raise
                logger.warning("%s catching up: %s; trying again", self.name, exc.message)
                await asyncio.sleep(1.0)

    async def _log_end(self, at: Position) -> list[int]:
        """The log's last sequences, which the views at ``at`` must not be
        past. The first replica that answers may lag what the views applied
        — this region's own server, killed with it and started again, has
        not caught up yet — so where the views stand past its answer the
        streams' leaders are asked, which hold every acked write: only views
        past those stand on another log."""
        last = await self.log.last_seqs()
        if not any(seq > top for seq, top in zip(at, last, strict=True)):
            return last
        from stormproof.log.jetstream import JetStreamLog

        if isinstance(self.log, JetStreamLog):
            leaders = await self.log.leader_seqs()
            last = [max(a, b) for a, b in zip(last, leaders, strict=True)]
        if any(seq > top for seq, top in zip(at, last, strict=True)):
            raise LogError(
                f"the views ({list(at)}) are ahead of the log ({last}): "
                "was the log replaced? rebuild the views (`stormproof rebuild`, or "
                "`stormproof cluster restore REGION --wipe` in a cluster)",
                code="views_ahead_of_log",
            )
        return last

    async def _snapshot_phase(self, at: Position, last: list[int]) -> Position:
        """Restore from a peer if the views are gone (:meth:`_restore`);
        return the position of the engine's checkpoint then."""
        # Nothing moves during the snapshot phase, and the views it starts
        # from are closed while a snapshot's take their place.
        self._phase("snapshot", lambda: at, last)
        await self._restore()
        return self.engine.position

    def _phase(self, phase: Phase, at: Callable[[], Position], target: Sequence[int]) -> None:
        assert self.catching_up is not None
        entered = self.catching_up.phase != phase
        self.catching_up.enter(phase, at, tuple(target))
        if entered:
            self._tell_phase()

    def _tell_phase(self) -> None:
        """One line for the catch-up phase the region is entering."""
        assert self.catching_up is not None
        phase, remaining = self.catching_up.phase, self.catching_up.remaining()
        self._tell("catching_up", phase=phase, remaining=remaining)

    def _tell(self, state: str, level: int = logging.INFO, **fields: object) -> None:
        """The log line of a change of this region's state (``region.state``)."""
        log_event("region.state", level=level, region=self.name, state=state, **fields)

    async def _restore(self) -> None:
        """Views that are gone come from a verified snapshot of a peer when
        there is one (ADR 017): the empty views are closed just before its
        files take their place, then opened again with the engine's
        checkpoint that came with them. What happened stays in ``restored``."""
        closed = False

        def close_views() -> None:
            nonlocal closed
            self.store.close()
            closed = True

        try:
            self.restored = await restore_from_peers(
                self.settings, self.log, self.secret, before_install=close_views
            )
        finally:
            if closed:  # installed, or failed while installing: open what is there
                self.store, self.engine = _views_and_engine(self.settings, self.log)
                self.projector = Projector(self.log, self.store)

    async def _views_apart(self) -> None:
        """Apply the log to the views in a child process while the For You
        engine follows them here, reading the entries the views applied (as
        after a restart): the two share no state but the views' file, so
        each gets a core of its own, where in one process they would share
        the interpreter's lock and take turns (ADR 017). Whatever the child
        leaves undone — it failed, or the log grew meanwhile — the
        projector applies here afterwards; the child is killed if the region
        closes first."""
        spawn = multiprocessing.get_context("spawn")  # forking a threaded process is unsafe
        child = spawn.Process(
            target=_apply_views,
            args=(self.settings, os.getpid()),
            name=f"{self.name}-views",
            daemon=True,
        )
        child.start()
        try:
            while child.is_alive():
                before = self.engine.position
                await checkpoint.catch_up(self.engine, self.log, self.store, batch=5000)
                if self.engine.position == before:
                    await asyncio.sleep(0.1)
        finally:
            if child.is_alive():
                child.kill()
            await asyncio.to_thread(child.join)
        if child.exitcode != 0:
            logger.warning(
                "%s: the views' process ended with %s; the rest is applied here",
                self.name,
                child.exitcode,
            )
        await checkpoint.catch_up(self.engine, self.log, self.store, batch=5000)
        self.projector = Projector(self.log, self.store)  # from where the child left the views

    async def _checkpoints(self, *, at_once: bool) -> None:
        """Save the engine now and then (``at_once``: first right away), so a
        restart replays only a short tail. "Now and then" is every ``checkpoint_every_s`` when
        the engine changed, and sooner under many writes: once it is
        ``checkpoint_every_entries`` past the checkpoint, though not within
        ``checkpoint_gap_s`` of the last save, and only while saving takes
        at most a third of a core: each second adds a third of a second of
        credit (up to ``SAVE_CREDIT_S``), each save spends what it took,
        and a save waits while the credit is below zero. Most saves are
        deltas (ADR 032): tenths of a second, so every ~1,500 entries under
        load; the whole save now and then is paid from the credit left.
        A save costs what its child took of a CPU, not of the clock: on a
        busy machine a child waits for a core far longer than it runs."""
        every, gap = self.settings.checkpoint_every_s, self.settings.checkpoint_gap_s
        many = self.settings.checkpoint_every_entries
        last = -math.inf if at_once else time.monotonic()
        credit, counted = 0.0, time.monotonic()
        while True:
            now = time.monotonic()
            credit, counted = min(SAVE_CREDIT_S, credit + (now - counted) / 3), now
            since = now - last
            behind = self._behind()
            if behind > 0 and (since >= every or (behind >= many and since >= gap and credit >= 0)):
                credit -= await self._save()
                last = time.monotonic()
            await asyncio.sleep(min(every, self.settings.checkpoint_gap_s or 0.25, 1.0))

    async def save_engine(self) -> None:
        """Save the engine now if it moved past its checkpoint (a snapshot
        made ahead then ships a checkpoint near its views, and a region
        restoring from it replays a short tail into its engine). Nothing
        before the catch-up's replay ended."""
        if self._behind() > 0:
            await self._save()

    def _behind(self) -> int:
        """Entries the engine applied past its checkpoint on disk."""
        return 0 if self._saved is None else sum(self.engine.position) - sum(self._saved)

    async def _save(self) -> float:
        """Save the engine (in a child, off this loop; one save at a time)
        and move ``_saved`` to where it saved, unless it failed; the CPU
        seconds the child took."""
        async with self._saving:
            # Closing waits for a save under way: no child of this region
            # writes its file after close() returned.
            saving = asyncio.ensure_future(asyncio.to_thread(self._save_in_child))
            try:
                position, cpu_s = await asyncio.shield(saving)
            except asyncio.CancelledError:
                await saving
                raise
        gc.freeze()  # what grew since start is long-lived too
        self._saved = position or self._saved
        return cpu_s

    def _save_in_child(self) -> tuple[Position | None, float]:
        """Save the engine in a forked child and wait for it: the position
        saved, or None if the child failed; and the child's CPU seconds."""
        path = self.settings.checkpoint_path
        began = time.monotonic()
        pid, position, changed = checkpoint.save_in_child(self.engine, path)
        _, status, usage = os.wait4(pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0
        checkpoint.saved_by_child(self.engine, path, position, changed, ok=ok)
        cpu_s = usage.ru_utime + usage.ru_stime
        log_event(
            "checkpoint.saved" if ok else "checkpoint.failed",
            level=logging.INFO if ok else logging.WARNING,
            delta=changed.delta,
            position=list(position),
            took_s=round(time.monotonic() - began, 2),
            cpu_s=round(cpu_s, 2),
        )
        return (position if ok else None), cpu_s

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
        self._tell("stopping")
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.media.close()
        await self.log.close()
        await self.blobs.close()
        self.store.close()
