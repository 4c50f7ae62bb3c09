"""A write workload for fault tests and benchmarks, and a Jepsen-style check.

Each worker is one user with its own :class:`~stormproof.client.Client`,
doing one write at a time: a direct message (most), a comment on a shared
video, and now and then an upload. Each write is named by a unique tag (the
text or the caption), so each can be looked for one by one. (Watch events
are not used: one person's watches of a video count once per ten minutes, so
they cannot be counted back.) Every write records when it started and ended and how it
came out: ``ok`` (acknowledged), ``failed`` (a definite 4xx) or ``unknown``
(no answer in time: it may or may not have happened). A 429 is waited out
and sent again, as a well-behaved client does.

:func:`check` then reads every region back and classifies each write the way
Jepsen does: an ``ok`` write that is absent is **lost**; a write present more
than once is **duplicated**; an ``unknown`` write is reported found or not.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from stormproof.client import Client, RegionsUnavailable, RequestFailed

__all__ = ["Op", "Verdict", "Workload", "check", "longest_gap"]

PASSWORD = "loadgen-password"
#: sends of one write refused with 429 before it counts as failed
RATE_LIMITED_TRIES = 5


@dataclass
class Op:
    kind: str  # "message" | "comment" | "upload"
    tag: str  # unique: the message or comment text, the upload caption
    user: str
    started: float
    ended: float = 0.0
    outcome: str = "pending"  # ok | failed | unknown
    region: str = ""


@dataclass
class Verdict:
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    lost: int = 0
    duplicated: int = 0
    unknown_found: int = 0
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "details"}


class Workload:
    """``users`` workers writing against ``regions`` until :meth:`stop`."""

    def __init__(
        self,
        regions: list[str],
        *,
        users: int = 4,
        video: bytes,
        attempt_timeout: float = 0.5,
        upload_every: int = 25,
        prefix: str | None = None,
    ) -> None:
        self.regions = regions
        self.video = video
        self.attempt_timeout = attempt_timeout
        self.upload_every = upload_every
        self.prefix = prefix or uuid.uuid4().hex[:6]
        self.names = [f"lg{self.prefix}{i}" for i in range(users)]
        self.ops: list[Op] = []
        self.video_id = ""
        self._running = True

    def client(self) -> Client:
        return Client(self.regions, attempt_timeout=self.attempt_timeout, deadline=20)

    async def setup(self) -> None:
        """Create the users and one video that comments go to."""
        async with self.client() as c:
            for name in self.names:
                await c.sign_up(name, PASSWORD)
            await c.log_in(self.names[0], PASSWORD)
            self.video_id = (await c.upload(self.video, caption=f"{self.prefix}-target"))["id"]

    def stop(self) -> None:
        self._running = False

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(i) for i in range(len(self.names))))

    async def _worker(self, index: int) -> None:
        name = self.names[index]
        peer = self.names[(index + 1) % len(self.names)]
        async with self.client() as c:
            await c.log_in(name, PASSWORD)
            n = 0
            while self._running:
                n += 1
                tag = f"{name}-{n}"
                work: Callable[[], Awaitable[object]]
                if n % self.upload_every == 0:
                    op = Op("upload", tag, name, time.monotonic())
                    work = partial(c.upload, self.video, caption=tag, timeout=10)
                elif n % 3 == 0:
                    op = Op("comment", tag, name, time.monotonic())
                    path = f"/v1/videos/{self.video_id}/comments"
                    work = partial(c.post, path, json={"text": tag})
                else:
                    op = Op("message", tag, name, time.monotonic())
                    work = partial(c.post, "/v1/messages", json={"to": peer, "text": tag})
                self.ops.append(op)
                op.outcome = await _outcome(work)
                op.ended = time.monotonic()
                op.region = c.region


async def _outcome(work: Callable[[], Awaitable[object]]) -> str:
    """Do ``work`` the way a well-behaved client does: a 429 stored nothing,
    so wait as long as ``Retry-After`` says and send it again."""
    for _ in range(RATE_LIMITED_TRIES):
        try:
            await work()
            return "ok"
        except RequestFailed as exc:
            if exc.code != "rate_limited":
                return "failed"
            await asyncio.sleep(float(exc.response.headers.get("Retry-After", "1")))
        except RegionsUnavailable:
            return "unknown"
    return "failed"


def longest_gap(ops: list[Op], kinds: tuple[str, ...] = ("message", "comment")) -> float:
    """The longest time with no acknowledged write among ``kinds``."""
    ends = sorted(op.ended for op in ops if op.outcome == "ok" and op.kind in kinds)
    starts = [op.started for op in ops if op.kind in kinds]
    if not ends or not starts:
        return 0.0
    points = [min(starts), *ends]
    return max((b - a for a, b in itertools.pairwise(points)), default=0.0)


async def check(workload: Workload, region: str) -> Verdict:
    """Classify every write of ``workload`` by what ``region`` holds now."""
    verdict = Verdict()
    messages: Counter[str] = Counter()
    captions: Counter[str] = Counter()
    comments: Counter[str] = Counter()
    async with Client([region], deadline=20) as c:
        for index, name in enumerate(workload.names):
            await c.log_in(name, PASSWORD)
            peer = workload.names[(index + 1) % len(workload.names)]
            after = None
            while True:
                params = {"limit": 200, **({"after": after} if after else {})}
                page = (await c.get(f"/v1/conversations/{peer}/messages", params=params)).json()
                messages.update(m["text"] for m in page if m["sender"] == name)
                if len(page) < 200:
                    break
                after = page[-1]["id"]
            cursor = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = (await c.get(f"/v1/accounts/{name}/videos", params=params)).json()
                captions.update(v["caption"] for v in page)
                if len(page) < 100:
                    break
                cursor = f"{page[-1]['created_at']}:{page[-1]['id']}"
        after = None
        while True:
            params = {"limit": 100, **({"after": after} if after else {})}
            page = (await c.get(f"/v1/videos/{workload.video_id}/comments", params=params)).json()
            comments.update(m["text"] for m in page)
            if len(page) < 100:
                break
            after = page[-1]["id"]
    named = {"message": messages, "comment": comments, "upload": captions}
    for op in workload.ops:
        setattr(verdict, op.outcome, getattr(verdict, op.outcome) + 1)
        found = named[op.kind][op.tag]
        if found > 1:
            verdict.duplicated += 1
            verdict.details.append(f"duplicated {op.kind} {op.tag} x{found}")
        if op.outcome == "ok" and found == 0:
            verdict.lost += 1
            verdict.details.append(f"lost {op.kind} {op.tag} ({op.region})")
        if op.outcome == "unknown" and found:
            verdict.unknown_found += 1
    return verdict
