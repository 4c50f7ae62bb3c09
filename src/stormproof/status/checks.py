"""The checks a prober makes of one region, through its public HTTP API, the
way a person would (ADR 020).

Each check either returns (the component works) or raises :class:`Failed`
with a machine reason: the API's error ``code``, ``bad_answer`` for an answer
that is not what the API promises, ``no_session`` when the prober has no
session there to act with. :func:`timed` runs one within its time limit and
turns transport failures into ``timeout`` and ``unreachable``. A check never
reads more than a bounded answer: the bytes of a video are asked for by
range, and the message stream is read for one message, within the time limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import httpx

from stormproof.events import ID_PATTERN, MAX_INT
from stormproof.status.identity import ProbeAccounts

__all__ = ["Checks", "Failed", "Health", "Outcome", "Target", "reason_of", "timed"]

#: bytes of the probe's video a playback check asks for
PLAYBACK_BYTES = 1024
ID = re.compile(ID_PATTERN)
#: lines of the message stream a check reads at most before giving up
_MAX_STREAM_LINES = 200


class Failed(Exception):
    """A check saw the component fail, for ``reason``; ``status`` is the
    HTTP status of the answer that said so, if one did."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


#: failures that are the region's whoever asks: no answer, or a broken one
_REGION_FAULTS = frozenset({"timeout", "unreachable", "bad_answer"})


@dataclass(frozen=True)
class Outcome:
    ok: bool
    latency_ms: int
    reason: str = ""
    #: the failure is the region's, not the prober's own (no answer, a broken
    #: answer or a 5xx): it would fail anyone's request
    region_fault: bool = False


@dataclass(frozen=True)
class Health:
    """What a region's health answer said."""

    reachable: bool
    #: the name it gives itself, if it is a valid one
    name: str | None = None
    ready: bool = False
    remaining: int | None = None
    eta_s: int | None = None


@dataclass
class Target:
    """A region a prober checks, and what it keeps of it between rounds."""

    url: str
    #: its name, as configured or as its health answer said (None: not known yet)
    name: str | None = None
    #: the prober's session there, and the recipient's
    token: str | None = None
    recipient_token: str | None = None
    #: the position its views stood at when it last signed the prober in: the
    #: message stream starts there, never from the recipient's first message
    position: str | None = None

    @property
    def tag(self) -> str:
        """What tells this region apart in the prober's Idempotency-Keys: the
        same key in two regions would be one write (ADR 020's keys view)."""
        return self.name or hashlib.sha256(self.url.encode()).hexdigest()[:16]


def _reason(text: str) -> str:
    """``text`` as an event's reason may hold it."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:64]


def reason_of(response: httpx.Response) -> str:
    """An error answer's reason: its ``code``, or ``http_<status>``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    return _reason(code) if isinstance(code, str) and code else f"http_{response.status_code}"


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise Failed(reason_of(response), response.status_code)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise Failed("bad_answer") from exc
    if not isinstance(body, dict):
        raise Failed("bad_answer")
    return body


async def timed(work: Awaitable[object], timeout: float) -> Outcome:
    """Run one check within ``timeout`` seconds; what it saw, and how long it took."""
    started = time.monotonic()
    reason, status = "", None
    try:
        async with asyncio.timeout(timeout):
            await work
    except Failed as exc:
        reason, status = exc.reason, exc.status
    except (TimeoutError, httpx.TimeoutException):
        reason = "timeout"
    except httpx.NetworkError:  # refused, reset, gone mid-answer
        reason = "unreachable"
    except httpx.HTTPError:  # an answer that breaks HTTP itself
        reason = "bad_answer"
    latency_ms = round((time.monotonic() - started) * 1000)
    fault = reason in _REGION_FAULTS or (status or 0) >= 500
    return Outcome(ok=not reason, latency_ms=latency_ms, reason=reason, region_fault=fault)


def _count(value: object) -> int | None:
    """A figure from a health answer, if it is one an event may hold."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 0 <= value <= MAX_INT else None


class Checks:
    """The checks, made with one HTTP client as ``accounts`` (whose
    passwords are ``passwords``), waiting for ``min_seq`` everywhere: the
    prober's own writes (its accounts, its video) that the checks rely on."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        accounts: ProbeAccounts,
        passwords: dict[str, str],
        operator: dict[str, str],
    ) -> None:
        self.http = http
        self.accounts = accounts
        self.passwords = passwords
        self.operator = operator
        self.min_seq: list[int] = []

    def _params(self) -> dict[str, Any]:
        return {"min_seq": sorted(self.min_seq)} if self.min_seq else {}

    async def health(self, target: Target) -> Health:
        """What the region's health says (as its operator); unreachable when
        it does not answer in time."""
        try:
            response = await self.http.get(target.url + "/v1/health", headers=self.operator)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return Health(reachable=False)
        if not isinstance(body, dict):
            return Health(reachable=True)
        name = body.get("region")
        catch_up = body.get("catch_up")
        catch_up = catch_up if isinstance(catch_up, dict) else {}
        return Health(
            reachable=True,
            name=name if isinstance(name, str) and ID.fullmatch(name) else None,
            ready=body.get("ready") is True,
            remaining=_count(catch_up.get("remaining")),
            eta_s=_count(catch_up.get("eta_s")),
        )

    async def _sign_in(self, target: Target, username: str, window: int) -> httpx.Response:
        # One session per account, region and window: a sign-in in the same
        # window checks the password and answers the same session again
        # (its key's first answer), so sessions do not pile up in the views.
        return await self.http.post(
            target.url + "/v1/sessions",
            json={"username": username, "password": self.passwords[username]},
            headers={"Idempotency-Key": f"probe-session:{target.tag}:{window}"},
            params=self._params(),
        )

    async def sign_in(self, target: Target, window: int) -> None:
        response = await self._sign_in(target, self.accounts.prober, window)
        _expect(response, 201)
        token = _json(response).get("token")
        if not isinstance(token, str):
            raise Failed("bad_answer")
        target.token = token
        target.position = response.headers.get("Stormproof-Position")

    def _auth(self, target: Target) -> dict[str, str]:
        if target.token is None:
            raise Failed("no_session")
        return {"Authorization": f"Bearer {target.token}"}

    def _check_session(self, target: Target, response: httpx.Response) -> None:
        """A session refused is forgotten: the next round signs in afresh."""
        if response.status_code == 401:
            target.token = None

    async def for_you(self, target: Target) -> None:
        response = await self.http.get(
            target.url + "/v1/feed/for-you",
            params={"limit": 3, **self._params()},
            headers=self._auth(target),
        )
        self._check_session(target, response)
        _expect(response, 200)
        if not isinstance(_json(response).get("items"), list):
            raise Failed("bad_answer")

    async def playback(self, target: Target, video_id: str) -> None:
        response = await self.http.get(
            f"{target.url}/v1/videos/{video_id}/file",
            params=self._params(),
            headers={**self._auth(target), "Range": f"bytes=0-{PLAYBACK_BYTES - 1}"},
        )
        _expect(response, 206)
        if not 0 < len(response.content) <= PLAYBACK_BYTES:
            raise Failed("bad_answer")

    async def interaction(self, target: Target, video_id: str, round_at: int) -> None:
        """A watch of the probe's own video: no real video's counts move."""
        watch = {"type": "watch", "video_id": video_id, "watched_ms": 1000, "completed": False}
        key = f"probe-watch:{target.tag}:{round_at}"
        response = await self.http.post(
            target.url + "/v1/events",
            json={"events": [watch]},
            params=self._params(),
            headers={**self._auth(target), "Idempotency-Key": key},
        )
        self._check_session(target, response)
        _expect(response, 202)

    async def _recipient(self, target: Target, window: int) -> str:
        if target.recipient_token is None:
            response = await self._sign_in(target, self.accounts.recipient, window)
            _expect(response, 201)
            token = _json(response).get("token")
            if not isinstance(token, str):
                raise Failed("bad_answer")
            target.recipient_token = token
        return target.recipient_token

    async def message(self, target: Target, round_at: int, window: int) -> None:
        """A message from the prober to its recipient, seen arriving on the
        recipient's live stream."""
        sender = self._auth(target)
        if target.position is None:
            raise Failed("no_session")
        token = await self._recipient(target, window)
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": target.position}
        url = target.url + "/v1/messages/stream"
        async with self.http.stream("GET", url, headers=headers, params=self._params()) as stream:
            if stream.status_code != 200:
                await stream.aread()
                if stream.status_code == 401:
                    target.recipient_token = None
                raise Failed(reason_of(stream), stream.status_code)
            lines = stream.aiter_lines()
            key = f"probe-message:{target.tag}:{round_at}"
            await anext(lines)  # ": connected": the stream is live before the message is sent
            sent = await self.http.post(
                target.url + "/v1/messages",
                json={"to": self.accounts.recipient, "text": f"probe {round_at}"},
                params=self._params(),
                headers={**sender, "Idempotency-Key": key},
            )
            self._check_session(target, sent)
            _expect(sent, 201)
            message_id = _json(sent).get("id")
            read = 0
            async for line in lines:
                if line.startswith("data:") and _message_id(line[5:]) == message_id:
                    return
                read += 1
                if read > _MAX_STREAM_LINES:
                    break
        raise Failed("bad_answer")

    async def upload(
        self, target: Target, clip: bytes, key: str, timeout: float
    ) -> tuple[str, int]:
        """Upload a small real video under the Idempotency-Key ``key``,
        waiting ``timeout`` seconds at most; its id and the ``seq`` of its write."""
        response = await self.http.post(
            target.url + "/v1/videos",
            files={"file": ("probe.mp4", clip, "video/mp4")},
            data={"caption": "probe"},
            params=self._params(),
            headers={**self._auth(target), "Idempotency-Key": key},
            timeout=timeout,
        )
        self._check_session(target, response)
        _expect(response, 201)
        body = _json(response)
        video_id, seq = body.get("id"), body.get("seq")
        if not isinstance(video_id, str) or not isinstance(seq, int):
            raise Failed("bad_answer")
        return video_id, seq

    async def delete(self, target: Target, video_id: str) -> None:
        response = await self.http.delete(
            f"{target.url}/v1/videos/{video_id}",
            params=self._params(),
            headers={**self._auth(target), "Idempotency-Key": f"probe-delete:{video_id}"},
        )
        _expect(response, 200)


def _message_id(data: str) -> object:
    try:
        message = json.loads(data)
    except ValueError:
        return None
    return message.get("id") if isinstance(message, dict) else None
