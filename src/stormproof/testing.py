"""Helpers for tests and benchmarks: a real region API on a free loopback
port, free ports, a temporary cluster, and the browser the web tests and
benchmarks drive."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import uvicorn

from stormproof.api import create_app
from stormproof.api.serving import server_config
from stormproof.cluster import LocalCluster, free_base_port
from stormproof.operators import load_secret, operator_headers
from stormproof.region import Region
from stormproof.settings import Settings

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "LiveServer",
    "free_base_port",
    "free_port",
    "temporary_cluster",
]

T = TypeVar("T")

#: Debian's chromium, which Playwright drives (never a browser it downloads)
CHROMIUM = "/usr/bin/chromium"
#: how it is launched: headless, no GPU, nothing fetched behind the page's back
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def temporary_cluster(
    regions: int = 3, env: Mapping[str, str] | None = None
) -> Iterator[LocalCluster]:
    """A running local cluster in a temporary folder on free ports, stopped
    and removed on exit (for benchmarks); ``env`` adds settings
    (``STORMPROOF_*``) to its regions'."""
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster.create(Path(tmp), regions, free_base_port(regions))
        cluster.env.update(env or {})
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
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Its prober checks it where it listens (unless settings say otherwise).
        self.settings = settings = settings.model_copy(update={"url": settings.url or self.url})
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve()

        with asyncio.Runner(loop_factory=self._server.config.get_loop_factory()) as runner:
            runner.run(serve())

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``work`` on the server's event loop (where its region lives)
        and return what it returned."""
        assert self._loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def start(self, timeout: float = 20, *, ready: bool = True) -> LiveServer:
        """Serve, and with ``ready`` wait until the region has caught up
        (without: it answers health and 503 ``not_ready`` meanwhile)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        LiveServer.operators[self.url] = self.operator
        region: Region = self.app.state.region
        while ready and not region.ready:
            if region.failure is not None:
                raise RuntimeError(f"the region did not catch up: {region.failure.message}")
            if time.monotonic() > deadline:
                raise RuntimeError("the region did not catch up in time")
            time.sleep(0.02)
        return self

    @property
    def operator(self) -> dict[str, str]:
        """Headers that make a request an operator's (health details, digests)."""
        return operator_headers(load_secret(self.settings.secret_path))

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
