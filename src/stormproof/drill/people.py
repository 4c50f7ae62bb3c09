"""The drill's simulated people: who they are, and what they do, through the SDK.

A :class:`Population` is a pure function of the scenario's load and seed:
viewers and creators with a hidden taste (:mod:`stormproof.population`, the
demo's model), each with a home region. During the drill each person is one
task with its own :class:`~stormproof.client.Client` — so failing over is
exactly what a real client does — scrolling For You: fetching a page,
playing each video's first bytes, reporting the watch, and reacting as their
taste says (like, share, comment, "not interested", follow the creator, a
message to a friend); creators also upload. Actions come at ``rate`` per
second on average (exponential gaps). Every action is one :class:`Op`.

A few people are *receivers*: each holds a live message stream (SSE,
resuming with ``Last-Event-ID`` on another region when its region fails), so
a message's delivery — from the send to its arrival on the recipient's
stream — is measured like any other operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from stormproof.client import Client, RegionsUnavailable, RequestFailed
from stormproof.drill.ops import WRITE_KINDS, Op
from stormproof.population import TOPICS, draw_tastes, react

__all__ = [
    "PASSWORD",
    "Catalog",
    "Deliveries",
    "Person",
    "Population",
    "Recorder",
    "receive",
    "scroll",
]

T = TypeVar("T")

#: every simulated person's password (the drill's cluster is its own and
#: thrown away: it guards nothing)
PASSWORD = "drill-person-password"
#: a video's first bytes, as a player fetches them before it starts
_PLAYBACK_RANGE = "bytes=0-262143"
#: off their taste, this share of early skips also say "not interested"
_HIDE_RATE = 0.2
#: after liking a creator's video, the chance of following them
_FOLLOW_RATE = 0.3
#: the chance, after each video, of messaging a friend about it
_MESSAGE_RATE = 0.08
#: a creator uploads after this many videos watched, on average
_UPLOAD_EVERY = 12
#: one person in this many receives messages on a live stream
_RECEIVER_EVERY = 6


@dataclass(frozen=True)
class Person:
    name: str
    tastes: tuple[str, ...]
    home: int
    creator: bool = False
    #: who they message (a receiver)
    friend: str = ""


@dataclass(frozen=True)
class Population:
    people: list[Person]
    #: the people who hold a live message stream
    receivers: list[str]

    @classmethod
    def make(cls, *, viewers: int, creators: int, regions: int, seed: int) -> Population:
        rng = random.Random(seed)
        names = [f"creator_{i:02d}" for i in range(creators)]
        names += [f"viewer_{i:03d}" for i in range(viewers)]
        tastes = draw_tastes(rng, names)
        receivers = [n for i, n in enumerate(names) if i % _RECEIVER_EVERY == _RECEIVER_EVERY - 1]
        people = [
            Person(
                name,
                tastes[name],
                home=i % regions,
                creator=name.startswith("creator"),
                friend=rng.choice([r for r in receivers if r != name] or [name]),
            )
            for i, name in enumerate(names)
        ]
        return cls(people, receivers)

    def by_name(self, name: str) -> Person:
        return next(p for p in self.people if p.name == name)


@dataclass
class Catalog:
    """What is known of each video: its topic and length (the drill made them)."""

    topic_of: dict[str, str] = field(default_factory=dict)
    duration_of: dict[str, int] = field(default_factory=dict)

    def add(self, video: dict[str, Any], topic: str) -> None:
        self.topic_of[video["id"]] = topic
        self.duration_of[video["id"]] = int(video["duration_ms"])

    @staticmethod
    def caption(topic: str, n: int, tag: str) -> str:
        hashtag, captions = TOPICS[topic]
        return f"{captions[n % len(captions)]} {hashtag} ({tag})"


class Recorder:
    """The drill's clock and its record of every operation."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.ops: list[Op] = []
        #: per second: the hidden-taste relevance of the For You pages of the
        #: sample people taken then (see the runner)
        self.relevance: dict[int, list[float]] = {}
        self._serial = itertools.count(1)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def tag(self, person: str) -> str:
        """A text no other write of this drill carries."""
        return f"{person}#{next(self._serial)}"

    async def timed(self, op: Op, work: Awaitable[T], client: Client | None = None) -> T | None:
        """Run ``work`` as ``op``: its end, outcome and answering region."""
        self.ops.append(op)
        try:
            result = await work
        except RequestFailed as exc:
            op.outcome, op.code = "failed", exc.code
            result = None
        except RegionsUnavailable as exc:
            # A write no region confirmed may still have happened (a 503 after
            # a timed-out append is no promise it did not): unknown. A read
            # that only got errors failed.
            code = exc.answers[-1] if exc.answers else "no_answer"
            if "no_quorum" in exc.answers:
                code = "no_quorum"
            definite = op.kind not in WRITE_KINDS and exc.answers
            op.outcome, op.code = ("failed" if definite else "unknown"), code
            result = None
        else:
            op.outcome = "ok"
        op.ended = self.now()
        if client is not None and op.outcome == "ok":
            op.region = client.region
        return result

    def served(self, second: int, score: float | None) -> None:
        if score is not None:
            self.relevance.setdefault(second, []).append(score)


class Deliveries:
    """Messages on their way to a live stream. A message may reach its
    recipient's stream before its sender has the acknowledgement (the stream
    follows the log; the ack crosses the network back): both orders count."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.waiting: dict[str, Op] = {}
        self._early: dict[str, tuple[float, str]] = {}

    def expect(self, op: Op) -> None:
        early = self._early.pop(op.key, None)
        if early is None:
            self.waiting[op.key] = op
        else:
            self._done(op, *early)

    def arrived(self, text: str, region: str) -> None:
        op = self.waiting.pop(text, None)
        if op is None:
            self._early[text] = (self.recorder.now(), region)
        else:
            self._done(op, self.recorder.now(), region)

    def _done(self, op: Op, at: float, region: str) -> None:
        op.ended, op.outcome, op.region = at, "ok", region
        self.recorder.ops.append(op)


async def scroll(
    person: Person,
    client: Client,
    recorder: Recorder,
    catalog: Catalog,
    *,
    rate: float,
    seed: int,
    stop: asyncio.Event,
    deliveries: Deliveries,
    clip: Callable[[int], bytes],
) -> None:
    """One person scrolling For You until ``stop`` is set."""
    rng = random.Random(f"{seed}:{person.name}")
    followed: set[str] = set()
    cursor: str | None = None
    watched = 0

    async def pause() -> bool:
        """The time until the next action; False once the drill stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.expovariate(rate))
        return not stop.is_set()

    def op(kind: str, key: str = "", target: str = "") -> Op:
        return Op(kind, person.name, recorder.now(), key=key, target=target)

    async def events(kind: str, video_id: str, body: list[dict[str, Any]]) -> None:
        await recorder.timed(
            op(kind, video_id), client.post("/v1/events", json={"events": body}), client
        )

    while await pause():
        params: dict[str, Any] = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        answer = await recorder.timed(
            op("feed"), client.get("/v1/feed/for-you", params=params), client
        )
        if answer is None:
            continue
        page = answer.json()
        items = [item["video"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not items:
            cursor = None
        for video in items:
            if not await pause():
                return
            vid, owner = video["id"], video["owner"]["username"]
            headers = {"Range": _PLAYBACK_RANGE}
            await recorder.timed(
                op("playback"), client.get(f"/v1/videos/{vid}/file", headers=headers), client
            )
            topic = catalog.topic_of.get(vid)
            did = react(rng, topic in person.tastes, video["duration_ms"], hide_rate=_HIDE_RATE)
            # One watch report per video (a rewatch is watched time past the
            # end), so the checker can count each report back.
            watched_ms = did.watched_ms * (2 if did.rewatched else 1)
            watch = {"type": "watch", "video_id": vid, "watched_ms": watched_ms,
                     "completed": did.completed}  # fmt: skip
            report: list[dict[str, Any]] = [watch]
            if did.skipped:
                report.append({"type": "skip", "video_id": vid})
            if not await pause():
                return
            await events("watch", vid, report)
            watched += 1
            for wanted, kind in (
                (did.liked, "like"),
                (did.shared, "share"),
                (did.hid, "not_interested"),
            ):
                if wanted and await pause():
                    await events(kind, vid, [{"type": kind, "video_id": vid}])
            if did.commented and await pause():
                text = recorder.tag(person.name)
                post = client.post(f"/v1/videos/{vid}/comments", json={"text": text})
                await recorder.timed(op("comment", text, vid), post, client)
            if (
                did.liked
                and owner not in followed
                and owner != person.name
                and rng.random() < _FOLLOW_RATE
                and await pause()
            ):
                followed.add(owner)
                follow = client.post(f"/v1/follows/{owner}")
                await recorder.timed(op("follow", owner), follow, client)
            if person.friend != person.name and rng.random() < _MESSAGE_RATE and await pause():
                text = recorder.tag(person.name)
                sent = op("message", text, person.friend)
                body = {"to": person.friend, "text": text}
                if await recorder.timed(sent, client.post("/v1/messages", json=body), client):
                    deliveries.expect(Op("delivery", person.friend, sent.started, key=text))
            if person.creator and rng.random() < 1 / _UPLOAD_EVERY and await pause():
                topic = person.tastes[0]
                caption = Catalog.caption(topic, watched, recorder.tag(person.name))
                upload = client.upload(clip(rng.randrange(1 << 30)), caption=caption, timeout=10)
                made = await recorder.timed(op("upload", caption), upload, client)
                if made is not None:
                    catalog.add(made, topic)


async def receive(
    name: str,
    token: str,
    regions: list[str],
    home: int,
    deliveries: Deliveries,
    running: Callable[[], bool],
) -> None:
    """Hold ``name``'s live message stream, failing over between regions with
    ``Last-Event-ID`` the way a browser's EventSource does, and mark each
    awaited message delivered when it arrives."""
    last_id: str | None = None
    order = [regions[(home + i) % len(regions)] for i in range(len(regions))]
    # The server sends a keepalive every 15 s: a silent stream longer than
    # this is a frozen region
    timeout = httpx.Timeout(5.0, read=20.0)
    async with httpx.AsyncClient(timeout=timeout) as http:
        for url in itertools.cycle(order):
            if not running():
                return
            headers = {"Authorization": f"Bearer {token}"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            with contextlib.suppress(httpx.HTTPError):
                async with http.stream("GET", url + "/v1/messages/stream", headers=headers) as r:
                    if r.status_code != 200:
                        await asyncio.sleep(0.2)
                        continue
                    event_id = None
                    async for line in r.aiter_lines():
                        if line.startswith("id: "):
                            event_id = line[4:]
                        elif line.startswith("data: "):
                            message = json.loads(line[6:])
                            if message.get("recipient") == name:
                                deliveries.arrived(message.get("text", ""), url)
                            last_id = event_id or last_id
                        if not running():
                            return
            await asyncio.sleep(0.1)
