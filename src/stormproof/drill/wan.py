"""The WAN proxy's process: links that delay and partition TCP between regions.

Run as ``python -m stormproof.drill.proxy`` and driven by
:class:`stormproof.drill.proxy.WanProxy` (read that module first). One asyncio
event loop. A *link* listens on a loopback port and forwards each connection
it accepts to a target port; it carries traffic from region ``a`` (the side
that connects) to region ``b``.

- **Delay.** With a round-trip time set between ``a`` and ``b``, every chunk
  read in either direction is stamped and written at stamp + rtt/2, in order;
  a change applies at once to what is already waiting. Many chunks are in
  flight at once, so throughput holds up as on a long cable.
- **Cut.** A cut region's links stop reading and writing, both ways, without
  closing or dropping anything: senders fill their socket buffers and block,
  as on a cut cable. A connection made during the cut is accepted and left
  waiting; nothing reaches the target until the heal, when everything resumes.
- **Bounded.** Each direction of a connection holds at most :data:`WINDOW`
  bytes; past that the proxy stops reading that side.
- **Ends.** When either side's stream ends (or fails), what it sent is still
  delivered, then both sides are closed.

**Protocol.** One JSON object a line on stdin: ``{"id": n, "op": ...}`` with
``add_link`` (``listen``, ``target``, ``a``, ``b``), ``set_rtt`` (``a``,
``b``, ``rtt_ms``), ``cut`` / ``heal`` (``region``) or ``stats``. Each gets one
line on stdout, ``{"id": n, "result": ...}`` or ``{"id": n, "error": why}``,
after a first ``{"ready": true, "pid": ...}``. At the end of stdin the
process closes every connection and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["WINDOW", "serve_requests"]

#: the most one direction of one connection holds (like a TCP window): at
#: rtt/2 = 50 ms, up to 80 MB/s per connection and direction
WINDOW = 4 * 1024 * 1024
#: the most read from a socket at once
_CHUNK = 256 * 1024


class _Wan:
    """Every link of the proxy, the round-trip times and the cut regions."""

    def __init__(self) -> None:
        self.links: list[_Link] = []
        self.rtt_ms: dict[frozenset[str], float] = {}
        self.cut: set[str] = set()
        #: set (and replaced) whenever a round-trip time changes, to wake the
        #: chunks waiting out their delay
        self.delays_changed = asyncio.Event()

    def one_way(self, a: str, b: str) -> float:
        """Seconds each chunk waits between ``a`` and ``b``, either way."""
        return self.rtt_ms.get(frozenset((a, b)), 0.0) / 2000

    def reopen(self) -> None:
        for link in self.links:
            if link.a in self.cut or link.b in self.cut:
                link.open.clear()
            else:
                link.open.set()

    async def add_link(self, listen: int, target: int, a: str, b: str) -> int:
        if not a or not b:
            raise ValueError("a link needs both region names")
        link = _Link(self, target, a, b)
        link.server = await asyncio.start_server(
            link.serve, "127.0.0.1", listen, limit=_CHUNK, reuse_address=True
        )
        link.port = int(link.server.sockets[0].getsockname()[1])
        self.links.append(link)
        self.reopen()
        return link.port

    def set_rtt(self, a: str, b: str, rtt_ms: float) -> None:
        if not (math.isfinite(rtt_ms) and rtt_ms >= 0):
            raise ValueError(f"a round-trip time is a finite number of ms >= 0, not {rtt_ms}")
        self.rtt_ms[frozenset((a, b))] = rtt_ms
        self.delays_changed.set()
        self.delays_changed = asyncio.Event()

    def stats(self) -> dict[str, Any]:
        links = [link.stats() for link in self.links]
        return {
            "links": links,
            "connections": sum(link["connections"] for link in links),
            "bytes": sum(link["bytes_a_to_b"] + link["bytes_b_to_a"] for link in links),
            "cut": sorted(self.cut),
        }

    async def handle(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "add_link":
            return await self.add_link(
                int(request["listen"]), int(request["target"]), request["a"], request["b"]
            )
        if op == "set_rtt":
            return self.set_rtt(request["a"], request["b"], float(request["rtt_ms"]))
        if op in ("cut", "heal"):
            region = str(request["region"])
            if op == "cut":
                self.cut.add(region)
            else:
                self.cut.discard(region)
            return self.reopen()
        if op == "stats":
            return self.stats()
        raise ValueError(f"no such request: {op!r}")

    def close(self) -> None:
        for link in self.links:
            if link.server is not None:
                link.server.close()
            for writer in [*link.clients, *link.targets]:
                writer.transport.abort()


class _Link:
    """One listening port forwarding to one target port, from ``a`` to ``b``."""

    def __init__(self, wan: _Wan, target: int, a: str, b: str) -> None:
        self.wan, self.target, self.a, self.b = wan, target, a, b
        self.server: asyncio.Server | None = None
        self.port = 0
        #: set while neither end is cut
        self.open = asyncio.Event()
        #: the open connections' two ends: the accepted one, the one to the target
        self.clients: set[asyncio.StreamWriter] = set()
        self.targets: set[asyncio.StreamWriter] = set()
        self.accepted = 0
        self.sent = {"a_to_b": 0, "b_to_a": 0}

    @property
    def delay(self) -> float:
        return self.wan.one_way(self.a, self.b)

    def stats(self) -> dict[str, Any]:
        return {
            "listen": self.port,
            "target": self.target,
            "a": self.a,
            "b": self.b,
            "open": self.open.is_set(),
            "accepted": self.accepted,
            "connections": len(self.clients),
            "bytes_a_to_b": self.sent["a_to_b"],
            "bytes_b_to_a": self.sent["b_to_a"],
        }

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One accepted connection: wait out any cut, connect, forward both ways.

        It is a task of its own that nobody awaits; asyncio (3.11) reports one
        that ends cancelled, as each does when the proxy exits, as an error."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.clients.add(writer)
        try:
            await self.open.wait()  # accepted during a cut: nothing goes on until the heal
            try:
                far_reader, far_writer = await asyncio.open_connection(
                    "127.0.0.1", self.target, limit=_CHUNK
                )
            except OSError:
                return  # nothing listens there: the client sees its connection close
            self.targets.add(far_writer)
            try:
                await self._forward(reader, writer, far_reader, far_writer)
            finally:
                self.targets.discard(far_writer)
                await _close(far_writer)
        finally:
            self.clients.discard(writer)
            await _close(writer)

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        far_reader: asyncio.StreamReader,
        far_writer: asyncio.StreamWriter,
    ) -> None:
        def counter(direction: str) -> Callable[[int], None]:
            def count(n: int) -> None:
                self.sent[direction] += n

            return count

        pipes = [
            asyncio.create_task(_Pipe(self, reader, far_writer, counter("a_to_b")).run()),
            asyncio.create_task(_Pipe(self, far_reader, writer, counter("b_to_a")).run()),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)


class _Pipe:
    """One direction of one connection: read and stamp chunks, hold each for
    the delay, write them in order. Returns once the source's stream ended
    and all it sent was written, or the sink failed."""

    def __init__(
        self,
        link: _Link,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        count: Callable[[int], None],
    ) -> None:
        self.link, self.source, self.sink, self.count = link, source, sink, count
        #: (time read, bytes); b"" is the end of the stream
        self.chunks: deque[tuple[float, bytes]] = deque()
        self.held = 0
        self.room = asyncio.Event()
        self.room.set()
        self.arrived = asyncio.Event()

    async def run(self) -> None:
        reading = asyncio.create_task(self._read())
        try:
            await self._write()
        except OSError:
            pass  # the sink is gone: the connection ends
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading

    async def _read(self) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            await self.link.open.wait()  # cut: stop reading
            await self.room.wait()  # a full window: stop reading
            try:
                data = await self.source.read(_CHUNK)
            except OSError:
                data = b""  # a reset ends the stream too
            self.chunks.append((clock(), data))
            self.held += len(data)
            if self.held >= WINDOW:
                self.room.clear()
            self.arrived.set()
            if not data:
                return

    async def _write(self) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            while not self.chunks:
                self.arrived.clear()
                await self.arrived.wait()
            while (wait := self.chunks[0][0] + self.link.delay - clock()) > 0:
                changed = self.link.wan.delays_changed  # then wait anew
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await changed.wait()
            await self.link.open.wait()  # cut: stop writing
            due, delay, batch, ended = clock(), self.link.delay, [], False
            while self.chunks and self.chunks[0][0] + delay <= due:
                _, data = self.chunks.popleft()
                if not data:
                    ended = True
                    break
                batch.append(data)
            size = sum(map(len, batch))
            self.held -= size
            if self.held < WINDOW:
                self.room.set()
            if batch:
                self.sink.writelines(batch)
                self.count(size)
                await self.sink.drain()
            if ended:
                return


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_requests() -> None:
    """Answer the parent's requests until its end of our stdin closes."""
    wan = _Wan()
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
    _say({"ready": True, "pid": os.getpid()})
    try:
        while line := await stdin.readline():
            request: dict[str, Any] = {}
            try:
                request = json.loads(line)
                _say({"id": request.get("id"), "result": await wan.handle(request)})
            except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
                _say({"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
    finally:
        wan.close()
