"""After JetStream's duplicate window has passed, a retried write is stored a
second time — and the views still apply it once, because they remember every
key they applied."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stormproof.events import FollowStarted, new_event
from stormproof.log.jetstream import JetStreamLog
from stormproof.natsd import NatsCluster
from stormproof.views import all_views
from stormproof.views.store import ViewStore


async def test_a_retry_after_the_duplicate_window_is_applied_once(
    nats_cluster: NatsCluster, tmp_path: Path
) -> None:
    log = JetStreamLog(nats_cluster.urls, 0, prefix="DUPWIN", duplicate_window=1.0)
    try:
        await log.start()
        event = new_event(FollowStarted(followee_id="u_bob"), actor="u_ann")
        first = await log.append("u_ann:follow:bob:k1", event)
        within = await log.append("u_ann:follow:bob:k1", event)
        assert within.duplicate and within.seq == first.seq
        await asyncio.sleep(1.5)
        after = await log.append("u_ann:follow:bob:k1", event)
        assert not after.duplicate and after.seq == first.seq + 1  # the log took it again

        store = ViewStore(tmp_path / "views.sqlite", all_views(), partitions=log.partitions)
        once = ViewStore(tmp_path / "once.sqlite", all_views(), partitions=log.partitions)
        entries = await log.read(0, 0)
        store.apply(entries)
        once.apply(entries[:1])
        assert store.digests()["views"] == once.digests()["views"]
        assert store.position()[0] == after.seq
        store.close()
        once.close()
    finally:
        await log.close()
