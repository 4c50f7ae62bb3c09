"""A snapshot is the views at one position, even while they keep changing:
its digests equal those of views rebuilt from the log up to that position."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import httpx

from stormproof.log.sqlite import SqliteLog
from stormproof.settings import Settings
from stormproof.snapshots import Manifest, Snapshots
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from tests.conftest import LiveServer, health, make_settings, sign_up
from tests.snapshots.history import append_history


async def test_a_snapshot_is_one_position_while_the_views_keep_changing(tmp_path: Path) -> None:
    # Guards how the views are copied: the live file's bytes (without its
    # WAL, or read across commits) would miss or mix commits; SQLite's backup
    # in one step reads one committed state.
    settings = make_settings(tmp_path / "region")
    await append_history(settings.log_path, range(1200))
    log = SqliteLog(settings.log_path)
    entries = await log.read(0, 0, 1200)
    await log.close()
    store = ViewStore(settings.views_path, all_views())
    store.apply(entries[:200])
    going = threading.Event()

    def write() -> None:  # the projector, applying the rest in small batches
        for start in range(200, len(entries), 5):
            store.apply(entries[start : start + 5])
            if start >= 300:
                going.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        await asyncio.to_thread(going.wait)
        manifest = await Snapshots(settings).make_or_reuse()
    finally:
        writer.join()
    store.close()
    (at,) = manifest.position
    assert 300 < at <= 1200

    rebuilt = ViewStore(tmp_path / "rebuilt.sqlite", all_views())
    rebuilt.apply(entries[:at])
    assert rebuilt.digests() == {"position": [at], "views": manifest.digests}
    rebuilt.close()


def _made(settings: Settings) -> set[str]:
    """The snapshots sealed: a partial one has its manifest a moment before
    it is renamed into place."""
    folder = settings.snapshots_dir
    found = folder.iterdir() if folder.exists() else ()
    return {
        p.name
        for p in found
        if not p.name.startswith(".partial-") and (p / "manifest.json").exists()
    }


async def _views_of_history(settings: Settings, entries: int) -> ViewStore:
    """The region's views, open, with the first ``entries`` writes of the
    small community applied."""
    await append_history(settings.log_path, range(entries))
    log = SqliteLog(settings.log_path)
    store = ViewStore(settings.views_path, all_views())
    store.apply(await log.read(0, 0, entries))
    await log.close()
    return store


async def test_a_region_keeps_a_snapshot_made_ahead_and_hands_it_out(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region", snapshot_every_s=0.5, snapshot_reuse_s=0)
    store = await _views_of_history(settings, 50)
    snapshots = Snapshots(settings)
    ready = asyncio.Event()
    keeping = asyncio.create_task(snapshots.keep_one_made(ready.wait))
    try:
        await asyncio.sleep(0.7)
        assert _made(settings) == set()  # nothing before the region is ready
        ready.set()
        for _ in range(1000):  # a making child may wait for a core on a busy machine
            if before := _made(settings):
                break
            await asyncio.sleep(0.02)
        # Asked for one right after, a peer gets the one made ahead (the next
        # is half a second away), although snapshot_reuse_s is 0.
        handed = await snapshots.make_or_reuse()
        assert handed.id in before and handed.position == [50]
        for _ in range(600):  # turns go on; all but the last two are deleted
            if handed.id not in _made(settings):
                break
            await asyncio.sleep(0.05)
        assert handed.id not in _made(settings) and 1 <= len(_made(settings)) <= 2
    finally:
        keeping.cancel()
        await asyncio.gather(keeping, return_exceptions=True)
        store.close()


async def test_one_made_ahead_is_handed_out_while_the_next_is_being_made(
    tmp_path: Path,
) -> None:
    # A peer that lost its disks asks while the next snapshot is being made
    # (tens of seconds at a million entries): it gets the one made before,
    # not a wait for the new one.
    settings = make_settings(tmp_path / "region", snapshot_every_s=3600, snapshot_reuse_s=0)
    store = await _views_of_history(settings, 50)
    snapshots = Snapshots(settings)
    try:
        first = await snapshots.make_or_reuse(ahead=True)
        making = asyncio.create_task(snapshots.make_or_reuse(ahead=True))
        await asyncio.sleep(0)  # the next one is under way: it holds the lock
        assert snapshots._lock.locked()
        handed = await snapshots.make_or_reuse()
        assert handed.id == first.id and not making.done()
        second = await making
        assert second.id != first.id
        assert (await snapshots.make_or_reuse()).id == second.id
    finally:
        store.close()


async def test_one_made_ahead_outlives_a_restart_of_its_region(tmp_path: Path) -> None:
    # A power cut restarts the process: the snapshot it made ahead is still
    # handed out (not a new one made while a peer waits), until it is as old
    # as one made ahead may be.
    settings = make_settings(tmp_path / "region", snapshot_every_s=1.0, snapshot_reuse_s=0)
    store = await _views_of_history(settings, 50)
    try:
        made = await Snapshots(settings).make_or_reuse(ahead=True)
        restarted = Snapshots(settings)
        assert (await restarted.make_or_reuse()).id == made.id
        await asyncio.sleep(2.1)  # twice the period: the next was due, and did not come
        assert (await Snapshots(settings).make_or_reuse()).id != made.id
    finally:
        store.close()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_region_with_none_to_hand_out_makes_its_first_a_gap_after_ready(
    tmp_path: Path,
) -> None:
    # Its first start, or the first after its snapshots' format changed:
    # a peer that lost its disks would wait for one made when it asks (two
    # minutes at a million entries), so it does not wait a whole period.
    # A short history is left to the period: a peer would rebuild it from
    # the log rather than restore it (restore_min_entries).
    settings = make_settings(
        tmp_path / "region",
        snapshot_every_s=3600,
        snapshot_gap_s=0.3,
        snapshot_reuse_s=0,
        restore_min_entries=50,
    )
    store = await _views_of_history(settings, 50)
    snapshots = Snapshots(settings)
    ready = asyncio.Event()
    ready.set()
    short = asyncio.create_task(snapshots.keep_one_made(ready.wait, lambda: 50))
    await asyncio.sleep(1.0)
    await _cancelled(short)
    assert _made(settings) == set()
    keeping = asyncio.create_task(snapshots.keep_one_made(ready.wait, lambda: 51))
    try:
        for _ in range(500):
            if made := _made(settings):
                break
            await asyncio.sleep(0.02)
        assert len(made) == 1
        again = Snapshots(settings)  # restarted: it has one, and the turns go on from it
        again_keeping = asyncio.create_task(again.keep_one_made(ready.wait, lambda: 51))
        await asyncio.sleep(1.0)
        await _cancelled(again_keeping)
        assert _made(settings) == made
    finally:
        await _cancelled(keeping)
        store.close()


async def test_many_entries_applied_make_a_snapshot_before_the_period_is_up(
    tmp_path: Path,
) -> None:
    # An hour between snapshots, but one every 50 entries: what a restoring
    # peer replays after its download is bounded by entries.
    settings = make_settings(
        tmp_path / "region", snapshot_every_s=3600, snapshot_every_entries=50, snapshot_gap_s=0
    )
    await append_history(settings.log_path, range(50))
    log = SqliteLog(settings.log_path)
    store = ViewStore(settings.views_path, all_views())
    snapshots = Snapshots(settings)
    applied = 0

    async def ready() -> None:
        return None

    keeping = asyncio.create_task(snapshots.keep_one_made(ready, lambda: applied))
    try:
        await asyncio.sleep(0.5)
        assert _made(settings) == set()  # 0 applied since it began: none yet
        store.apply(await log.read(0, 0, 50))
        applied = 50
        for _ in range(250):
            if made := _made(settings):
                break
            await asyncio.sleep(0.02)
        assert len(made) == 1
        await asyncio.sleep(0.5)
        assert _made(settings) == made  # nothing more applied: no other
    finally:
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
        await log.close()
        store.close()


def test_a_snapshot_made_ahead_ships_an_engine_saved_at_its_views(tmp_path: Path) -> None:
    # The region's own saves are far apart here (an hour, or a million
    # entries): the engine checkpoint a snapshot ships would stand where
    # the region started, and a peer restoring from it would replay the
    # whole history into its engine. The region saves it first.
    settings = make_settings(
        tmp_path / "region",
        checkpoint_every_s=3600,
        checkpoint_every_entries=1_000_000,
        snapshot_every_s=3600,
        snapshot_every_entries=1,
        snapshot_gap_s=0,
        snapshot_reuse_s=0,
    )
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(12):
                sign_up(client, f"writer{n}")
            position = health(client)["log"]
            for _ in range(600):  # a snapshot of everything written comes (every entry makes one)
                made = [
                    Manifest.model_validate_json(
                        (settings.snapshots_dir / m / "manifest.json").read_bytes()
                    )
                    for m in _made(settings)
                ]
                if newest := [m for m in made if m.position == position]:
                    break
                time.sleep(0.1)
            assert newest, (position, [m.position for m in made])
            assert newest[0].engine is not None and newest[0].engine.position == position
    finally:
        server.stop()
