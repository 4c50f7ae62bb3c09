"""Helpers for tests and benchmarks: a real region API on a free loopback port."""

from __future__ import annotations

import random
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import uvicorn

from stormproof.api import create_app
from stormproof.api.serving import server_config
from stormproof.cluster import LocalCluster
from stormproof.operators import operator_headers
from stormproof.region import Region, load_secret
from stormproof.settings import Settings

__all__ = ["LiveServer", "free_base_port", "free_port", "temporary_cluster"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_low(default: int = 32768) -> int:
    """The lowest port the kernel hands out as a connection's own (local) port."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_base_port(count: int = 3, *, wan: bool = False) -> int:
    """A base port ``b`` such that ``b + i``, ``b + 100 + i`` and ``b + 200 + i``
    (``i < count``) are all free: the layout of a local cluster; with ``wan``,
    also its proxy's ``b + 300 + 10 i + j`` and ``b + 400 + 10 i + j``.

    The range lies below the kernel's ephemeral ports: a restored region binds
    its old ports again, and one of them must not have become some outgoing
    connection's local port while the region was down."""
    rng = random.Random()
    top = max(min(_ephemeral_low(), 65536) - (500 if wan else 300), 10001)
    for _ in range(200):
        base = rng.randrange(10000, top)
        ports = [base + offset + i for offset in (0, 100, 200) for i in range(count)]
        if wan:
            pairs = [10 * i + j for i in range(count) for j in range(count)]
            ports += [base + offset + pair for offset in (300, 400) for pair in pairs]
        if all(_free(port) for port in ports):
            return base
    raise RuntimeError("no free port range for a cluster")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def temporary_cluster(regions: int = 3) -> Iterator[LocalCluster]:
    """A running local cluster in a temporary folder on free ports, stopped
    and removed on exit (for benchmarks)."""
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster.create(Path(tmp), regions, free_base_port(regions))
        cluster.up()
        try:
            yield cluster
        finally:
            cluster.down()


class LiveServer:
    """One region's API served by uvicorn in a thread, on a free loopback port;
    ``on_ready`` as in :func:`~stormproof.api.create_app` (the demo's seeding)."""

    #: base URL -> operator headers of every server started in this process
    operators: ClassVar[dict[str, dict[str, str]]] = {}

    def __init__(
        self,
        settings: Settings,
        *,
        on_ready: Callable[[Region], Awaitable[object]] | None = None,
    ) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, on_ready=on_ready)
        config = server_config(
            self.app,
            settings,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 20) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        LiveServer.operators[self.url] = self.operator
        return self

    @property
    def operator(self) -> dict[str, str]:
        """Headers that make a request an operator's (health details, digests)."""
        return operator_headers(load_secret(self.settings.secret_path))

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
