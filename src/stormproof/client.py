"""The stormproof SDK: one client for every region, failing over by itself.

    async with Client(["http://127.0.0.1:8101", "http://127.0.0.1:8102"]) as c:
        await c.sign_up("ann", "a long password")
        await c.log_in("ann", "a long password")
        sent = await c.post("/v1/messages", json={"to": "bob", "text": "hi"})
        inbox = await c.get("/v1/conversations")   # sees the message it just sent

What it promises:

- **Failover.** A request goes to the region that answered last; on a
  connection error or a 5xx it goes to the next region, and when no answer
  came within ``hedge_after`` seconds every other region is asked too (the
  first answer wins), until ``deadline`` seconds have passed. A region that failed
  is tried last for ``cooldown`` seconds.
- **Exactly-once writes.** Every write carries an ``Idempotency-Key`` (made
  up if you give none) and a ``Stormproof-Write-At`` time, both the same on
  every retry, so a retry or a hedged copy that reaches another region —
  because the first died or froze mid-request — writes the very same event,
  applied once.
- **Read your writes, in order.** Each write's ``seq`` is remembered per log
  partition and sent as ``min_seq`` on every request, so a region that has not
  applied them answers 503 and the next region is asked. Writes carry
  ``Stormproof-After``, the time of the last write, so your own actions stay
  ordered whichever region takes them.

Failures raise :class:`RegionsUnavailable` (no region answered in time, or
every region that answered said there is no quorum: a majority of the regions
is out, so no write can be acknowledged until it is back; reads still work) or
:class:`RequestFailed` (a region answered with a 4xx: the request is wrong).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from stormproof.errors import StormproofError

__all__ = ["Client", "RegionsUnavailable", "RequestFailed"]


class RegionsUnavailable(StormproofError):
    """No region answered in time. ``answers`` holds the error codes of the
    5xx answers that did come (``log_unavailable``...), oldest first; empty
    when no region answered at all."""

    status = 503
    code = "regions_unavailable"

    def __init__(self, message: str, *, answers: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.answers = list(answers)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _code_of(response: httpx.Response) -> str:
    """An error answer's machine-readable code (``http_NNN`` if it has none)."""
    return str(_body(response).get("code", f"http_{response.status_code}"))


class RequestFailed(StormproofError):
    """A region answered 4xx: retrying elsewhere would not help."""

    def __init__(self, response: httpx.Response) -> None:
        message = str(_body(response).get("message", response.text))
        super().__init__(message, code=_code_of(response))
        self.status = response.status_code
        self.response = response


class Client:
    def __init__(
        self,
        regions: Sequence[str],
        *,
        attempt_timeout: float = 2.0,
        hedge_after: float = 0.15,
        deadline: float = 15.0,
        cooldown: float = 3.0,
    ) -> None:
        if not regions:
            raise ValueError("a client needs at least one region")
        self.regions = list(regions)
        self.attempt_timeout = attempt_timeout
        self.hedge_after = hedge_after
        self.deadline = deadline
        self.cooldown = cooldown
        self.token: str | None = None
        self._preferred = 0
        self._failed_at: dict[int, float] = {}
        self._seen: dict[int, int] = {}  # partition -> highest seq token written
        self._last_at = 0
        self._http = httpx.AsyncClient(timeout=attempt_timeout)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def region(self) -> str:
        """The region requests go to first."""
        return self.regions[self._preferred]

    def follow(self, other: Client) -> None:
        """Read from now on at least what ``other`` has written or read
        (its positions join this client's ``min_seq``): as when one person
        sends another a link to something they just posted."""
        for partition, seq in other._seen.items():
            self._seen[partition] = max(self._seen.get(partition, 0), seq)
        self._last_at = max(self._last_at, other._last_at)

    def _order(self) -> list[int]:
        now = time.monotonic()
        count = len(self.regions)
        ring = [(self._preferred + i) % count for i in range(count)]
        healthy = [i for i in ring if now - self._failed_at.get(i, -1e9) > self.cooldown]
        return healthy + [i for i in ring if i not in healthy]

    def _remember(self, response: httpx.Response) -> None:
        seq = response.headers.get("Stormproof-Seq")
        partitions = int(response.headers.get("Stormproof-Partitions", "1"))
        if seq is not None:
            token = int(seq)
            partition = token % partitions
            self._seen[partition] = max(self._seen.get(partition, 0), token)
        at = response.headers.get("Stormproof-At")
        if at is not None:
            self._last_at = max(self._last_at, int(at))

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        data: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        hedge_after: float | None = None,
    ) -> httpx.Response:
        """Send a request to the first region that answers it; see the module doc."""
        write = method.upper() in ("POST", "PUT", "PATCH", "DELETE")
        extra = dict(headers or {})
        headers = self._auth()
        query: dict[str, Any] = dict(params or {})
        if write:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
            now = int(time.time() * 1000)
            headers["Stormproof-Write-At"] = str(max(now, self._last_at + 1))
            if self._last_at:
                headers["Stormproof-After"] = str(self._last_at)
        if self._seen:  # writes too: they authenticate and validate against views
            query["min_seq"] = sorted(self._seen.values())
        headers.update(extra)
        started = time.monotonic()
        errors: list[str] = []
        answers: list[str] = []

        async def attempt(index: int) -> httpx.Response | None:
            try:
                response = await self._http.request(
                    method,
                    self.regions[index] + path,
                    json=json,
                    params=query,
                    files=files,
                    data=data,
                    headers=headers,
                    timeout=timeout or self.attempt_timeout,
                )
            except httpx.TransportError as exc:
                errors.append(f"{self.regions[index]}: {exc!r}")
                self._failed_at[index] = time.monotonic()
                return None
            if response.status_code >= 500:
                errors.append(f"{self.regions[index]}: HTTP {response.status_code}")
                answers.append(_code_of(response))
                self._failed_at[index] = time.monotonic()
                return None
            return response

        while time.monotonic() - started < self.deadline:
            heard = len(answers)
            answered = await self._first_answer(attempt, hedge_after or self.hedge_after)
            said = answers[heard:]
            if answered is None and said and all(code == "no_quorum" for code in said):
                # Every region that answered could reach no majority of the
                # log's servers (the others did not answer at all): writes
                # cannot be acknowledged anywhere until it returns.
                raise RegionsUnavailable(
                    f"{method} {path}: no quorum of regions ({errors[-1]})", answers=answers
                )
            if answered is not None:
                index, response = answered
                self._preferred = index
                if response.status_code >= 400:
                    raise RequestFailed(response)
                self._remember(response)
                return response
            await asyncio.sleep(0.05)  # every region failed this round: breathe, then retry
        raise RegionsUnavailable(
            f"no region answered {method} {path} within {self.deadline} s "
            f"({errors[-1] if errors else 'no region tried'})",
            answers=answers,
        )

    async def _first_answer(
        self,
        attempt: Callable[[int], Coroutine[Any, Any, httpx.Response | None]],
        hedge_after: float,
    ) -> tuple[int, httpx.Response] | None:
        """Ask the first region; if it fails fast, the next, and so on. When
        ``hedge_after`` passes with no answer (a frozen region accepts
        connections and never answers), ask all the others at once: the next
        in line may be frozen too — this client cannot know — and waiting for
        it before asking the third would double the stall. The first answer
        wins; the others are cancelled."""
        pending: dict[asyncio.Task[httpx.Response | None], int] = {}
        waiting = self._order()
        try:
            while waiting or pending:
                if not pending:  # the start, or all asked so far failed fast
                    index = waiting.pop(0)
                    pending[asyncio.create_task(attempt(index))] = index
                done, _ = await asyncio.wait(
                    pending,
                    timeout=hedge_after if waiting else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:  # no answer in time: everyone else, now
                    for index in waiting:
                        pending[asyncio.create_task(attempt(index))] = index
                    waiting = []
                for task in done:
                    index_done = pending.pop(task)
                    response = task.result()
                    if response is not None:
                        return index_done, response
            return None
        finally:
            for task, index in pending.items():
                # Slower than the region that answered: ask it last for a while.
                self._failed_at[index] = time.monotonic()
                task.cancel()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    #: hashing a password costs a region a tenth of a second or more of CPU
    #: (Argon2id): give it that long before asking another region, and never
    #: give up on it sooner, or every region would hash the same password
    _PASSWORD_WORK_S = 2.0

    async def sign_up(self, username: str, password: str) -> dict[str, Any]:
        body = {"username": username, "password": password}
        created: dict[str, Any] = (
            await self.post("/v1/accounts", json=body, **self._slow())
        ).json()
        return created

    async def log_in(self, username: str, password: str) -> None:
        body = {"username": username, "password": password}
        answer = await self.post("/v1/sessions", json=body, **self._slow())
        self.token = answer.json()["token"]

    def _slow(self) -> dict[str, float]:
        slow = self._PASSWORD_WORK_S
        return {"timeout": max(self.attempt_timeout, slow * 2), "hedge_after": slow}

    async def upload(
        self, video: bytes, *, filename: str = "video.mp4", caption: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        files = {"file": (filename, video, "video/mp4")}
        response = await self.post("/v1/videos", files=files, data={"caption": caption}, **kwargs)
        uploaded: dict[str, Any] = response.json()
        return uploaded
