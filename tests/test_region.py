"""A region's lifecycle: start, resume, and refusing inconsistent state."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import pytest

from stormproof.actions import accounts
from stormproof.errors import LogError
from stormproof.log import Position
from stormproof.natsd import NatsCluster
from stormproof.operators import load_secret
from stormproof.region import Region
from stormproof.settings import Settings
from tests.conftest import make_settings
from tests.snapshots.history import append_history


async def _with_ann_signed_up(settings: Settings) -> Position:
    """Open a region of ``settings``, sign ann up, close it; where its views stand."""
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    await accounts.sign_up(region, "ann", "password1", idempotency_key=None)
    position = region.store.position()
    await region.close()
    return position


async def test_restart_resumes_from_the_stored_position(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    position = await _with_ann_signed_up(settings)

    again = Region.open(settings)
    await again.start()
    await again.caught_up()
    assert again.store.position() == position == (1,)
    await again.close()


async def test_a_region_opened_in_the_background_is_the_one_opened_in_place(
    tmp_path: Path,
) -> None:
    # `serve` and `cluster region` read the views and the engine checkpoint
    # while the app is imported: the same region comes of it, and a failure
    # to open reaches the start that waits for it, as open() raises it.
    settings = make_settings(tmp_path)
    await _with_ann_signed_up(settings)

    again = await asyncio.wrap_future(Region.open_in_background(settings))
    await again.start()
    await again.caught_up()
    assert again.store.position() == (1,) and again.engine.position == (1,)
    await again.close()

    for suffix in ("-wal", "-shm"):
        Path(f"{settings.views_path}{suffix}").unlink(missing_ok=True)
    settings.views_path.write_bytes(b"not a database, " * 512)
    with pytest.raises(sqlite3.DatabaseError) as in_place:
        Region.open(settings)
    with pytest.raises(sqlite3.DatabaseError) as in_background:
        await asyncio.wrap_future(Region.open_in_background(settings))
    assert str(in_background.value) == str(in_place.value)


async def test_views_ahead_of_the_log_are_refused_and_the_region_never_ready(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    await _with_ann_signed_up(settings)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.log_path}{suffix}").unlink(missing_ok=True)

    replaced = Region.open(settings)
    await replaced.start()  # the refusal comes from the catch-up, in the background
    with pytest.raises(LogError) as caught:
        await replaced.caught_up()
    assert caught.value.code == "views_ahead_of_log"
    assert replaced.failure is caught.value and not replaced.ready
    assert replaced.catching_up is None
    await replaced.close()


def test_the_secret_is_created_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    secret = load_secret(path)
    assert len(secret) == 32 and load_secret(path) == secret
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("child", ["works", "killed"])
async def test_a_long_catch_up_applies_the_views_in_a_process_of_their_own(
    tmp_path: Path, child: str
) -> None:
    """Views applied by a child process while the engine follows here end
    where a catch-up in one process ends, digests and all; a child killed
    at start leaves its work to the region, which finishes it."""
    apart = make_settings(tmp_path / "apart", views_apart_after=100)
    here = make_settings(tmp_path / "here")
    apart.log_path.parent.mkdir(parents=True)
    await append_history(apart.log_path, range(1200))
    here.log_path.parent.mkdir(parents=True)
    shutil.copy(apart.log_path, here.log_path)

    region = Region.open(apart)
    await region.start()
    seen = None
    while seen is None and not region.ready:
        views = [p for p in multiprocessing.active_children() if p.name == "test-views"]
        seen = views[0] if views else None
        await asyncio.sleep(0.01)
    assert seen is not None, "the views were applied in this process"
    if child == "killed":
        seen.kill()
    await region.caught_up()
    assert seen.exitcode == (0 if child == "works" else -9)

    alone = Region.open(here)
    await alone.start()
    await alone.caught_up()
    assert region.store.position() == alone.store.position() == (1200,)
    assert region.store.digests() == alone.store.digests()
    await region.close()
    await alone.close()


async def test_streams_are_set_up_before_a_new_log_is_read_and_meanwhile_once_it_holds_entries(
    tmp_path: Path, own_cluster: NatsCluster
) -> None:
    # A new cluster's streams do not exist: they are made before anything.
    # Once the log holds entries, a region whose disks were lost sets them up
    # again while it catches up, as a restarted one does: its own server,
    # still receiving the streams, can hold that up for half a minute.
    cluster = {"log_backend": "jetstream", "nats_urls": own_cluster.urls}
    first = Region.open(make_settings(tmp_path / "first", **cluster))
    await first.start()
    assert not [task for task in first._tasks if task.get_name() == "streams"]
    await first.caught_up()
    await accounts.sign_up(first, "ann", "password1", idempotency_key=None)
    position = first.store.position()
    await first.close()

    lost = Region.open(make_settings(tmp_path / "lost", **cluster))
    assert not any(lost.store.position())
    await lost.start()
    assert [task for task in lost._tasks if task.get_name() == "streams"]
    await lost.caught_up()
    assert lost.store.position() == position
    await lost.close()


async def test_a_catch_up_waits_out_a_log_it_cannot_read_for_a_while(
    tmp_path: Path, own_cluster: NatsCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log server frozen just as a region begins to catch up (its
    replicas still starting again, say): the region waits, and serves once
    they answer — it used to give up and never be ready."""
    cluster = {"log_backend": "jetstream", "nats_urls": own_cluster.urls}
    first = Region.open(make_settings(tmp_path / "first", **cluster))
    await first.start()
    await first.caught_up()
    await accounts.sign_up(first, "ann", "password1", idempotency_key=None)
    position = first.store.position()
    await first.close()

    region = Region.open(make_settings(tmp_path / "second", **cluster))
    await region.start()  # streams are there; the catch-up has not read yet
    for name in own_cluster.names:
        own_cluster.freeze(name)
    try:
        while "catching up:" not in caplog.text:
            assert region.failure is None and not region.ready
            await asyncio.sleep(0.05)
    finally:
        for name in own_cluster.names:
            own_cluster.thaw(name)
    await region.caught_up()
    assert region.ready and region.store.position() == position
    await region.close()
