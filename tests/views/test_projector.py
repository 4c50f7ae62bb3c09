"""The projector: catching up with the log, then following it as it grows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stormproof.events import FollowStarted, new_event
from stormproof.log.sqlite import SqliteLog
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
