"""Hypothesis drives random commands through the real write path, then checks
that the incrementally built views — the For You engine among them — equal
views rebuilt from sequence 0, that the views reach the same state however
the partitions of a replicated log interleave (and when a write lands in two
partitions), that the engines then serve identical feeds, that re-delivering
any entry changes nothing, and that a rejected command stores nothing."""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from pydantic import ValidationError

from stormproof.actions import accounts, ledger, renditions, roles, safety, social, videos
from stormproof.creators.ledger import rates_of
from stormproof.errors import StormproofError
from stormproof.events import (
    AccountCreated,
    CommentPosted,
    RenditionFailed,
    RenditionReady,
    SessionStarted,
    VideoUploaded,
)
from stormproof.log import Entry
from stormproof.media import make_video
from stormproof.recommend.engine import Engine
from stormproof.recommend.ranker import Pick, rank
from stormproof.region import Region
from stormproof.views import all_views, follows
from stormproof.views.keys import applied_after
from stormproof.views.store import ViewStore
from tests.conftest import make_settings

T = TypeVar("T")
NAMES = ("ann", "ben", "cat", "dan")
INTERACTIONS = ("watch", "like", "unlike", "share", "skip", "not_interested")
_CLIPS = Path(tempfile.mkdtemp(prefix="stormproof-clips-"))
CLIPS = [
    make_video(_CLIPS / f"{n}.mp4", seconds=0.3, seed=n, width=64, height=64) for n in range(2)
]

users = st.sampled_from(NAMES)
keys = st.none() | st.sampled_from(["k1", "k2"])


def interleavings(entries: list[Entry], rng: random.Random) -> list[list[Entry]]:
    """The same writes as a replicated log could deliver them: spread over 3
    partitions, some written twice (a retry that went to another partition),
    the partitions interleaved at random. Returns the batches to apply."""
    partitions: list[list[Entry]] = [[], [], []]
    for entry in entries:
        targets = rng.sample(range(3), 2 if rng.random() < 0.1 else 1)
        for p in targets:
            partitions[p].append(replace(entry, partition=p, seq=len(partitions[p]) + 1))
    batches: list[list[Entry]] = []
    cursors = [0, 0, 0]
    while any(c < len(part) for c, part in zip(cursors, partitions, strict=True)):
        p = rng.choice([i for i in range(3) if cursors[i] < len(partitions[i])])
        size = rng.randint(1, 3)
        batches.append(partitions[p][cursors[p] : cursors[p] + size])
        cursors[p] += size
    return batches


class ViewsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="stormproof-views-"))
        self.loop = asyncio.new_event_loop()
        self.region = Region.open(make_settings(self.folder, min_seq_wait_s=5.0))
        self.run(self.region.start())
        self.run(self.region.caught_up())
        self.ids: dict[str, str] = {}
        self.videos: list[str] = []
        self.owners: dict[str, str] = {}
        self.comments: list[tuple[str, str]] = []
        self.sessions: list[tuple[str, str]] = []  # (name, session id)
        self.opened: list[ViewStore] = []

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)  # type: ignore[arg-type]

    def attempt(self, work: Awaitable[Any]) -> Any:
        """Run a command; a rejected one must leave the log untouched."""
        before = self.run(self.region.log.last_seqs())
        try:
            return self.run(work)
        except ValidationError:  # a value no event may hold: the API answers 422
            assert self.run(self.region.log.last_seqs()) == before, "a rejected write stored"
            return None
        except StormproofError as exc:
            assert 400 <= exc.status < 500, exc
            assert self.run(self.region.log.last_seqs()) == before, "a rejected write stored"
            return None

    def user(self, name: str) -> str:
        return self.ids.get(name, "u_" + name)

    @rule(name=users, key=keys)
    def sign_up(self, name: str, key: str | None) -> None:
        written = self.attempt(
            accounts.sign_up(self.region, name, "password1", idempotency_key=key)
        )
        if written is not None:
            assert isinstance(written.event.data, AccountCreated)
            self.ids[name] = written.event.data.user_id

    def caller(self, name: str, session_id: str = "") -> accounts.Credentials:
        return accounts.Credentials(self.user(name), name, session_id)

    @rule(name=users, password=st.sampled_from(["password1", "password2"]), key=keys)
    def log_in(self, name: str, password: str, key: str | None) -> None:
        written = self.attempt(accounts.log_in(self.region, name, password, idempotency_key=key))
        if written is not None:
            assert isinstance(written.event.data, SessionStarted)
            self.sessions.append((name, written.event.data.session_id))

    @rule(name=users, pick=st.integers(0, 5), key=keys)
    def revoke_session(self, name: str, pick: int, key: str | None) -> None:
        if self.sessions:
            _, session_id = self.sessions[pick % len(self.sessions)]
            self.attempt(
                accounts.revoke_session(
                    self.region, self.caller(name), session_id, idempotency_key=key
                )
            )

    @rule(name=users, pick=st.integers(0, 5), new=st.sampled_from(["password1", "password2"]))
    def change_password(self, name: str, pick: int, new: str) -> None:
        mine = [s for n, s in self.sessions if n == name] or [""]
        caller = self.caller(name, mine[pick % len(mine)])
        for old in ("password1", "password2"):
            self.attempt(
                accounts.change_password(self.region, caller, old, new, idempotency_key=None)
            )

    @rule(name=users, key=keys)
    def delete_account(self, name: str, key: str | None) -> None:
        self.attempt(
            accounts.delete_account(
                self.region, self.caller(name), "password1", idempotency_key=key
            )
        )

    @rule(name=users, clip=st.integers(0, len(CLIPS) - 1), key=keys)
    def upload(self, name: str, clip: int, key: str | None) -> None:
        path = CLIPS[clip]
        written = self.attempt(
            videos.upload_video(
                self.region,
                self.user(name),
                path,
                path.stat().st_size,
                "c",
                media=self.region.media,
                idempotency_key=key,
            )
        )
        if written is not None:
            assert isinstance(written.event.data, VideoUploaded)
            self.videos.append(written.event.data.video_id)
            self.owners[written.event.data.video_id] = written.event.data.owner_id

    @rule(
        pick=st.integers(0, 5),
        rung=st.sampled_from([64, 360]),
        outcome=st.sampled_from(["plan", "ready", "failed"]),
        copy=st.sampled_from(["a", "b"]),
    )
    def rendition(self, pick: int, rung: int, outcome: str, copy: str) -> None:
        """A video's ladder planned, or a rung made (twice, by two workers:
        ``copy``) or failed, in any order (ADR 028)."""
        if not self.videos:
            return
        video_id = self.videos[pick % len(self.videos)]
        owner = self.owners[video_id]
        if outcome == "plan":
            work: Awaitable[Any] = renditions.plan_renditions(
                self.region, video_id=video_id, owner_id=owner, width=64, height=64, at=1000
            )
        elif outcome == "ready":
            blob = hashlib.sha256(f"{video_id}{rung}{copy}".encode()).hexdigest()
            payload = RenditionReady(
                video_id=video_id, rung=rung, width=rung, height=rung, playlist=blob,
                init=blob, segments=(blob,), poster=blob, bandwidth=1000,
                average_bandwidth=900, codecs="avc1.64000a",
            )  # fmt: skip
            work = renditions.rendition_ready(self.region, owner, payload)
        else:
            failed = RenditionFailed(video_id=video_id, rung=rung, reason="corrupt_stream")
            work = renditions.rendition_failed(self.region, owner, failed)
        self.attempt(work)

    @rule(name=users, pick=st.integers(0, 5))
    def delete_video(self, name: str, pick: int) -> None:
        if self.videos:
            video_id = self.videos[pick % len(self.videos)]
            self.attempt(
                videos.delete_video(self.region, self.user(name), video_id, idempotency_key=None)
            )

    @rule(
        name=users,
        batch=st.lists(
            st.tuples(
                st.sampled_from(INTERACTIONS),
                st.integers(0, 5),
                st.integers(0, 5000),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
        key=keys,
    )
    def interact(self, name: str, batch: list[tuple[str, int, int, bool]], key: str | None) -> None:
        if not self.videos:
            return
        raw = [
            {
                "type": t,
                "video_id": self.videos[i % len(self.videos)],
                "watched_ms": ms,
                "completed": done,
            }
            for t, i, ms, done in batch
        ]
        self.attempt(
            social.record_interactions(self.region, self.user(name), raw, idempotency_key=key)
        )

    @rule(name=users, pick=st.integers(0, 5), text=st.text(max_size=8))
    def comment(self, name: str, pick: int, text: str) -> None:
        if self.videos:
            video_id = self.videos[pick % len(self.videos)]
            written = self.attempt(
                social.post_comment(
                    self.region, self.user(name), video_id, text, idempotency_key=None
                )
            )
            if written is not None:
                assert isinstance(written.event.data, CommentPosted)
                self.comments.append((name, written.event.data.comment_id))

    @rule(name=users, pick=st.integers(0, 5))
    def delete_comment(self, name: str, pick: int) -> None:
        if self.comments:
            _, comment_id = self.comments[pick % len(self.comments)]
            self.attempt(
                social.delete_comment(
                    self.region, self.user(name), comment_id, idempotency_key=None
                )
            )

    @rule(name=users, other=users, stop=st.booleans())
    def follow(self, name: str, other: str, stop: bool) -> None:
        action = social.unfollow if stop else social.follow
        self.attempt(action(self.region, self.user(name), other, idempotency_key=None))

    @rule(name=users, other=users, stop=st.booleans(), key=keys)
    def block(self, name: str, other: str, stop: bool, key: str | None) -> None:
        action = safety.unblock if stop else safety.block
        self.attempt(action(self.region, self.user(name), other, idempotency_key=key))

    @rule(
        name=users,
        pick=st.integers(0, 5),
        kind=st.sampled_from(["video", "comment", "account"]),
        reason=st.sampled_from(["spam", "other", "boredom"]),
    )
    def report(self, name: str, pick: int, kind: str, reason: str) -> None:
        found = self.videos if kind == "video" else [c for _, c in self.comments]
        target_id = found[pick % len(found)] if found else "x_none"
        self.attempt(safety.file_report(self.region, self.user(name), kind, target_id, reason, "n"))

    @rule(name=users, key=keys)
    def reset_for_you(self, name: str, key: str | None) -> None:
        self.attempt(social.reset_for_you(self.region, self.user(name), idempotency_key=key))

    @rule(name=users, other=users, text=st.text(max_size=8), key=keys)
    def message(self, name: str, other: str, text: str, key: str | None) -> None:
        self.attempt(
            social.send_message(self.region, self.user(name), other, text, idempotency_key=key)
        )

    @rule(name=users, enrolled=st.booleans(), key=keys)
    def enroll(self, name: str, enrolled: bool, key: str | None) -> None:
        self.attempt(
            ledger.set_enrollment(self.region, self.user(name), enrolled, idempotency_key=key)
        )

    @rule(name=users, zone=st.sampled_from(["UTC", "Asia/Tokyo", "Mars/Olympus"]), key=keys)
    def set_time_zone(self, name: str, zone: str, key: str | None) -> None:
        self.attempt(ledger.set_time_zone(self.region, self.user(name), zone, idempotency_key=key))

    @rule(name=users)
    def make_operator(self, name: str) -> None:
        self.attempt(roles.grant_role(self.region, name))

    @rule(
        name=users,
        other=users,
        amount=st.sampled_from([-3, 0, 7]),
        reason=st.sampled_from(["", "a fix"]),
        key=keys,
    )
    def adjust(self, name: str, other: str, amount: int, reason: str, key: str | None) -> None:
        self.attempt(
            ledger.adjust_balance(
                self.region, self.user(name), self.user(other), amount, reason, idempotency_key=key
            )
        )

    @rule(name=users, other=users, amount=st.sampled_from([0, 2, 5]), key=keys)
    def pay_out(self, name: str, other: str, amount: int, key: str | None) -> None:
        rates = rates_of(self.region.settings)
        self.attempt(
            ledger.pay_out(
                self.region,
                self.user(name),
                self.user(other),
                amount,
                "wire",
                rates,
                2**41,
                idempotency_key=key,
            )
        )

    @rule(
        name=users,
        rate=st.sampled_from([-1, 0, 700_000]),
        ahead=st.sampled_from([-60_000, 0, 3_600_000]),
        reason=st.sampled_from(["", "new year"]),
        key=keys,
    )
    def set_rate(self, name: str, rate: int, ahead: int, reason: str, key: str | None) -> None:
        self.attempt(
            ledger.set_rate(
                self.region,
                self.user(name),
                rate,
                int(time.time() * 1000) + ahead,
                reason,
                idempotency_key=key,
            )
        )

    def entries(self) -> list[Entry]:
        return self.run(self.region.log.read(0, 0, 10**6))

    def store(self, name: str, partitions: int = 1) -> ViewStore:
        engine = Engine(partitions=partitions)
        store = ViewStore(
            self.folder / name, all_views(), partitions=partitions, followers=[engine]
        )
        self.opened.append(store)
        return store

    def check_tails(self, spread: ViewStore, feeds: list[list[Pick]], rng: random.Random) -> None:
        """What the keys view returns as applied past a position is exactly
        its rows past it, in partition and sequence order, whatever the
        chunks it reads; an engine fed from it from zero ranks as the one
        that followed the views."""
        db = spread.reader()
        target = spread.position(db)
        rows = db.execute("SELECT partition, seq, key FROM keys").fetchall()
        for _ in range(3):
            after = tuple(rng.randint(0, top) for top in target)
            wanted = sorted((p, s, k) for p, s, k in rows if after[p] < s <= target[p])
            for chunk in (1, 3, 20_000):
                tail = applied_after(db, after, target, chunk=chunk)
                assert [(e.partition, e.seq, e.key) for e in tail] == wanted
        fed = Engine(partitions=len(target))
        fed.apply(applied_after(db, (0,) * len(target), target), target)
        assert self.feeds(fed) == feeds, "the keys view's record gave other feeds"

    def feeds(self, engine: Engine) -> list[list[Pick]]:
        now = max((e.event.at for e in self.entries()), default=0) + 1
        return [rank(engine, self.user(n), limit=4, now=now) for n in NAMES]

    def teardown(self) -> None:
        try:
            self.run(self.region.projector.catch_up())
            incremental = self.region.store.digests()
            entries = self.entries()

            assert "foryou" in incremental["views"]
            feeds = self.feeds(self.region.engine)
            for name in NAMES:  # the engine and the follows view agree on blocks
                user_id = self.user(name)
                listed = self.region.store.read_now(lambda db: follows.followees(db, user_id))  # noqa: B023
                assert set(listed) == self.region.engine.followees(user_id)

            rebuilt = self.store("rebuilt.sqlite")
            rebuilt.apply(entries)
            assert rebuilt.digests() == incremental, "rebuilt from 0 differs"

            one_by_one = self.store("one-by-one.sqlite")
            for entry in entries:
                one_by_one.apply([entry])
            assert one_by_one.digests() == incremental, "batching changed the result"

            for seed in range(3):
                spread = self.store(f"spread{seed}.sqlite", partitions=3)
                for batch in interleavings(entries, random.Random(seed)):
                    spread.apply(batch)
                assert spread.digests()["views"] == incremental["views"], "order mattered"
                engine = spread.followers[0]
                assert isinstance(engine, Engine)
                assert self.feeds(engine) == feeds, "the same log gave other feeds"
                self.check_tails(spread, feeds, random.Random(seed))

            for entry in entries:  # re-delivery of every entry is a no-op
                self.region.store.apply([entry])
            self.region.store.apply(entries)
            assert self.region.store.digests() == incremental, "re-delivery changed state"
        finally:
            for store in self.opened:
                store.close()
            self.run(self.region.close())
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)


ViewsMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestViews = ViewsMachine.TestCase
