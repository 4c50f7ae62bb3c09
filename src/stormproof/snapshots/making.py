"""Making snapshots: the side of the healthy region a peer restores from.

:meth:`Snapshots.make_or_reuse` copies, in this order:

1. the engine checkpoint file (its position Q is at most the views'
   position at that moment, so at most the position of any later copy);
2. the views, with SQLite's online backup in a single step from a read
   connection: one read transaction, so one committed state at one position
   P, while the projector goes on writing (WAL readers do not block the
   writer; a copy of 460 MB took ~5 s). The copy is then switched to a
   rollback journal, so it is one self-contained file;

then, on the copies and never on the live files, reads P and the schema
shape, digests every view (:mod:`~stormproof.snapshots.digests`, in a child
process), then packs each file (:mod:`~stormproof.snapshots.packing`, ADR
035) and hashes what it packed. One made ahead is work for later, and what
it does on its copies runs below the region's requests (ADR 034): the
digests in a child started through nice(1), the packing and hashes on a
thread of its own that lowered itself. The copying does not: it holds a
read transaction on the live views, and while that lasts SQLite cannot
start its WAL over, so a copy slowed down would grow the WAL the region's
reads go through.
One made because a peer asked, which that peer waits for, is not lowered
at all. Only then is the folder renamed from ``.partial-<id>`` to ``<id>``,
with ``manifest.json`` beside the files.

One snapshot is made at a time; one made less than ``snapshot_reuse_s`` ago
is handed out again (three regions restoring at once cost one copy); making
one deletes all but it and the one before (which a recipient may still be
downloading). They live in ``DATA/snapshots/`` and are served to operators
only (``api/routers/snapshots.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from stormproof.logs import log_event
from stormproof.priority import lower_this_thread
from stormproof.recommend import checkpoint
from stormproof.settings import Settings
from stormproof.snapshots.digests import view_digests
from stormproof.snapshots.manifest import (
    CHECKPOINT,
    FORMAT,
    ID_PATTERN,
    VIEWS,
    EngineHeader,
    Manifest,
    SnapshotError,
    SnapshotFile,
    open_read_only,
    positions_of,
    sha256_of,
    shape_of,
)
from stormproof.snapshots.packing import pack, packed_name

__all__ = ["Snapshots"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Copied:
    position: list[int]
    shape: str
    engine: EngineHeader | None


class Snapshots:
    """This region's snapshots, in ``settings.snapshots_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = settings.snapshots_dir
        self._lock = asyncio.Lock()
        #: the latest snapshot made, and when (monotonic seconds): by this
        #: process, or the newest sealed before it started (:meth:`_recall`)
        self._latest: tuple[float, Manifest] | None = None
        self._recalled = False
        #: the one thread that hashes snapshots made ahead, at the priority of work for later
        self._thread = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="snapshots", initializer=lower_this_thread
        )

    async def make_or_reuse(self, *, ahead: bool = False) -> Manifest:
        """A snapshot of this region as it stands now, or one made a moment
        ago — or, with ``snapshot_every_s``, the one made ahead, until twice
        that long passed (the next one was due, and did not come). ``ahead``:
        make a new one whatever there is (:meth:`keep_one_made`).

        One still fresh is handed out at once, even while the next is being
        made: a peer that lost its disks does not wait for a snapshot it
        does not need (tens of seconds at a million entries)."""
        if not ahead and (fresh := self._fresh()) is not None:
            return fresh
        async with self._lock:
            if not ahead and (fresh := self._fresh()) is not None:  # made while we waited
                return fresh
            manifest = await self._make(ahead=ahead)
            keep = {manifest.id} | ({self._latest[1].id} if self._latest else set())
            await asyncio.to_thread(self._delete_all_but, keep)
            self._latest = (time.monotonic(), manifest)
            return manifest

    def _fresh(self) -> Manifest | None:
        """The latest snapshot, if it may still be handed out."""
        self._recall()
        if self._latest is None:
            return None
        made, manifest = self._latest
        age = time.monotonic() - made
        fresh = age < self.settings.snapshot_reuse_s or age < 2 * self.settings.snapshot_every_s
        return manifest if fresh and (self.folder / manifest.id).is_dir() else None

    def _recall(self) -> None:
        """Once per process: the newest snapshot this region sealed before
        the process started becomes the latest, made as long ago as its
        manifest says. A region that restarted (a power cut) still hands
        out the one it made ahead, instead of making a new one while a peer
        that lost its disks waits."""
        if self._recalled:
            return
        self._recalled = True
        newest: Manifest | None = None
        found = self.folder.iterdir() if self.folder.is_dir() else iter(())
        for path in found:
            try:
                manifest = Manifest.model_validate_json((path / "manifest.json").read_bytes())
            except (OSError, ValueError):  # half made, or not ours
                continue
            if manifest.id != path.name or manifest.format != FORMAT:
                continue
            if newest is None or manifest.made_at > newest.made_at:
                newest = manifest
        if newest is not None and self._latest is None:
            age = max(0.0, time.time() - newest.made_at / 1000)
            self._latest = (time.monotonic() - age, newest)

    async def keep_one_made(
        self,
        ready: Callable[[], Awaitable[None]],
        applied: Callable[[], int] | None = None,
        save_engine: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Once ``ready`` returns, make a snapshot every ``snapshot_every_s``
        seconds (the first that long after the last one made, or
        ``snapshot_gap_s`` after ready when there is none this region can
        hand out and its views applied more than ``restore_min_entries``),
        for as long as this runs (the region cancels it on close) — and
        sooner under many writes: once
        ``applied()`` (entries the views applied, all partitions together)
        is ``snapshot_every_entries`` past the last snapshot's, though not
        within ``snapshot_gap_s`` of it, nor within twice the time the last
        one took to make (tens of seconds of a core at a million entries:
        under a steady stream of writes, making them never takes more than a
        third of a core). What a peer that lost its disks replays after the
        download is then bounded by entries, not only by time. Each one is
        made right after ``save_engine()``, so the engine checkpoint it
        ships stands near its views: the peer replays a short tail into its
        engine too, not what this region's saves were behind. A failure is
        logged and tried again at the next turn."""
        every = self.settings.snapshot_every_s
        many, gap = self.settings.snapshot_every_entries, self.settings.snapshot_gap_s
        await ready()
        last, took, at = time.monotonic(), 0.0, applied() if applied else 0
        self._recall()
        if self._latest is not None:  # made before a restart: the turns go on from it
            last, at = self._latest[0], sum(self._latest[1].position)
        elif at > self.settings.restore_min_entries:
            # None to hand out (a first start, or an older format's), and a
            # history a peer would restore rather than rebuild: the first
            # comes a gap after ready, not a whole period.
            last -= max(every - gap, 0.0)
        while True:
            await asyncio.sleep(min(every, max(gap, 0.1), 5.0))
            since = time.monotonic() - last
            moved = applied() - at if applied else 0
            if since < every and not (many and moved >= many and since >= max(gap, 2 * took)):
                continue
            began = time.monotonic()
            if save_engine is not None:
                try:
                    await save_engine()
                except OSError as exc:  # e.g. no fork: the snapshot is worth making still
                    log.warning("saving the engine before a snapshot failed: %s", exc)
            try:
                manifest = await self.make_or_reuse(ahead=True)
            except SnapshotError as exc:
                log.warning("making a snapshot ahead failed: %s", exc.message)
            else:
                at = sum(manifest.position)
            last = time.monotonic()
            took = last - began

    def file(self, snapshot_id: str, name: str) -> Path | None:
        """The path of one file of a finished snapshot, if there is one."""
        names = (packed_name(VIEWS), packed_name(CHECKPOINT))
        if name not in names or not re.fullmatch(ID_PATTERN[1:-1], snapshot_id):
            return None
        path = self.folder / snapshot_id / name
        return path if path.is_file() else None

    async def _make(self, *, ahead: bool) -> Manifest:
        """A new snapshot: ``ahead``, as work for later (ADR 034); else for
        a peer waiting for it, at the region's own priority."""
        snapshot_id = secrets.token_hex(8)
        partial = self.folder / f".partial-{snapshot_id}"
        began = time.monotonic()
        run = self._later if ahead else asyncio.to_thread
        try:
            # The copy holds a read transaction on the live views (and the
            # WAL cannot be reset while it lasts): never lowered.
            copied = await asyncio.to_thread(self._copy, partial)
            digests = await view_digests(partial / VIEWS, workers=1, background=ahead)
            names = [VIEWS] + ([CHECKPOINT] if copied.engine else [])
            files = await run(lambda: [_packed(partial / n) for n in names])
            manifest = Manifest(
                format=FORMAT,
                id=snapshot_id,
                region=self.settings.region,
                made_at=int(time.time() * 1000),
                views_schema=copied.shape,
                partitions=len(copied.position),
                position=copied.position,
                engine=copied.engine,
                digests=digests,
                files=files,
            )
            await asyncio.to_thread(self._seal, partial, manifest)
            took = round(time.monotonic() - began, 2)
            log_event(
                "snapshot.made",
                snapshot=snapshot_id,
                position=manifest.position,
                ahead=ahead,
                took_s=took,
            )
            return manifest
        except (OSError, sqlite3.Error) as exc:
            raise SnapshotError(f"making a snapshot failed: {exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, partial, True)

    async def _later(self, work: Callable[[], _T]) -> _T:
        """``work()`` on the lowered thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def _copy(self, partial: Path) -> _Copied:
        partial.mkdir(parents=True)
        engine = self._copy_checkpoint(partial / CHECKPOINT)
        views = partial / VIEWS
        if not self.settings.views_path.is_file():
            raise SnapshotError("this region has no views yet")
        source = sqlite3.connect(self.settings.views_path, isolation_level=None)
        try:
            source.execute("PRAGMA busy_timeout=5000")
            source.execute("PRAGMA query_only=1")
            copy = sqlite3.connect(views, isolation_level=None)
            try:
                source.backup(copy)  # every page in one step: one read transaction
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            source.close()
        db = open_read_only(views)
        try:
            positions = positions_of(db)
            shape = shape_of(db)
        finally:
            db.close()
        position = [positions.get(p, 0) for p in range(len(positions))]
        if shape is None or not position:
            raise SnapshotError("the views hold no schema or no position yet")
        if engine is not None and (
            len(engine.position) != len(position)
            or any(q > p for q, p in zip(engine.position, position, strict=True))
        ):  # cannot happen (copied first); shipped alone, the views are still right
            (partial / CHECKPOINT).unlink()
            engine = None
        return _Copied(position, shape, engine)

    def _copy_checkpoint(self, target: Path) -> EngineHeader | None:
        """Copy the engine checkpoint (one open file: the whole of the old or
        the new one, which is written beside it and renamed over it) — with
        the delta checkpoints beside it merged in, by a process of its own
        (ADR 032: a load and a whole save, seconds of a core at a million
        entries, not to be taken from the serving process's interpreter)."""
        source = self.settings.checkpoint_path
        if checkpoint.delta_files(source):
            spawn = multiprocessing.get_context("spawn")  # forking a threaded process is unsafe
            child = spawn.Process(target=_compact, args=(source, target), daemon=True)
            child.start()
            child.join()
            if child.exitcode != 0:  # the base alone is still a checkpoint
                log.warning("merging the checkpoint's deltas failed (%s)", child.exitcode)
                target.unlink(missing_ok=True)
        if not target.exists():
            try:
                shutil.copyfile(source, target)
            except FileNotFoundError:
                return None
        found = checkpoint.read_header(target)
        try:
            return EngineHeader.model_validate(found)
        except ValueError:
            target.unlink()
            return None

    def _seal(self, partial: Path, manifest: Manifest) -> None:
        (partial / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        partial.rename(self.folder / manifest.id)

    def _delete_all_but(self, keep: set[str]) -> None:
        for path in self.folder.iterdir():
            if path.name not in keep:  # older ones, and what a crash left half made
                shutil.rmtree(path, ignore_errors=True)


def _packed(path: Path) -> SnapshotFile:
    """``path`` packed in its place (ADR 035), as the manifest lists it."""
    raw_size = path.stat().st_size
    return sha256_of(pack(path), raw_size)


def _compact(source: Path, target: Path) -> None:
    """In a child (started from the lowered thread: lowered too): ``source``'s
    base and deltas, merged, written to ``target``."""
    if not checkpoint.compact_to(source, target):
        raise SystemExit(1)
