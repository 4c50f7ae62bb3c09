"""The drill's WAN proxy: delays, cable cuts, its process, and a cluster behind it.

Times are only ever bounded from below (a delay is at least what was asked),
never from above: the machine is shared. Absence ("a cut delivers nothing")
is checked over a short wait, which a slow machine can only make easier.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from stormproof.cluster import LocalCluster
from stormproof.drill.proxy import ProxyError, WanProxy, measure_overhead
from stormproof.testing import free_base_port

#: how long "nothing arrives" is watched for
QUIET = 0.5
#: how long something that must happen may take on a loaded machine
PATIENCE = 60.0


class Server:
    """A loopback server that echoes (or, as a sink, only keeps) what it
    receives, noting when each chunk arrived and how many connections came."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self.received = bytearray()
        self.arrivals: list[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.accepted += 1
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(1 << 16):
                self.arrivals.append(time.monotonic())
                self.received += data
                if self.echo:
                    conn.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


@pytest.fixture
def proxy() -> Iterator[WanProxy]:
    with WanProxy.start() as started:
        yield started


@pytest.fixture
def echo() -> Iterator[Server]:
    server = Server()
    try:
        yield server
    finally:
        server.close()


def connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def receive(conn: socket.socket, size: int, timeout: float = PATIENCE) -> bytes:
    conn.settimeout(timeout)
    got = b""
    while len(got) < size:
        chunk = conn.recv(size - len(got))
        assert chunk, "the proxy closed the connection"
        got += chunk
    return got


def round_trip(conn: socket.socket, message: bytes = b"ping") -> float:
    start = time.monotonic()
    conn.sendall(message)
    assert receive(conn, len(message)) == message
    return time.monotonic() - start


def nothing_arrives(conn: socket.socket) -> bool:
    """True if nothing (not even the end of the stream) comes within QUIET."""
    conn.settimeout(QUIET)
    try:
        conn.recv(1)
    except TimeoutError:
        return True
    return False


def test_a_link_delays_each_way_by_half_the_round_trip_time_on_open_and_new_connections(
    proxy: WanProxy, echo: Server
) -> None:
    fast = proxy.add_link(0, echo.port, "here", "near")
    slow = proxy.add_link(0, echo.port, "here", "far")
    with connect(fast) as quick, connect(slow) as opened_before:
        round_trip(opened_before)  # connected upstream before the delay is set
        proxy.set_rtt("far", "here", 200)  # either order names the pair
        with connect(slow) as opened_after:
            reference = [round_trip(quick) for _ in range(5)]
            delayed = [round_trip(c) for c in (opened_before, opened_after) for _ in range(3)]
            sent = time.monotonic()
            opened_after.sendall(b"one way")
            receive(opened_after, len(b"one way"))
            came_back = time.monotonic()
    arrived = echo.arrivals[-1]
    assert min(delayed) >= 0.2
    assert min(delayed) > statistics.median(reference)
    assert arrived - sent >= 0.1 and came_back - arrived >= 0.1


def test_a_cut_stalls_open_and_new_connections_without_closing_them_and_a_heal_resumes_both(
    proxy: WanProxy, echo: Server
) -> None:
    cut = proxy.add_link(0, echo.port, "east", "west")
    other = proxy.add_link(0, echo.port, "east", "north")
    with connect(cut) as opened, connect(other) as bystander:
        round_trip(opened)
        round_trip(bystander)
        proxy.cut("west")
        opened.sendall(b"during the cut")
        assert nothing_arrives(opened)  # no echo, and no close either
        with connect(cut) as new:  # accepted: a cut is silence, not a refusal
            new.sendall(b"new")
            assert nothing_arrives(new)
            assert echo.accepted == 2  # `opened` and `bystander`: `new` never got through
            assert round_trip(bystander) >= 0  # links without west still work
            stats = proxy.stats()
            assert stats["cut"] == ["west"]
            assert [link["open"] for link in stats["links"]] == [False, True]
            proxy.heal("west")
            assert receive(opened, len(b"during the cut")) == b"during the cut"
            assert receive(new, len(b"new")) == b"new"
            round_trip(opened)
    assert echo.accepted == 3


def test_a_cut_pushes_back_on_a_sender_and_delivers_everything_after_the_heal(
    proxy: WanProxy,
) -> None:
    sink = Server(echo=False)
    try:
        port = proxy.add_link(0, sink.port, "east", "west")
        with connect(port) as conn:
            conn.sendall(b"first")
            while bytes(sink.received) != b"first":
                time.sleep(0.01)
            proxy.cut("east")
            sent = b"first"
            for _ in range(40):  # socket buffers grow a while before they block for good
                if more := _send_until_blocked(conn, len(sent)):
                    sent += more
                    time.sleep(QUIET / 5)
                elif sent != b"first":
                    break
            assert not more, "the sender never felt the cut"
            print(f"\n{len(sent)} bytes held by socket buffers and the proxy")
            assert len(sent) < 64 * 1024 * 1024  # the proxy stopped reading
            assert bytes(sink.received) == b"first"
            proxy.heal("east")
            deadline = time.monotonic() + PATIENCE
            while len(sink.received) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(sink.received) == len(sent)
            assert hashlib.sha256(sink.received).digest() == hashlib.sha256(sent).digest()
            assert proxy.stats()["links"][0]["bytes_a_to_b"] == len(sent)
    finally:
        sink.close()


def _send_until_blocked(conn: socket.socket, offset: int) -> bytes:
    """Send numbered blocks until the socket would block; what went."""
    conn.setblocking(False)
    sent = bytearray()
    try:
        while True:
            block = (offset + len(sent)).to_bytes(8, "big") * 8192
            sent += block[: conn.send(block)]
    except BlockingIOError:
        return bytes(sent)
    finally:
        conn.setblocking(True)


def test_bad_requests_are_refused_with_a_reason(proxy: WanProxy, echo: Server) -> None:
    with pytest.raises(ProxyError, match="round-trip"):
        proxy.set_rtt("a", "b", -1)
    port = proxy.add_link(0, echo.port, "a", "b")
    with pytest.raises(ProxyError, match="address already in use"):
        proxy.add_link(port, echo.port, "a", "b")
    assert proxy.stats()["connections"] == 0  # still answering


def test_the_proxy_exits_when_closed_and_when_its_parent_dies() -> None:
    proxy = WanProxy.start()
    proxy.close()
    assert not _running(proxy.pid)
    proxy.close()  # again: nothing happens
    with pytest.raises(ProxyError):
        proxy.cut("east")
    with subprocess.Popen(
        [sys.executable, "-c", _DYING_PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        orphan = int(parent.stdout.readline())
        assert parent.wait() == -signal.SIGKILL
    deadline = time.monotonic() + PATIENCE
    while _running(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(orphan)


#: a parent that starts a proxy, says its pid and dies without closing it
_DYING_PARENT = """
import os, signal
from stormproof.drill.proxy import WanProxy
print(WanProxy.start().pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_measure_overhead_compares_the_proxy_with_a_direct_connection() -> None:
    figures = measure_overhead(seconds=0.2)
    for path in ("direct", "proxied"):
        measured = figures[path]
        assert measured["mb_per_s"] > 0
        assert 0 < measured["p50_ms"] <= measured["p99_ms"]
    assert figures["throughput_ratio"] == (
        figures["proxied"]["mb_per_s"] / figures["direct"]["mb_per_s"]
    )
    assert figures["p50_ratio"] == figures["proxied"]["p50_ms"] / figures["direct"]["p50_ms"]
    print(f"\nproxy overhead: {figures}")


# -- a cluster behind the proxy -------------------------------------------------


def _connections(pid: int) -> list[tuple[int, int]]:
    """``pid``'s established TCP connections as (local port, remote port)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if inode in inodes and state == "01":  # ESTABLISHED
            found.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)))
    return found


def _assert_every_crossing_goes_through_the_proxy(cluster: LocalCluster) -> None:
    """No server connects to another's cluster port, no API to another region's
    server, except through the proxy; and every pair of servers has a route."""
    specs = list(cluster.regions.values())
    cluster_ports = {spec.nats.cluster_port for spec in specs}
    links = cluster.wan_links()
    for spec in specs:
        server = _connections(cluster.pids(spec.name)["nats"])
        assert not [c for c in server if c[1] in cluster_ports], f"{spec.name} routes directly"
        api = _connections(cluster.pids(spec.name)["api"])
        others = {s.nats.client_port for s in specs if s is not spec}
        assert not [c for c in api if c[1] in others], f"{spec.name}'s API bypasses the proxy"
        through = {
            link.listen_port
            for link in links
            if link.from_region == spec.name and link.target_port in others
        }
        assert through <= {remote for _, remote in api}, f"{spec.name}'s API is not linked"
    routed = set()
    for link in links:
        if link.target_port in cluster_ports:
            solicited = _connections(cluster.pids(link.from_region)["nats"])
            if any(remote == link.listen_port for _, remote in solicited):
                routed.add(frozenset((link.from_region, link.to_region)))
    assert len(routed) == 3, f"routes between {routed} only"


async def _publish(url: str, payload: bytes, *, until: float = 0.0) -> int:
    """Publish to the probe stream through the server at ``url``; its sequence.
    With ``until``, try again until that time while it fails."""
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream()
        while True:
            try:
                return (await js.publish("probe", payload, timeout=2)).seq
            except NatsError:
                if time.monotonic() > until:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def _replicas_current_or_none(url: str) -> set[str]:
    """:func:`_replicas_current`, or none while the healed server's answer
    times out (its routes form again through the proxy)."""
    try:
        return await _replicas_current(url)
    except NatsError:
        return set()


async def _replicas_current(url: str) -> set[str]:
    """The servers the probe stream's leader counts as current (itself too)."""
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        info = await nc.jetstream().stream_info("PROBE")
    finally:
        await nc.close()
    assert info.cluster is not None
    current = {r.name for r in info.cluster.replicas or [] if r.current and not r.offline}
    return current | {info.cluster.leader} if info.cluster.leader else current


async def test_a_cluster_behind_the_proxy_comes_up_routes_only_through_it_and_a_cut_isolates(
    tmp_path: Path,
) -> None:
    names = ("north", "east", "south")
    base = free_base_port(3, wan=True)
    cluster = LocalCluster.create(tmp_path, 3, base, names=names, wan=True)
    assert LocalCluster.load(tmp_path).names == list(names)
    proxy = WanProxy.start()
    try:
        for link in cluster.wan_links():
            proxy.add_link(*link)
        proxy.set_rtt("north", "east", 20)
        proxy.set_rtt("east", "south", 20)
        # A far pair: north and south hear of each other through east before
        # their own routes form, and a server connects to one it heard of at
        # the address that one gives. Without a dead-end address, north or
        # south routed directly in each of 5 runs (and once in 2 without delays).
        proxy.set_rtt("south", "north", 200)
        await asyncio.to_thread(cluster.up)
        _assert_every_crossing_goes_through_the_proxy(cluster)

        north, east = (cluster.spec(name).nats.url for name in ("north", "east"))
        nc = await nats.connect(east)
        await nc.jetstream().add_stream(name="PROBE", subjects=["probe"], num_replicas=3)
        await nc.close()
        assert await _publish(north, b"before", until=time.monotonic() + PATIENCE) == 1

        proxy.cut("north")
        with pytest.raises(NatsError):  # a timeout, or no responders: never an ack
            await _publish(north, b"cut off")
        during = await _publish(east, b"majority", until=time.monotonic() + PATIENCE)
        assert "north" not in await _replicas_current(east)

        proxy.heal("north")
        after = await _publish(north, b"after", until=time.monotonic() + PATIENCE)
        assert after > during  # north's server joined the majority's history
        deadline = time.monotonic() + PATIENCE
        while (current := await _replicas_current_or_none(north)) != set(names):
            assert time.monotonic() < deadline, f"only {current} caught up"
            await asyncio.sleep(0.2)
        _assert_every_crossing_goes_through_the_proxy(cluster)
    finally:
        await asyncio.to_thread(cluster.down)
        proxy.close()
