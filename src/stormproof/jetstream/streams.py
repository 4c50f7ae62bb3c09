"""Streams: created idempotently, leaders one per region, read by direct get.

Every stream stormproof makes is R3 (one replica per region), file-backed and
``allow_direct``: any replica answers ``$JS.API.DIRECT.GET`` requests, so
reads go on while a stream has no leader (JetStream takes about five seconds
to elect one after its leader's server dies).

A stream's writes all go through its leader, so leaders are spread one per
region: stream ``i`` is led by region ``i``'s server. A failover moves a
leader and nothing moves it back; :func:`place_leader` does, once the
preferred server is up and caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from stormproof.jetstream.links import AnswerTimes, ApiError, Links, Unreachable, take_outcome

T = TypeVar("T")

__all__ = [
    "direct_batch",
    "direct_get",
    "ensure_stream",
    "leader_has",
    "place_leader",
    "settle_leaders",
    "stream_config",
    "stream_leader",
]

_IN_USE_WITH_OTHER_CONFIG = 10058
_NO_MESSAGE_FOUND = 10037
#: "no suitable peers for placement", "JetStream temporarily unavailable"
_NOT_YET = {10005, 10008}
_API = "$JS.API"
#: how long a requested leader move may take before it is asked for again
_MOVE_TIME = 2.0


def stream_config(
    name: str, subjects: Sequence[str], replicas: int, **extra: Any
) -> dict[str, Any]:
    """An R``replicas`` file stream whose replicas all answer direct gets."""
    return {
        "name": name,
        "subjects": list(subjects),
        "num_replicas": min(replicas, 3),
        "storage": "file",
        "retention": "limits",
        "allow_direct": True,
        **extra,
    }


async def ensure_stream(links: Links, config: dict[str, Any], timeout: float = 30.0) -> None:
    """Create the stream, or bring an existing one to ``config``. Right after
    a cluster starts, its meta leader may not count every server as a peer
    yet ("no suitable peers"): that is retried until ``timeout``."""
    name = config["name"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            try:
                await links.any_api(f"{_API}.STREAM.CREATE.{name}", config, timeout=5)
            except ApiError as exc:
                if exc.err_code != _IN_USE_WITH_OTHER_CONFIG:
                    raise
                await links.any_api(f"{_API}.STREAM.UPDATE.{name}", config, timeout=5)
            return
        except ApiError as exc:
            transient = exc.err_code in _NOT_YET or exc.code == 503
            if not transient or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _info(links: Links, stream: str, timeout: float = 1.0) -> dict[str, Any]:
    """``stream``'s info, which its leader answers."""
    return await links.any_api(f"{_API}.STREAM.INFO.{stream}", timeout=timeout)


async def _cluster(links: Links, stream: str) -> dict[str, Any]:
    cluster: dict[str, Any] = (await _info(links, stream)).get("cluster") or {}
    return cluster


async def stream_leader(links: Links, stream: str) -> str | None:
    """The server leading ``stream`` now, None while it has none (or none answered)."""
    try:
        leader = (await _cluster(links, stream)).get("leader")
    except (Unreachable, ApiError):
        return None
    return str(leader) if leader else None


async def place_leader(links: Links, stream: str, preferred: str) -> bool:
    """Ask ``stream``'s leader to hand over to ``preferred`` if that server is a
    current (caught-up) replica; True when a move was requested."""
    try:
        cluster = await _cluster(links, stream)
        leader = cluster.get("leader")
        if not leader or leader == preferred:
            return False
        replicas: list[dict[str, Any]] = cluster.get("replicas") or []
        replica = next((r for r in replicas if r.get("name") == preferred), {})
        if not replica.get("current") or replica.get("offline") or replica.get("lag"):
            return False
        body = {"placement": {"preferred": preferred}}
        await links.any_api(f"{_API}.STREAM.LEADER.STEPDOWN.{stream}", body, timeout=2)
        return True
    except (Unreachable, ApiError):
        return False  # no leader, or the preferred server fell behind again: next round


async def settle_leaders(links: Links, placement: dict[str, str | None], timeout: float) -> None:
    """Wait until every stream has a leader, moving each to its preferred
    server (stream -> server name, None for any) when that server is a
    current replica. A server still catching up keeps the leader elsewhere
    for now: the caller's rebalance loop moves it later."""
    deadline = time.monotonic() + timeout
    moving: dict[str, float] = {}  # stream -> when its move was asked for
    while True:
        unsettled = []
        for stream, preferred in placement.items():
            leader = await stream_leader(links, stream)
            if leader is None:
                unsettled.append(stream)
            elif preferred is None or leader == preferred:
                continue
            elif time.monotonic() - moving.get(stream, -_MOVE_TIME) < _MOVE_TIME:
                unsettled.append(stream)  # the old leader may not have stepped down yet
            elif await place_leader(links, stream, preferred):
                moving[stream] = time.monotonic()
                unsettled.append(stream)
        if not unsettled:
            return
        if time.monotonic() > deadline:
            raise Unreachable(f"streams without a leader: {', '.join(unsettled)}")
        await asyncio.sleep(0.05)


async def leader_last_seq(links: Links, stream: str, timeout: float = 1.0) -> int:
    """``stream``'s last sequence as its leader holds it: every acked write.
    A replica's answer may be short of it (a server started again after a
    kill has not caught up yet); the leader's is not. Unreachable (or an
    ApiError) while the stream has no leader."""
    info = await _info(links, stream, timeout)
    return int((info.get("state") or {}).get("last_seq", 0))


async def leader_has(links: Links, stream: str, subject: str, timeout: float = 1.0) -> bool:
    """Whether ``stream``'s leader holds a message on ``subject``. Unlike a
    replica's, the leader's "no" is final: it has applied every acked write."""
    body = {"last_by_subj": subject}
    try:
        await links.any_api(f"{_API}.STREAM.MSG.GET.{stream}", body, timeout=timeout)
    except ApiError as exc:
        if exc.err_code == _NO_MESSAGE_FOUND:
            return False
        raise
    return True


def _status(msg: Msg) -> str | None:
    return msg.headers.get("Status") if msg.headers else None


#: a healthy replica answers a direct get in milliseconds; after this long
#: without an answer the same request is sent again — or after twice the
#: 95th percentile of this process's latest answers, if that is longer (a
#: busy machine answers everything late, and a copy sent because of that
#: fetches the same batch again), but never after more than ``_HEDGE_MOST``
_HEDGE_AFTER = 0.03
_HEDGE_MOST = 0.15
_HEDGES = 5


def _routes(links: Links, i: int) -> list[int]:
    """Which server each copy of a hedged read goes through: ``i`` first (its
    own replica is the one that is caught up), then each of the others — a
    server that sent one copy to a frozen replica often sends the next there
    too — then ``i`` again."""
    others = [j for j in links.read_order() if j != i] or [i]
    return [i, others[0], others[-1], i, others[0]][:_HEDGES]


class _Begun:
    """Set by one copy of a hedged request when its first message arrives:
    times the answer and wakes the hedger, which calls the other copies off."""

    def __init__(self, woken: asyncio.Future[None], answers: AnswerTimes) -> None:
        self.woken = woken
        self._answers = answers
        self._sent = time.monotonic()
        self._set = False

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        self._answers.heard(time.monotonic() - self._sent)
        if not self.woken.done():
            self.woken.set_result(None)

    def is_set(self) -> bool:
        return self._set


async def _hedged(links: Links, attempt: Callable[[int, _Begun], Awaitable[T]]) -> T:
    """The first answer of up to ``_HEDGES`` copies of a request, each sent a
    hedge delay (see ``_HEDGE_AFTER``) after the previous while none has begun
    to answer.

    A direct get is answered by whichever replica the servers route it to,
    and a frozen (SIGSTOPped) replica still receives some of them: without
    hedging each of those waits out the whole timeout. Copies are routed
    independently, so one reaches a live replica almost at once. Each copy
    sets the :class:`_Begun` it is given when its first message arrives: a
    batch of thousands takes longer than a hedge delay to arrive, so as soon
    as a copy streams, no more are sent and the others are called off (each
    would fetch the whole batch again; should the one kept freeze, the read
    fails at its timeout and the caller asks again). A copy is not sent
    because this process itself was late to look — its loop held up, or the
    machine busy, for longer than a whole delay — before what came meanwhile
    has been read.
    """
    loop = asyncio.get_running_loop()
    delay = min(2 * links.answers.usual(_HEDGE_AFTER), _HEDGE_MOST)
    woken: asyncio.Future[None] = loop.create_future()
    copies: dict[asyncio.Future[T], _Begun] = {}
    pending: set[asyncio.Future[T]] = set()
    kept: asyncio.Future[T] | None = None
    error: BaseException | None = None
    due, excused = 0.0, False  # when the next copy goes out
    try:
        while True:
            hedging = kept is None and len(copies) < _HEDGES
            if hedging and (not pending or time.monotonic() >= due):
                mark = _Begun(woken, links.answers)
                copy = asyncio.ensure_future(attempt(len(copies), mark))
                copies[copy] = mark
                pending.add(copy)
                due, excused = time.monotonic() + delay, False
                hedging = len(copies) < _HEDGES
            if not pending:
                assert error is not None
                raise error
            waits: set[asyncio.Future[Any]] = set(pending)
            if kept is None:
                waits.add(woken)
            timeout = max(0.0, due - time.monotonic()) if hedging else None
            first = asyncio.FIRST_COMPLETED
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when=first)
            for task in pending & done:
                pending.discard(task)
                failure = task.exception()
                if failure is None:
                    copies[task].set()  # a one-message answer begins as it ends
                    return task.result()
                error = failure
                if task is kept:
                    raise error
            if kept is None and woken.done():
                kept = next((task for task in pending if copies[task].is_set()), None)
                if kept is None:  # the copy that began has failed since
                    woken = loop.create_future()
                    for mark in copies.values():
                        mark.woken = woken
                else:
                    for task in pending - {kept}:
                        task.cancel()
                    pending = {kept}
            elif not done and hedging and not excused and time.monotonic() - due > delay:
                due, excused = time.monotonic() + delay, True
    finally:
        # Copies that failed beside the winner, or while being cancelled, end
        # with an exception nobody looks at, and asyncio logs "Task exception
        # was never retrieved" for each: take every copy's outcome.
        for task in copies:
            task.add_done_callback(take_outcome)
            task.cancel()


async def direct_get(
    links: Links, i: int, stream: str, body: dict[str, Any], *, timeout: float
) -> Msg | None:
    """One message by direct get through server ``i`` (None if there is none).

    ``body`` is a JetStream get request: ``{"seq": n}`` or ``{"last_by_subj": s}``.
    """
    subject, payload = f"{_API}.DIRECT.GET.{stream}", json.dumps(body).encode()
    routes = _routes(links, i)

    async def attempt(k: int, begun: _Begun) -> Msg:
        nc = await links.client(routes[k])
        return await nc.request(subject, payload, timeout=timeout)  # one message: done at once

    try:
        msg = await _hedged(links, attempt)
    except NoRespondersError as exc:
        raise Unreachable(f"no responders for {subject} via {links[i].url}") from exc
    except TimeoutError as exc:  # some replica the servers picked is frozen: not i's fault
        raise Unreachable(f"direct get {stream} via {links[i].url}: {exc!r}") from exc
    except (NatsError, OSError) as exc:
        links.mark_failed(i)
        raise Unreachable(f"direct get {stream} via {links[i].url}: {exc!r}") from exc
    status = _status(msg)
    if status == "404":
        return None
    if status is not None:
        raise Unreachable(f"direct get {stream} via {links[i].url}: status {status}")
    return msg


async def _batch_once(
    nc: Client, stream: str, body: dict[str, Any], timeout: float, begun: _Begun
) -> list[Msg]:
    """One copy of a batched direct get: the messages, once the end of the
    batch came; ``begun`` is set at the first. Fails after ``timeout``
    without a message: a replica streaming thousands is slow, not gone."""
    messages: list[Msg] = []
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    heard = time.monotonic()

    async def received(msg: Msg) -> None:
        # A callback, not next_msg() per message: that costs a timer and a
        # task for each of thousands.
        nonlocal heard
        heard = time.monotonic()
        begun.set()
        status = _status(msg)
        if ended.done():
            return
        if status is None:
            messages.append(msg)
        elif status in ("204", "404"):  # end of batch / nothing there
            ended.set_result(None)
        else:
            ended.set_exception(_BadStatus(status))

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=received)
    try:
        await nc.publish(f"{_API}.DIRECT.GET.{stream}", json.dumps(body).encode(), reply=inbox)
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(ended), timeout)
                return messages
            except TimeoutError:
                if time.monotonic() - heard >= timeout:
                    raise
    finally:
        with contextlib.suppress(NatsError, OSError):
            await sub.unsubscribe()


class _BadStatus(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def direct_batch(
    links: Links, i: int, stream: str, body: dict[str, Any], *, timeout: float
) -> list[Msg]:
    """Messages of a batched direct get (``{"seq": n, "batch": k}``, ``{"multi_last":
    [...], "batch": k}``…) through server ``i``, answered by one replica."""
    routes = _routes(links, i)

    async def attempt(k: int, begun: _Begun) -> list[Msg]:
        return await _batch_once(await links.client(routes[k]), stream, body, timeout, begun)

    try:
        return await _hedged(links, attempt)
    except _BadStatus as exc:
        raise Unreachable(f"direct get {stream} via {links[i].url}: status {exc.status}") from exc
    except TimeoutError as exc:
        raise Unreachable(f"direct get {stream} via {links[i].url}: {exc!r}") from exc
    except (NatsError, OSError) as exc:
        links.mark_failed(i)
        raise Unreachable(f"direct get {stream} via {links[i].url}: {exc!r}") from exc
