"""A region whose views are gone restores from a peer's snapshot over real
HTTP, verified before it is trusted, and replays only the tail; a damaged
or foreign snapshot is rejected with its reason, and the region rebuilds
from sequence 0 to the same digests (issue 12)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormproof.log.sqlite import SqliteLog
from stormproof.operators import load_secret
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.snapshots import Manifest, RestoreReport, restore_from_peers
from stormproof.snapshots.restoring import Rejected, check_manifest
from stormproof.testing import LiveServer, free_port
from tests.conftest import make_settings
from tests.snapshots.history import append_history


def _copy_log(source: Path, target: Path) -> None:
    """The same log in another region's folder (a consistent copy of the file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    a, b = sqlite3.connect(source), sqlite3.connect(target)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()


def _digest(peer: LiveServer, position: list[int]) -> dict[str, Any]:
    """The peer's digests, once its views stand at ``position``."""
    deadline = time.monotonic() + 30
    while True:
        taken: dict[str, Any] = httpx.get(f"{peer.url}/v1/digest", headers=peer.operator).json()
        if taken["position"] == position or time.monotonic() > deadline:
            return taken
        time.sleep(0.05)


def _settings(folder: Path, secret: Path, **values: Any) -> Settings:
    # The peer never saves its engine again while a test runs: its
    # checkpoint stays where its start put it.
    return make_settings(folder, secret_file=secret, checkpoint_every_s=3600, **values)


async def _restore(settings: Settings, secret: Path) -> RestoreReport:
    """What :func:`restore_from_peers` does for a region with ``settings``."""
    log = SqliteLog(settings.log_path)
    try:
        return await restore_from_peers(settings, log, load_secret(secret))
    finally:
        await log.close()


async def _engine_saved(settings: Settings, patience: float = 60.0) -> None:
    """Wait for a started region's first checkpoint: it is saved right after
    the region is ready, by a child, and a snapshot asked for before it
    ships the views alone (as it should), which these tests do not want."""
    deadline = time.monotonic() + patience
    while not settings.checkpoint_path.exists():
        assert time.monotonic() < deadline, "the region saved no checkpoint"
        await asyncio.sleep(0.05)


async def test_a_wiped_region_restores_from_a_peer_and_replays_only_the_tail(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    peer_settings = _settings(tmp_path / "a", secret, region="a")
    await append_history(peer_settings.log_path, range(1500))
    peer = LiveServer(peer_settings).start()  # saves its engine at 1500
    try:
        await _engine_saved(peer_settings)
        await append_history(peer_settings.log_path, range(1500, 1800))
        _digest(peer, [1800])  # the peer stands at P

        dead = f"http://127.0.0.1:{free_port()}"
        ours = _settings(
            tmp_path / "b", secret, region="b", peers=(dead, peer.url), restore_min_entries=1000
        )
        _copy_log(peer_settings.log_path, ours.log_path)
        # The snapshot is taken at P (the peer reuses it), then a tail arrives
        # in both regions: the restored one replays Q -> P -> the end.
        async with httpx.AsyncClient(base_url=peer.url, headers=peer.operator) as client:
            made = Manifest.model_validate_json((await client.post("/v1/snapshots")).content)
        assert made.position == [1800]
        await append_history(peer_settings.log_path, range(1800, 2000))
        await append_history(ours.log_path, range(1800, 2000))
        region = Region.open(ours)
        asked: list[object] = []

        async def ask_progress() -> None:  # as /v1/health does, all along
            while not region.ready and region.failure is None:
                try:
                    asked.append(region.catching_up and region.catching_up.progress())
                except Exception as exc:  # the views it read were closed under it
                    asked.append(exc)
                await asyncio.sleep(0.001)

        try:
            await region.start()
            asking = asyncio.create_task(ask_progress())
            await region.caught_up()
            await asking
            assert asked and not [a for a in asked if isinstance(a, Exception)]
            report = region.restored
            assert report is not None and report.peer == peer.url, report
            assert (report.made_by, report.position, report.engine_position) == (
                "a",
                [1800],
                [1500],
            )
            assert [r.peer for r in report.rejected] == [dead]
            assert "ConnectError" in report.rejected[0].reason
            assert not (ours.data_dir / "tmp" / "snapshot").exists()
            assert region.ready and region.projector.position == (2000,)
            at_end = _digest(peer, [2000])
            assert region.store.digests() == {"position": [2000], "views": at_end["views"]}
        finally:
            await region.close()
    finally:
        peer.stop()


async def test_a_damaged_or_foreign_snapshot_is_rejected_and_the_region_rebuilds(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    peer_settings = _settings(tmp_path / "a", secret, region="a", snapshot_reuse_s=600)
    await append_history(peer_settings.log_path, range(1500))
    foreign_log = tmp_path / "c" / "log.sqlite"
    _copy_log(peer_settings.log_path, foreign_log)  # it will not hold the last 300
    await append_history(peer_settings.log_path, range(1500, 1800))
    peer = LiveServer(peer_settings).start()
    try:
        await _engine_saved(peer_settings)
        async with httpx.AsyncClient(base_url=peer.url, headers=peer.operator) as client:
            made = await client.post("/v1/snapshots", timeout=60)
        manifest = Manifest.model_validate_json(made.content)
        foreign = _settings(
            foreign_log.parent, secret, region="c", peers=(peer.url,), restore_min_entries=100
        )

        # A snapshot "from the future" of this log, then one of another log
        # (the same 1500 entries, then others): both refused.
        for more, reason in [
            (range(0), "past this log's end"),
            (range(5000, 5400), "never saw this log's entry"),
        ]:
            await append_history(foreign.log_path, more)
            report = await _restore(foreign, secret)
            assert report.peer is None and len(report.rejected) == 1
            assert reason in report.rejected[0].reason
            assert not foreign.views_path.exists()

        # Another schema, another engine, an engine past the views: refused
        # before a byte is downloaded.
        assert manifest.engine is not None
        for change, reason in [
            ({"views_schema": "0" * 64}, "another schema"),
            ({"partitions": 2, "position": [1800, 0]}, "partitions"),
            ({"engine": manifest.engine.model_copy(update={"format": 0})}, "another format"),
            ({"engine": manifest.engine.model_copy(update={"layout": 2})}, "another layout"),
            ({"engine": manifest.engine.model_copy(update={"position": [1801]})}, "past the views"),
        ]:
            with pytest.raises(Rejected, match=reason):
                check_manifest(manifest.model_copy(update=change), [1800])

        # A fault in the engine checkpoint, which arrives while the views are
        # being checked: refused, the checks called off, nothing left behind.
        engine_file = peer_settings.snapshots_dir / manifest.id / "foryou.checkpoint.zst"
        whole = engine_file.read_bytes()
        engine_file.write_bytes(whole[:-1] + bytes([whole[-1] ^ 0xFF]))
        other = _settings(
            tmp_path / "d", secret, region="d", peers=(peer.url,), restore_min_entries=1000
        )
        _copy_log(peer_settings.log_path, other.log_path)
        report = await _restore(other, secret)
        assert report.peer is None and len(report.rejected) == 1
        assert "foryou.checkpoint.zst's SHA-256 differs" in report.rejected[0].reason
        assert not (other.data_dir / "tmp" / "snapshot").exists()
        engine_file.write_bytes(whole)

        # A disk fault on the peer after the snapshot was made.
        damaged = peer_settings.snapshots_dir / manifest.id / "views.sqlite.zst"
        data = bytearray(damaged.read_bytes())
        data[len(data) // 2] ^= 0xFF
        damaged.write_bytes(bytes(data))
        ours = _settings(
            tmp_path / "b", secret, region="b", peers=(peer.url,), restore_min_entries=1000
        )
        _copy_log(peer_settings.log_path, ours.log_path)
        region = Region.open(ours)
        try:
            await region.start()
            await region.caught_up()  # rebuilt from sequence 0
            report = region.restored
            assert report is not None and report.peer is None
            assert [r.peer for r in report.rejected] == [peer.url]
            assert "views.sqlite.zst's SHA-256 differs" in report.rejected[0].reason
            assert not (ours.data_dir / "tmp" / "snapshot").exists()
            assert region.store.digests() == {
                "position": [1800],
                "views": _digest(peer, [1800])["views"],
            }
        finally:
            await region.close()
    finally:
        peer.stop()
