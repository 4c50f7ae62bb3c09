"""The projector: catching up with the log, then following it as it grows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stormproof.events import FollowStarted, new_event
from stormproof.log import Entry
from stormproof.log.sqlite import SqliteLog
from stormproof.logs import fields_of
from stormproof.views import all_views
from stormproof.views.projector import Projector
from stormproof.views.store import ViewStore


async def test_catch_up_then_follow_and_wait_for_a_sequence(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.sqlite", poll_interval=0.05)
    store = ViewStore(tmp_path / "views.sqlite", all_views())
    for n in range(3):
        await log.append(f"k{n}", new_event(FollowStarted(followee_id=f"u{n}"), actor="fan"))
    projector = Projector(log, store, batch=2)  # more than one batch to catch up
    assert await projector.catch_up() == (3,) == store.position()

    task = asyncio.create_task(projector.run(idle_wait=0.05))
    try:
        assert not await projector.wait_for(0, 4, timeout=0.05)  # not written yet
        entry = await log.append("k3", new_event(FollowStarted(followee_id="u3"), actor="fan"))
        assert await projector.wait_for(0, entry.seq, timeout=10)
        assert projector.position == (4,) == store.position()
        assert projector.error is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await log.close()
        store.close()


class Recording:
    """A follower that records the batches it gets, slowly, or fails on one."""

    name = "recording"

    def __init__(self, fail_at: int | None = None) -> None:
        self.batches: list[tuple[list[int], tuple[int, ...]]] = []
        self.fail_at = fail_at

    def apply(self, entries: list[Entry], position: tuple[int, ...]) -> None:
        time.sleep(0.01)  # slow: nothing may run ahead of it
        if self.fail_at is not None and position[0] >= self.fail_at:
            raise RuntimeError("the follower failed")
        self.batches.append(([e.seq for e in entries], position))

    def digest(self) -> str:
        return ""


async def test_followers_get_every_catch_up_batch_in_order_before_it_returns(
    tmp_path: Path,
) -> None:
    log = SqliteLog(tmp_path / "log.sqlite")
    for n in range(7):
        await log.append(f"k{n}", new_event(FollowStarted(followee_id=f"u{n}"), actor="fan"))
    follower = Recording()
    store = ViewStore(tmp_path / "views.sqlite", all_views(), followers=[follower])
    try:
        assert await Projector(log, store, catch_up_batch=2).catch_up() == (7,)
        # All applied on return, in order, each batch with the position it reached.
        assert follower.batches == [([1, 2], (2,)), ([3, 4], (4,)), ([5, 6], (6,)), ([7], (7,))]
        # What a follower raises while catching up is not lost.
        failing = ViewStore(tmp_path / "other.sqlite", all_views(), followers=[Recording(3)])
        with pytest.raises(RuntimeError, match="the follower failed"):
            await Projector(log, failing, catch_up_batch=2).catch_up()
        failing.close()
    finally:
        await log.close()
        store.close()


class Attempted(Recording):
    """A :class:`Recording` that counts every batch it was given, failed or not."""

    attempts = 0

    def apply(self, entries: list[Entry], position: tuple[int, ...]) -> None:
        self.attempts += 1
        super().apply(entries, position)


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(2000):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_views_that_stop_and_follow_again_say_so_once_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.events")
    log = SqliteLog(tmp_path / "log.sqlite", poll_interval=0.05)
    follower = Attempted(fail_at=1)
    store = ViewStore(tmp_path / "views.sqlite", all_views(), followers=[follower])
    projector = Projector(log, store)
    task = asyncio.create_task(projector.run(idle_wait=0.05))
    try:
        await log.append("k0", new_event(FollowStarted(followee_id="u0"), actor="fan"))
        await _until(lambda: follower.attempts >= 3)  # it fails, and goes on trying
        follower.fail_at = None
        await _until(lambda: projector.error is None)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await log.close()
        store.close()
    said = [(r.getMessage(), fields_of(r)) for r in caplog.records]
    assert [message for message, _ in said] == ["views.stopped", "views.following"]
    stopped, following = (fields for _, fields in said)
    assert stopped["code"] == "view_failed" and "the follower failed" in stopped["reason"]
    assert (stopped["partition"], following["partition"], following["seq"]) == (0, 0, 1)
