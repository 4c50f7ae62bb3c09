"""A KuaiRand-shaped catalog for the For You benchmark, written straight to a log.

Shape (fixed seeds; ``scale`` multiplies users and videos):

- **videos** (100,000): durations drawn from KuaiRand's real ``video_duration``
  column; width and height from the same KuaiRand row; uploaded uniformly
  over the last 30 days (so about a quarter are "fresh", under 7 days);
- **creators**: videos per creator drawn from KuaiRand's real author sizes
  (85 % of its authors have one video, the largest 26), until the videos
  are all owned — about 86,000 creator accounts for 100,000 videos;
- **taste**: 40 clusters; a creator and all their videos sit in one; within
  a cluster, popularity is Zipf (weight 1 / rank^1.1 over a random order);
- **users** (10,000 viewers): each likes 1-3 clusters and has 3-5 sessions
  over the last 7 days of 7-13 interactions each (~40): 80 % from their
  clusters, 20 % anywhere, never a video twice nor one not yet uploaded.
  In taste: completed 55 % (else skipped 20 %, else a partial watch); out of
  taste: completed 15 %, skipped 60 %. A completed watch is liked 35 % (10 %
  out of taste) and shared 6 %; 2 % of out-of-taste skips say not_interested.
  One session is one ``InteractionsRecorded`` batch (one ``POST /v1/events``);
- **follows**: each user follows Poisson(1.5) creators of videos they liked.

Accounts carry a cheap scrypt hash (cost 2**8, as the tests use) of
:data:`PASSWORD`, so the benchmark can log in as any of them.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from stormproof.actions import derived_id
from stormproof.events import (
    AccountCreated,
    Event,
    FollowStarted,
    Interaction,
    InteractionsRecorded,
    Payload,
    VideoUploaded,
    encode,
    new_event,
)
from stormproof.log import event_id_for
from stormproof.log.sqlite import SqliteLog
from stormproof.passwords import hash_password

__all__ = ["PASSWORD", "Catalog", "KuaiRand", "build", "write", "write_bulk"]

PASSWORD = "benchmark-password"
#: stands for every seeded video's bytes and thumbnail (none are stored)
PLACEHOLDER_BLOB = hashlib.sha256(b"seed-placeholder").hexdigest()
DAY_MS = 24 * 3600 * 1000
CLUSTERS = 40
ZIPF = 1.1


@dataclass(frozen=True)
class KuaiRand:
    """The real distributions the catalog is drawn from."""

    #: (duration_ms, width, height) of every video with a known duration
    videos: npt.NDArray[np.int64]
    #: videos per author, one entry per author
    author_sizes: npt.NDArray[np.int64]

    @classmethod
    def read(cls, path: Path) -> KuaiRand:
        rows, authors = [], Counter[str]()
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                authors[row["author_id"]] += 1
                if row["video_duration"]:
                    size = (row["server_width"] or "0", row["server_height"] or "0")
                    rows.append((float(row["video_duration"]), *map(float, size)))
        if not rows:
            raise ValueError(f"{path} holds no video_duration values")
        return cls(np.array(rows, dtype=np.int64), np.array(list(authors.values())))


@dataclass
class Catalog:
    """What was seeded, for the benchmark to drive it."""

    #: (key, event) in log order
    events: list[tuple[str, Event]] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    #: per user: their taste clusters, and every video they touched
    tastes: list[list[int]] = field(default_factory=list)
    seen: list[set[int]] = field(default_factory=list)
    video_ids: list[str] = field(default_factory=list)
    duration_ms: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    #: per cluster: its videos, most popular first
    by_cluster: list[npt.NDArray[np.int64]] = field(default_factory=list)
    creators: int = 0
    interactions: int = 0
    follows: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.usernames),
            "creators": self.creators,
            "videos": len(self.video_ids),
            "interactions": self.interactions,
            "interaction_batches": sum(
                isinstance(e.data, InteractionsRecorded) for _, e in self.events
            ),
            "follows": self.follows,
            "log_entries": len(self.events),
        }


class _Sampler:
    """Zipf popularity within each cluster, respecting upload times."""

    def __init__(self, rng: np.random.Generator, cluster_of: npt.NDArray[np.int64]) -> None:
        self.rng = rng
        self.members: list[npt.NDArray[np.int64]] = []
        self.cumulative: list[npt.NDArray[np.float64]] = []
        for c in range(CLUSTERS):
            members = rng.permutation(np.flatnonzero(cluster_of == c))
            self.members.append(members)
            self.cumulative.append(np.cumsum(1.0 / np.arange(1, len(members) + 1) ** ZIPF))

    def draw(
        self, cluster: int, before: int, created: npt.NDArray[np.int64], seen: set[int]
    ) -> int:
        members, cumulative = self.members[cluster], self.cumulative[cluster]
        for _ in range(30):
            k = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1]))
            video = int(members[min(k, len(members) - 1)])
            if created[video] < before and video not in seen:
                return video
        return -1


def _interactions(
    rng: np.random.Generator, video_id: str, duration: int, in_taste: bool
) -> tuple[list[Interaction], bool]:
    """What one user does with one video; and whether they liked it."""
    completed = rng.random() < (0.55 if in_taste else 0.15)
    if not completed and rng.random() < (0.2 if in_taste else 0.6):
        items = [
            Interaction(type="skip", video_id=video_id, watched_ms=int(rng.integers(300, 3000)))
        ]
        if not in_taste and rng.random() < 0.02:
            items.append(Interaction(type="not_interested", video_id=video_id))
        return items, False
    watched = duration if completed else int(duration * rng.uniform(0.1, 0.9))
    items = [Interaction(type="watch", video_id=video_id, watched_ms=watched, completed=completed)]
    liked = completed and rng.random() < (0.35 if in_taste else 0.1)
    if liked:
        items.append(Interaction(type="like", video_id=video_id))
    if completed and rng.random() < 0.06:
        items.append(Interaction(type="share", video_id=video_id))
    return items, liked


def _event(key: str, payload: Payload, actor: str, at: int) -> tuple[int, str, Event]:
    # As stormproof.actions.write makes it: the event id derives from the log key.
    event = new_event(payload, actor=actor, at=at).model_copy(update={"id": event_id_for(key)})
    return at, key, event


def _account(username: str, password_hash: str, at: int) -> tuple[str, tuple[int, str, Event]]:
    key = f"anon:signup:{username}:seed"
    user_id = derived_id("u_", key)
    created = AccountCreated(user_id=user_id, username=username, password_hash=password_hash)
    return user_id, _event(key, created, "", at)


def build(source: KuaiRand, *, users: int, videos: int, seed: int = 7) -> Catalog:
    """Draw the whole catalog and its history as log events (nothing written yet)."""
    rng = np.random.default_rng(seed)
    now = int(time.time() * 1000)
    password_hash = hash_password(PASSWORD, 2**8, b"foryou-benchmark")
    cat = Catalog()
    stamped: list[tuple[int, str, Event]] = []

    drawn = rng.choice(source.author_sizes, videos)  # every author has at least one
    sizes = drawn[: int(np.searchsorted(np.cumsum(drawn), videos)) + 1].tolist()
    sizes[-1] -= sum(sizes) - videos
    cat.creators = len(sizes)
    creator_ids, creator_cluster = [], rng.integers(0, CLUSTERS, len(sizes))
    for n in range(len(sizes)):
        user_id, event = _account(f"creator{n:06d}", password_hash, now - 40 * DAY_MS + n)
        creator_ids.append(user_id)
        stamped.append(event)

    owner = np.repeat(np.arange(len(sizes)), sizes)
    cluster_of = creator_cluster[owner]
    created = now - rng.integers(0, 30 * DAY_MS, videos)
    shapes = source.videos[rng.integers(0, len(source.videos), videos)]
    cat.duration_ms = shapes[:, 0].copy()
    for v in range(videos):
        key = f"{creator_ids[owner[v]]}:upload:seed-{v}"
        duration, width, height = (int(x) for x in shapes[v])
        uploaded = VideoUploaded(
            video_id=derived_id("v_", key),
            owner_id=creator_ids[owner[v]],
            caption=f"clip {v}",
            blob=PLACEHOLDER_BLOB,
            size=duration * 100,
            content_type="video/mp4",
            thumbnail_blob=PLACEHOLDER_BLOB,
            duration_ms=duration,
            width=width,
            height=height,
            codec="h264",
        )
        cat.video_ids.append(uploaded.video_id)
        stamped.append(_event(key, uploaded, uploaded.owner_id, int(created[v])))

    sampler = _Sampler(rng, cluster_of)
    cat.by_cluster = sampler.members
    for n in range(users):
        username = f"viewer{n:05d}"
        user_id, event = _account(username, password_hash, now - 35 * DAY_MS + n)
        stamped.append(event)
        cat.usernames.append(username)
        cat.user_ids.append(user_id)
        tastes = sorted({int(c) for c in rng.integers(0, CLUSTERS, rng.integers(1, 4))})
        seen: set[int] = set()
        liked_owners: list[int] = []
        sessions = np.sort(now - rng.integers(0, 7 * DAY_MS, rng.integers(3, 6)))
        for s, at in enumerate(sessions.tolist()):
            items: list[Interaction] = []
            for _ in range(int(rng.integers(7, 14))):
                in_taste = rng.random() < 0.8
                cluster = int(rng.choice(tastes)) if in_taste else int(rng.integers(CLUSTERS))
                video = sampler.draw(cluster, at, created, seen)
                if video < 0:
                    continue
                seen.add(video)
                made, liked = _interactions(
                    rng, cat.video_ids[video], int(cat.duration_ms[video]), in_taste
                )
                items += made
                if liked:
                    liked_owners.append(int(owner[video]))
            if items:
                key = f"{user_id}:events:seed-{s}"
                stamped.append(_event(key, InteractionsRecorded(items=tuple(items)), user_id, at))
                cat.interactions += len(items)
        followed = sorted(set(liked_owners))
        count = min(len(followed), int(rng.poisson(1.5)))
        for creator in rng.choice(followed, count, replace=False).tolist() if count else []:
            key = f"{user_id}:follow:{creator_ids[creator]}:seed"
            payload = FollowStarted(followee_id=creator_ids[creator])
            stamped.append(_event(key, payload, user_id, int(sessions[-1]) + 1))
            cat.follows += 1
        cat.tastes.append(tastes)
        cat.seen.append(seen)

    stamped.sort(key=lambda e: (e[0], e[1]))
    cat.events = [(key, event) for _, key, event in stamped]
    return cat


async def write(catalog: Catalog, path: Path, *, in_flight: int = 16) -> None:
    """Append every event to a fresh embedded log at ``path``, ``in_flight``
    appends at a time (as that many writers would; the log orders them)."""
    log = SqliteLog(path)
    events = iter(catalog.events)

    async def writer() -> None:
        for key, event in events:
            await log.append(key, event)

    try:
        await asyncio.gather(*(writer() for _ in range(in_flight)))
    finally:
        await log.close()


def write_bulk(catalog: Catalog, path: Path, *, batch: int = 50_000) -> None:
    """Write every event to a fresh embedded log at ``path`` in large
    transactions: the rows :meth:`SqliteLog.append` would make (sequence,
    key, ``encode(event)``), in the file it makes, 100 times faster (one
    append is one fsynced transaction: ~1,500 entries/s)."""
    if path.exists():
        raise FileExistsError(f"{path} exists: the log must be fresh")
    asyncio.run(SqliteLog(path).close())  # the file, its schema and journal mode
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=NORMAL")
        for start in range(0, len(catalog.events), batch):
            rows = [(key, encode(event)) for key, event in catalog.events[start : start + batch]]
            db.execute("BEGIN")
            db.executemany("INSERT INTO log (key, body) VALUES (?, ?)", rows)
            db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
