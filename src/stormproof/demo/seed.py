"""Writing the demo: a :class:`~stormproof.demo.plan.Plan` turned into the
same actions the API calls — sign-ups, uploads (probed by the region's media
workers), interaction batches, comments, follows, messages — so the demo is
ordinary history in the log, and every view and the For You engine learn it
the way they learn anything else.

Only an empty log is seeded. Event times are the plan's offsets before now
(given as each write's ``at``, as a client's ``Stormproof-Write-At`` would):
the history looks like the last day of a small community, and trending and
the fresh ladder see it that way. Ids derive from fixed idempotency keys, so
the same seed gives the same ids on every run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stormproof import media
from stormproof.actions import WriteTime, accounts, derived_id, log_key, social, videos
from stormproof.demo.plan import DEMO_PASSWORD, DEMO_USERS, Act, Person, Upload, make_plan
from stormproof.passwords import passwords_for
from stormproof.region import Region
from stormproof.views import accounts as accounts_view

__all__ = ["CLIP_SECONDS", "Seeded", "has_demo", "seed_demo"]

#: the generated clips: small and short, so a dozen are made in about two
#: seconds (each costs a tenth of a second or so to encode)
CLIP_SECONDS = 4.0

#: the demo password is printed for everyone to read, so a slow hash of it
#: protects nothing: its accounts get a cheap one (Argon2id keeps its
#: parameters in the hash, so logging in checks it at that cost): memory
#: KiB and passes
_CHEAP_HASH = (1024, 1)
#: uploads probed at once: the media pool refuses more than its queue holds
_UPLOADS_AT_ONCE = 4
#: the demo people joined two days before the demo starts
_JOINED_AGO_MS = 48 * 3600 * 1000


@dataclass(frozen=True)
class Seeded:
    """What the demo wrote, for ``serve`` to say."""

    people: int
    videos: int
    interactions: int
    seconds: float


async def seed_demo(region: Region, *, seed: int = 10) -> Seeded | None:
    """Seed the demo community into an empty log (None when it is not empty)."""
    if any(await region.log.last_seqs()):
        return None
    started = time.perf_counter()
    plan = make_plan(seed, duration_ms=round(CLIP_SECONDS * 1000))
    now = region.clock.tick()

    def ago(ms: int) -> WriteTime:
        return WriteTime(at=now - ms)

    async def join(person: Person) -> str:
        created = await accounts.sign_up(
            region, person.name, DEMO_PASSWORD, idempotency_key="demo",
            when=ago(_JOINED_AGO_MS), passwords=passwords_for(*_CHEAP_HASH),
        )  # fmt: skip
        return created.payload.user_id

    ids = dict(zip(DEMO_USERS, await asyncio.gather(*map(join, plan.people)), strict=True))
    with tempfile.TemporaryDirectory() as folder:
        clips = [Path(folder) / f"clip-{n}.mp4" for n in range(plan.clips)]
        await asyncio.gather(*(asyncio.to_thread(_clip, path, n) for n, path in enumerate(clips)))
        uploading = asyncio.Semaphore(_UPLOADS_AT_ONCE)

        async def upload(video: Upload) -> str:
            path = clips[video.clip]
            async with uploading:
                written = await videos.upload_video(
                    region, ids[video.owner], path, path.stat().st_size, video.caption,
                    media=region.media, idempotency_key=f"demo-{video.key}",
                    when=ago(video.ago_ms),
                )  # fmt: skip
            return written.payload.video_id

        made = await asyncio.gather(*map(upload, plan.uploads))
    video_ids = {video.key: made_id for video, made_id in zip(plan.uploads, made, strict=True)}

    async def live(person: Person) -> int:
        done = 0
        for n, act in enumerate(person.acts):
            when = ago(act.ago_ms)
            done += await _act(region, ids[person.name], n, act, video_ids, when)
        return done

    interactions = sum(await asyncio.gather(*map(live, plan.people)))
    seconds = time.perf_counter() - started
    return Seeded(len(plan.people), len(plan.uploads), interactions, seconds)


async def has_demo(region: Region) -> bool:
    """Whether the region holds the demo people (the demo's own alice, not
    someone who took the name in a data folder that started empty)."""
    first = DEMO_USERS[0]
    demo_id = derived_id("u_", log_key("", f"signup:{first}", "demo"))
    found = await region.store.query(lambda db: accounts_view.account_by_name(db, first))
    return found is not None and not found.deleted and found.user_id == demo_id


def _clip(path: Path, seed: int) -> None:
    # media.make_video imports PyAV on first use: a region that seeds nothing never does
    media.make_video(path, seconds=CLIP_SECONDS, width=180, height=320, fps=10, seed=seed)


async def _act(
    region: Region,
    user_id: str,
    n: int,
    act: Act,
    video_ids: dict[str, str],
    when: WriteTime,
) -> int:
    """Write one session (the ``n``-th of its person); return how many
    interactions it recorded."""
    events = [{**event, "video_id": video_ids[str(event["video_id"])]} for event in act.events]
    if events:
        await social.record_interactions(
            region, user_id, events, idempotency_key=f"demo-{n}", when=when
        )
    for key, text in act.comments:
        await social.post_comment(
            region, user_id, video_ids[key], text, idempotency_key="demo", when=when
        )
    for name in act.follows:
        await social.follow(region, user_id, name, idempotency_key="demo", when=when)
    for to, text in act.messages:
        await social.send_message(
            region, user_id, to, text, idempotency_key=f"demo-{to}", when=when
        )
    return len(events) + len(act.comments)
