"""The demo catalog: a few users with real generated videos, so a fresh
``stormproof serve`` has a For You feed that is not empty.

Seeding goes through the same actions as the API — it is ordinary writes to
the log — and only happens on an empty log.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from stormproof.actions import accounts, social, videos
from stormproof.media import make_video
from stormproof.region import Region

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "seed_demo"]

DEMO_PASSWORD = "stormproof-demo"
DEMO_USERS = ("alice", "bob", "carol", "dan", "erin")
_CAPTIONS = (
    "first snow of the year",
    "backup generator test, again",
    "sunset over the data center",
    "my cat vs the vacuum",
    "three regions, zero downtime",
    "learning to juggle, day 12",
    "quick pasta in 60 seconds",
    "the storm is coming",
    "skateboard fail compilation",
    "city lights timelapse",
)


async def seed_demo(region: Region, videos_per_user: int = 2) -> int:
    """Seed the demo catalog into an empty log; return the number of videos made."""
    if any(await region.log.last_seqs()):
        return 0
    ids: dict[str, str] = {}
    for name in DEMO_USERS:
        created = await accounts.sign_up(region, name, DEMO_PASSWORD, idempotency_key="demo")
        ids[name] = created.payload.user_id
    made: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for n, name in enumerate(DEMO_USERS):
            for k in range(videos_per_user):
                seed = n * videos_per_user + k
                path = Path(folder) / f"demo-{seed}.mp4"
                await asyncio.to_thread(make_video, path, seconds=3.0, seed=seed)
                size = path.stat().st_size
                uploaded = await videos.upload_video(
                    region,
                    ids[name],
                    path,
                    size,
                    _CAPTIONS[seed % len(_CAPTIONS)],
                    media=region.media,
                    idempotency_key=f"demo-{seed}",
                )
                made.append(uploaded.payload.video_id)
    for n, name in enumerate(DEMO_USERS):
        other = DEMO_USERS[(n + 1) % len(DEMO_USERS)]
        await social.follow(region, ids[name], other, idempotency_key="demo")
        liked = made[(n * 3) % len(made)]
        await social.record_interactions(
            region,
            ids[name],
            [
                {"type": "watch", "video_id": liked, "watched_ms": 3000, "completed": True},
                {"type": "like", "video_id": liked},
            ],
            idempotency_key="demo",
        )
        await social.post_comment(region, ids[name], liked, "love this", idempotency_key="demo")
    return len(made)
