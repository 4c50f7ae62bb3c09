"""The drill's WAN: round-trip times and partitions between regions.

This kernel has no ``tc netem``, so the drill puts a user-space TCP proxy on
every connection that crosses regions: nats-server routes, and each API's
connections to another region's server (``LocalCluster.wan_links`` lists
them). The proxy runs in a process of its own (``python -m
stormproof.drill.proxy``; the forwarding is :mod:`stormproof.drill.wan`), so
the drill's load generator cannot slow it down, and exits when its stdin
closes, so it never outlives the process that started it.
:class:`WanProxy` is that parent's side; :func:`measure_overhead` says what
the proxy costs when it adds no delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from stormproof.drill.wan import serve_requests

__all__ = ["ProxyError", "WanProxy", "measure_overhead"]


class ProxyError(Exception):
    """The proxy refused a request (it says why), or its process is gone."""


class WanProxy:
    """The proxy process, seen from the drill.

    Every method blocks until the proxy answered (it answers at once) and may
    be called from any thread; async code calls them through
    ``asyncio.to_thread``. Failures are :class:`ProxyError`. Use it as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self._buffer = b""
        self._asked = 0

    @classmethod
    def start(cls, timeout: float = 10.0) -> WanProxy:
        """Start the proxy process and wait until it takes requests."""
        process = subprocess.Popen(
            [sys.executable, "-m", "stormproof.drill.proxy"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,  # a Ctrl-C reaches the drill, which closes the proxy
        )
        proxy = cls(process)
        try:
            proxy._answer(timeout)
        except BaseException:
            proxy.close()
            raise
        return proxy

    @property
    def pid(self) -> int:
        return self._process.pid

    def add_link(self, listen_port: int, target_port: int, a: str, b: str) -> int:
        """Forward connections to 127.0.0.1:``listen_port`` (0: any free port)
        to ``target_port``, as traffic from region ``a`` to region ``b``;
        returns the port it listens on."""
        port: int = self._call("add_link", listen=listen_port, target=target_port, a=a, b=b)
        return port

    def set_rtt(self, a: str, b: str, rtt_ms: float) -> None:
        """Delay every chunk between ``a`` and ``b`` by ``rtt_ms / 2``, each
        way, on the links' open connections and new ones alike."""
        self._call("set_rtt", a=a, b=b, rtt_ms=rtt_ms)

    def cut(self, region: str) -> None:
        """Partition ``region``: every link with it at either end stalls."""
        self._call("cut", region=region)

    def heal(self, region: str) -> None:
        """End ``region``'s partition: its stalled connections resume."""
        self._call("heal", region=region)

    def stats(self) -> dict[str, Any]:
        """``links`` (per link: ports, regions, ``open``, ``accepted``,
        ``connections``, bytes each way), ``connections``, ``bytes``, ``cut``."""
        stats: dict[str, Any] = self._call("stats")
        return stats

    def close(self) -> None:
        """Stop the proxy (closing its stdin ends it); every connection through
        it ends. Safe to call again."""
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> WanProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, op: str, **arguments: Any) -> Any:
        with self._lock:
            self._asked += 1
            request = json.dumps({"id": self._asked, "op": op, **arguments}) + "\n"
            stdin = self._process.stdin
            try:
                assert stdin is not None
                stdin.write(request.encode())  # one short line: a pipe takes it whole
            except (OSError, ValueError):
                raise ProxyError("the proxy process is gone") from None
            answer = self._answer(10.0)
            if answer.get("id") != self._asked:
                raise ProxyError(f"the proxy answered {answer!r} to request {self._asked}")
            if "error" in answer:
                raise ProxyError(answer["error"])
            return answer.get("result")

    def _answer(self, timeout: float) -> dict[str, Any]:
        stdout = self._process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProxyError(f"the proxy did not answer in {timeout} s")
            if select.select([stdout], [], [], left)[0]:
                chunk = os.read(stdout.fileno(), 1 << 16)
                if not chunk:
                    raise ProxyError(f"the proxy exited ({self._process.wait()})")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer


# -- what the proxy costs ------------------------------------------------------


class _EchoServer:
    """A loopback server that sends back whatever it receives (a thread per connection)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True, name="echo-accept").start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(1 << 20):
                conn.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


def _throughput(port: int, seconds: float) -> float:
    """MB/s sent through an echo at ``port`` and back, for ``seconds``."""
    block = b"x" * (1 << 16)
    sent, done = [0], threading.Event()
    with socket.create_connection(("127.0.0.1", port)) as conn:

        def send() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                conn.sendall(block)
                sent[0] += len(block)
            done.set()

        sender = threading.Thread(target=send, name="throughput-sender")
        start = time.monotonic()
        sender.start()
        received = 0
        while not (done.is_set() and received >= sent[0]):
            if select.select([conn], [], [], 0.2)[0]:
                received += len(conn.recv(1 << 20))
        elapsed = time.monotonic() - start
        sender.join()
    return received / elapsed / 1e6


def _round_trips(port: int, seconds: float) -> list[float]:
    """Milliseconds for 64 bytes to go through an echo at ``port`` and back."""
    message, times = b"p" * 64, list[float]()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        end = time.monotonic() + seconds
        while time.monotonic() < end or len(times) < 2:
            start = time.monotonic()
            conn.sendall(message)
            got = 0
            while got < len(message):
                got += len(conn.recv(len(message) - got))
            times.append((time.monotonic() - start) * 1000)
    return times


def _figures(port: int, seconds: float) -> dict[str, float]:
    times = statistics.quantiles(_round_trips(port, seconds), n=100)
    return {"mb_per_s": _throughput(port, seconds), "p50_ms": times[49], "p99_ms": times[98]}


def measure_overhead(seconds: float = 1.0) -> dict[str, Any]:
    """What the proxy costs at zero delay, against a direct loopback
    connection to the same echo server, measured now, one after the other.

    Four measurements of ``seconds`` each: throughput (MB/s through the echo
    and back) and 64-byte round trips (p50, p99 in ms), direct and through a
    proxy link. Returns ``direct``, ``proxied`` and the ratios proxied / direct
    (``throughput_ratio``, ``p50_ratio``, ``p99_ratio``).
    """
    echo = _EchoServer()
    try:
        with WanProxy.start() as proxy:
            port = proxy.add_link(0, echo.port, "here", "there")
            direct = _figures(echo.port, seconds)
            proxied = _figures(port, seconds)
    finally:
        echo.close()
    return {
        "direct": direct,
        "proxied": proxied,
        "throughput_ratio": proxied["mb_per_s"] / direct["mb_per_s"],
        "p50_ratio": proxied["p50_ms"] / direct["p50_ms"],
        "p99_ratio": proxied["p99_ms"] / direct["p99_ms"],
    }


if __name__ == "__main__":
    asyncio.run(serve_requests())
