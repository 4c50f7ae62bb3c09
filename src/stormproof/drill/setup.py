"""Setting a drill up: the people signed up and logged in, the catalog
uploaded by its creators, and a short history for everyone, so For You has
a taste to find before the clock starts.

Six *sample* people get a longer history and then only look: their For You
pages measure continuity and relevance (see :mod:`stormproof.drill.judge`).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

from stormproof.client import Client
from stormproof.drill.people import PASSWORD, Catalog, Population
from stormproof.media import make_video
from stormproof.population import TOPICS, draw_tastes, react

__all__ = [
    "ACTIONS_PER_VIDEO",
    "CHEAP_PASSWORDS",
    "HISTORY",
    "SAMPLE_HISTORY",
    "Setup",
    "make_clips",
]

#: sample people whose For You pages measure continuity across the cut
SAMPLES = 6
#: a person watches a video every this many actions, about (playback, watch
#: report, and now and then a like, a share...)
ACTIONS_PER_VIDEO = 3.0
#: the drill's passwords guard nothing (its cluster is thrown away), and
#: hashing them at full cost would make signing people up the drill's
#: slowest phase: the regions hash at the demo's cost (Argon2id, 1 MiB, 1 pass)
CHEAP_PASSWORDS = {"STORMPROOF_PASSWORD_COST": "1024", "STORMPROOF_PASSWORD_TIME_COST": "1"}
#: clips generated for the catalog and uploads (uploads reuse their bytes)
CLIPS = 6
#: each person's history before the drill: this many videos reacted to
HISTORY = 8
#: the sample people have used the app for a while: this many videos of their
#: taste in their history, so their For You is theirs (and a reset would show)
SAMPLE_HISTORY = 16


def make_clips(folder: Path, seed: int) -> list[bytes]:
    """Real short vertical videos of a few lengths, made with PyAV."""
    rng = random.Random(seed)
    clips = []
    for n in range(CLIPS):
        path = folder / f"clip-{n}.mp4"
        seconds = rng.choice((2.0, 3.0, 4.0, 6.0))
        make_video(path, seconds=seconds, width=180, height=320, fps=10, seed=seed * 100 + n)
        clips.append(path.read_bytes())
    return clips


class Setup:
    """Everything the run needs from the set-up phase."""

    def __init__(self, urls: list[str], population: Population, seed: int) -> None:
        self.urls = urls
        self.population = population
        self.seed = seed
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, str] = {}
        self.catalog = Catalog()
        #: people who get a history and then only look: continuity's subjects
        names = [f"sample_{i}" for i in range(SAMPLES)]
        self.samples = draw_tastes(random.Random(f"{seed}:samples"), names)
        #: each video's likes before the clock started (the checker's baseline)
        self.likes: Counter[str] = Counter()

    def client(self, home: int, **kwargs: Any) -> Client:
        order = [self.urls[(home + i) % len(self.urls)] for i in range(len(self.urls))]
        return Client(order, **kwargs)

    async def join(self, name: str, home: int) -> Client:
        c = self.client(home, attempt_timeout=2.0, deadline=20.0)
        await c.sign_up(name, PASSWORD)
        await c.log_in(name, PASSWORD)
        assert c.token is not None
        self.tokens[name] = c.token
        return c

    async def people(self, creators: bool) -> None:
        """Sign up and log in the creators, or everyone else."""
        gate = asyncio.Semaphore(8)

        async def one(name: str, home: int) -> None:
            async with gate:
                self.clients[name] = await self.join(name, home)

        people = [(p.name, p.home) for p in self.population.people if p.creator == creators]
        if not creators:
            people += [(name, i) for i, name in enumerate(self.samples)] + [("newcomer", 0)]
        await asyncio.gather(*(one(name, home) for name, home in people))

    async def catalog_(self, clips: list[bytes], size: int) -> None:
        """Creators upload the catalog: every topic, in turn."""
        creators = [p for p in self.population.people if p.creator]
        topics = sorted(TOPICS)
        gate = asyncio.Semaphore(6)

        async def one(n: int) -> None:
            creator = creators[n % len(creators)]
            topic = creator.tastes[0] if n % 2 == 0 else topics[(n // 2) % len(topics)]
            caption = Catalog.caption(topic, n, f"catalog {n}")
            async with gate:
                made = await self.clients[creator.name].upload(
                    clips[n % len(clips)], caption=caption, timeout=10
                )
            self.catalog.add(made, topic)

        await asyncio.gather(*(one(n) for n in range(size)))

    def everyone_sees_the_catalog(self) -> None:
        """Every client reads at least what the creators wrote."""
        creators = [self.clients[p.name] for p in self.population.people if p.creator]
        for client in self.clients.values():
            for creator in creators:
                client.follow(creator)

    async def histories(self, names: dict[str, tuple[str, ...]], in_taste: int) -> None:
        """Each person reacts, in one batch, to up to ``in_taste`` videos of
        their taste (and two others), as their taste says."""
        videos = sorted(self.catalog.topic_of)
        gate = asyncio.Semaphore(8)

        async def one(name: str, tastes: tuple[str, ...]) -> None:
            rng = random.Random(f"{self.seed}:history:{name}")
            ours = [v for v in videos if self.catalog.topic_of[v] in tastes]
            others = [v for v in videos if v not in set(ours)]
            seen = rng.sample(ours, min(len(ours) // 2, in_taste))
            seen += rng.sample(others, min(len(others), 2))
            events: list[dict[str, Any]] = []
            for vid in seen:
                did = react(rng, vid in ours, self.catalog.duration_of[vid])
                events.append({"type": "watch", "video_id": vid, "watched_ms": did.watched_ms,
                               "completed": did.completed})  # fmt: skip
                if did.skipped:
                    events.append({"type": "skip", "video_id": vid})
                if did.liked:
                    events.append({"type": "like", "video_id": vid})
                    self.likes[vid] += 1
            async with gate:
                await self.clients[name].post("/v1/events", json={"events": events})

        await asyncio.gather(*(one(name, tastes) for name, tastes in names.items()))
