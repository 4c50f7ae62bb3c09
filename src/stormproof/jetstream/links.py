"""One nats connection per region's server, made and remade in the background.

Each connection targets exactly one server. The servers run with
``no_advertise``, so nats-py never learns about (and never silently moves to)
the others: which server a request goes to is our choice, and when one does
not answer the caller tries the next. Connecting never blocks a caller: a
dead server at startup is simply a link that is not connected yet, retried
every second for as long as the process lives.

Every failure comes out as :class:`Unreachable` (the server, or the stream
behind it, did not answer) or :class:`ApiError` (JetStream answered with an
error); no ``nats.*`` exception leaves this module.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from nats.aio.client import Client, Srv
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

__all__ = ["AnswerTimes", "ApiError", "Link", "Links", "Unreachable", "take_outcome"]

T = TypeVar("T")

#: how long a server that just failed is tried after the others
_SUSPECT_FOR = 2.0
#: how long after start a caller waits for a first connection instead of failing
_FIRST_CONNECT_GRACE = 1.0
#: how many of the latest first answers :class:`AnswerTimes` keeps
_ANSWERS_KEPT = 64


def take_outcome(future: asyncio.Future[Any]) -> None:
    """Read a finished future's outcome, for futures nobody else reads (a
    cancelled poll, a hedged copy that lost): otherwise asyncio logs
    "exception was never retrieved" with its stack when it is collected.
    Meant as a done callback."""
    if not future.cancelled():
        future.exception()


class Unreachable(Exception):
    """The server, or the stream behind it, did not answer in time."""


class ApiError(Exception):
    """JetStream answered a request with an error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("description", "JetStream API error"))
        self.code = int(error.get("code", 0))
        self.err_code = int(error.get("err_code", 0))


async def _quiet(exc: Exception) -> None:
    """nats-py logs each failed (re)connect at ERROR level: a dead region is routine."""


class _Client(Client):
    """nats-py's client without a socket leak (nats-py 2.16): every connection
    attempt reuses one transport object and overwrites its stream writer, so an
    attempt that timed out (a frozen server accepts TCP, then never answers)
    leaves its socket open until the garbage collector warns about it."""

    async def _connect_to_server(self, s: Srv) -> None:
        if self._transport is not None:
            self._transport.close()  # type: ignore[no-untyped-call]
        await super()._connect_to_server(s)


class Link:
    """A connection to one server, (re)connected in the background forever."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.nc: Client = _Client()
        self.failed_at = -_SUSPECT_FOR
        self._task: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self._connect_called = False
        self._connected = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self.started_at = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        self._connect_called = True
        await self.nc.connect(
            self.url,
            error_cb=_quiet,
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # with -1, even the first connect retries forever
            reconnect_time_wait=1,
            connect_timeout=1,
            ping_interval=1,  # a frozen server is noticed after ~2 missed pings
            max_outstanding_pings=2,
        )
        self._connected.set()

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    @property
    def server_name(self) -> str | None:
        """The server's ``server_name``, learned from its INFO once connected."""
        name = self.nc._server_info.get("server_name")  # nats-py keeps INFO private
        return str(name) if name else None

    def suspect(self) -> bool:
        return not self.connected or time.monotonic() - self.failed_at < _SUSPECT_FOR

    async def connected_once(self) -> None:
        """Return once the first connection is made (which may take forever)."""
        await self._connected.wait()

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.connected

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connect_called:
            with contextlib.suppress(NatsError, OSError):
                await self.nc.close()


class AnswerTimes:
    """How soon this process's requests have lately begun to be answered: the
    time from sending one to its first message, for the copies that got one."""

    def __init__(self) -> None:
        self._recent: collections.deque[float] = collections.deque(maxlen=_ANSWERS_KEPT)

    def heard(self, seconds: float) -> None:
        self._recent.append(seconds)

    def usual(self, floor: float) -> float:
        """The 95th percentile of the latest answers, at least ``floor``;
        ``floor`` until a few answers have come."""
        if len(self._recent) < 8:
            return floor
        ordered = sorted(self._recent)
        return max(floor, ordered[int(0.95 * (len(ordered) - 1))])


class Links:
    """The connections of one process: ``links[i]`` talks to region ``i``'s server."""

    def __init__(self, urls: Sequence[str], local: int = 0) -> None:
        if not 0 <= local < len(urls):
            raise ValueError(f"local={local} but {len(urls)} servers")
        self.local = local
        self._links = [Link(url) for url in urls]
        self._tasks: set[asyncio.Task[None]] = set()
        #: how soon reads through these links begin to be answered (hedging)
        self.answers = AnswerTimes()

    def __len__(self) -> int:
        return len(self._links)

    def __getitem__(self, i: int) -> Link:
        return self._links[i]

    def start(self) -> None:
        """Begin connecting to every server (needs a running event loop)."""
        for link in self._links:
            link.start()

    def connected(self) -> int:
        """How many servers this process is connected to now."""
        return sum(link.connected for link in self._links)

    def settled(self) -> bool:
        """Whether every link has had its grace to connect first."""
        now = time.monotonic()
        return all(
            link.started_at and now - link.started_at > _FIRST_CONNECT_GRACE for link in self._links
        )

    def cycle(self, first: int) -> list[int]:
        """``first``, then the next ones in region order, wrapping around."""
        n = len(self._links)
        return [(first + k) % n for k in range(n)]

    def healthy_first(self, order: Sequence[int]) -> list[int]:
        """``order`` with servers that are down or just failed moved to the end."""
        return sorted(order, key=lambda i: self._links[i].suspect())

    def read_order(self) -> list[int]:
        """Local server first, then the others; ones down or just failed go last."""
        return self.healthy_first(self.cycle(self.local))

    def mark_failed(self, i: int) -> None:
        """Server ``i`` just timed out or dropped: try it after the others for a while."""
        self._links[i].failed_at = time.monotonic()

    async def client(self, i: int) -> Client:
        """The connection to server ``i``; in the first moments after start,
        wait for it to be made rather than call a live server unreachable."""
        self.start()
        link = self._links[i]
        if not link.connected:
            grace = link.started_at + _FIRST_CONNECT_GRACE - time.monotonic()
            if grace <= 0 or not await link.wait_connected(grace):
                raise Unreachable(f"not connected to {link.url}")
        return link.nc

    async def request(
        self,
        i: int,
        subject: str,
        payload: bytes = b"",
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        blame: bool = False,
    ) -> Msg:
        """A request through server ``i``: its answer, or :class:`Unreachable`.

        A timeout marks the server failed only with ``blame``: a publish that
        its stream's leader — on that server — does not ack. Anything else may
        be answered by some other server (a stream's leader, the meta leader, a
        replica the server picked), and one of those being frozen says nothing
        about this one."""
        nc = await self.client(i)
        try:
            return await nc.request(subject, payload, timeout=timeout, headers=headers)
        except NoRespondersError as exc:  # the server is fine; nothing serves the subject
            raise Unreachable(f"no responders for {subject} via {self[i].url}") from exc
        except TimeoutError as exc:
            if blame:
                self.mark_failed(i)
            raise Unreachable(f"{subject} via {self[i].url}: {exc!r}") from exc
        except (NatsError, OSError) as exc:
            self.mark_failed(i)
            raise Unreachable(f"{subject} via {self[i].url}: {exc!r}") from exc

    async def api(
        self, i: int, subject: str, body: dict[str, Any] | None = None, *, timeout: float = 2.0
    ) -> dict[str, Any]:
        """A JetStream API call through server ``i``; an error answer is :class:`ApiError`."""
        payload = json.dumps(body).encode() if body is not None else b""
        msg = await self.request(i, subject, payload, timeout=timeout)
        try:
            answer: dict[str, Any] = json.loads(msg.data)
        except ValueError as exc:
            raise Unreachable(f"{subject}: not JSON: {msg.data[:100]!r}") from exc
        if "error" in answer:
            raise ApiError(answer["error"])
        return answer

    async def first_answer(
        self, attempt: Callable[[int], Awaitable[T]], *, patience: float = 0.0
    ) -> T:
        """``attempt(i)`` through each server, local first, round after round
        for ``patience`` seconds, until one answers.

        Rounds matter with a frozen (SIGSTOPed) server: its replicas still
        look subscribed to the cluster, so some direct gets sent to live
        servers are handed to it and time out.
        """
        deadline = time.monotonic() + patience
        failures: list[str] = []
        while True:
            for i in self.read_order():
                try:
                    return await attempt(i)
                except Unreachable as exc:
                    failures.append(str(exc))
            if time.monotonic() >= deadline:
                raise Unreachable("; ".join(failures[-3:]) or "no servers")
            await asyncio.sleep(0.05)

    async def any_api(
        self, subject: str, body: dict[str, Any] | None = None, *, timeout: float = 2.0
    ) -> dict[str, Any]:
        """:meth:`api` through the first server that answers, local first."""
        return await self.first_answer(lambda i: self.api(i, subject, body, timeout=timeout))

    async def wait_connected(self, timeout: float) -> None:
        """Wait up to ``timeout`` for every server; dead ones are simply left out."""
        self.start()
        await asyncio.gather(*(link.wait_connected(timeout) for link in self._links))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background until done or until :meth:`close`."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(link.close() for link in self._links))
