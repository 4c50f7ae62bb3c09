"""nats-server processes: configuration, sessions, kill, freeze, restart, wipe."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from stormproof.log.jetstream import JetStreamLog
from stormproof.natsd import (
    NatsCluster,
    NatsServerSpec,
    jetstream_ready,
    nats_server_binary,
    port_open,
    write_config,
)
from tests.log.contract import event


def test_config_binds_loopback_fsyncs_every_write_and_does_not_advertise(tmp_path: Path) -> None:
    spec = NatsServerSpec(
        name="us-east",
        client_port=4222,
        cluster_port=6222,
        store_dir=tmp_path / "js",
        routes=("nats://127.0.0.1:6223", "nats://127.0.0.1:6224"),
        http_port=8222,
    )
    text = write_config(spec, tmp_path / "nats.conf").read_text()
    assert 'server_name: "us-east"' in text
    assert "listen: 127.0.0.1:4222" in text
    assert "listen: 127.0.0.1:6222" in text
    assert "http: 127.0.0.1:8222" in text
    assert "sync_interval: always" in text
    assert "no_advertise: true" in text
    assert 'routes: ["nats://127.0.0.1:6223", "nats://127.0.0.1:6224"]' in text
    assert "0.0.0.0" not in text


def test_config_advertises_a_cluster_address_only_when_given_one(tmp_path: Path) -> None:
    # The WAN layout gives each server a dead-end address, so that no peer
    # routes to it past the proxy (ADR 014).
    spec = NatsServerSpec("east", 4222, 6222, tmp_path / "js", advertise="127.0.0.1:6311")
    text = write_config(spec, tmp_path / "nats.conf").read_text()
    assert '  advertise: "127.0.0.1:6311"' in text and "no_advertise: true" in text
    plain = NatsServerSpec("east", 4222, 6222, tmp_path / "js")
    assert "  advertise:" not in write_config(plain, tmp_path / "plain.conf").read_text()


def test_local_cluster_ports() -> None:
    cluster = NatsCluster.local(Path("/nowhere"), base_port=14000)
    east, central, west = cluster.specs.values()
    assert cluster.urls == [
        "nats://127.0.0.1:14000",
        "nats://127.0.0.1:14001",
        "nats://127.0.0.1:14002",
    ]
    assert (east.cluster_port, central.cluster_port, west.cluster_port) == (14003, 14004, 14005)
    assert list(east.routes) == ["nats://127.0.0.1:14004", "nats://127.0.0.1:14005"]
    free = NatsCluster.local(Path("/nowhere"), monitor=True)
    ports = [p for s in free.specs.values() for p in (s.client_port, s.cluster_port, s.http_port)]
    assert len(set(ports)) == 9


def test_binary_comes_from_the_wheel() -> None:
    assert os.access(nats_server_binary(), os.X_OK)


async def test_kill_freeze_thaw_restart_and_wipe(tmp_path: Path) -> None:
    """Each server leads its own session (a region dies as a group); a wiped
    server rebuilds its replicas from its peers."""
    cluster = NatsCluster.local(tmp_path, sync_interval="always").start()
    east, central, west = cluster.names
    log = JetStreamLog(cluster.urls, 1, prefix="W")
    try:
        for name in cluster.names:
            pid = cluster._procs[name].pid
            assert os.getpgid(pid) == pid
        await log.start()
        appended = [await log.append(f"k{n}", event(n)) for n in range(20)]

        cluster.freeze(east)  # the port still accepts connections, nothing answers
        assert port_open(cluster.specs[east].client_port)
        with pytest.raises(TimeoutError):
            await jetstream_ready([cluster.url(east)], timeout=1.5)
        cluster.thaw(east)
        await jetstream_ready([cluster.url(east)], timeout=30)

        cluster.kill(east)
        assert not cluster.running(east)
        assert not port_open(cluster.specs[east].client_port)

        cluster.restart(east, wipe=True)  # the disk is lost too
        assert cluster.running(east)
        await jetstream_ready(cluster.urls, timeout=30)
        # Only the wiped server answers through this log: it must have rebuilt.
        alone = JetStreamLog(cluster.urls, 0, prefix="W")
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while await alone._read_via(0, 0, 0, 100) != await log.read(0, 0, 100):
                assert asyncio.get_running_loop().time() < deadline, "east never caught up"
                await asyncio.sleep(0.2)
            assert [e.key for e in await alone._read_via(0, 0, 0, 100)] == [e.key for e in appended]
        finally:
            await alone.close()
    finally:
        await log.close()
        cluster.stop()
    assert not any(cluster.running(n) for n in (east, central, west))
