"""The job queue contract, run on the in-memory queue and on a real JetStream cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from stormproof.media.jobs import Job, JobQueue, LocalQueue
from stormproof.media.jsqueue import JetStreamQueue
from stormproof.natsd import NatsCluster
from tests.natsd_fixtures import running_cluster, unique_prefix

#: how long a job taken and left unsettled stays with its worker, seconds
ACK_WAIT = 1.5

MakeQueue = Callable[..., JobQueue]


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    yield from running_cluster(tmp_path_factory.mktemp("nats"))


@pytest.fixture(params=["local", "jetstream"])
def make_queue(request: pytest.FixtureRequest) -> MakeQueue:
    def make(local: int = 0, prefix: str = "") -> JobQueue:
        if request.param == "local":
            return LocalQueue()
        cluster: NatsCluster = request.getfixturevalue("nats")
        return JetStreamQueue(cluster.urls, local, prefix=prefix, ack_wait=ACK_WAIT)

    return make


def test_a_job_submitted_twice_is_handed_out_once(make_queue: MakeQueue) -> None:
    async def run() -> None:
        queue = make_queue(prefix=unique_prefix("JOBS"))
        try:
            await queue.start()
            await queue.submit(Job("v_1", 360))
            await queue.submit(Job("v_1", 360))
            await queue.submit(Job("v_1", 720))
            taken = [await queue.take(2.0), await queue.take(2.0)]
            assert sorted(lease.job.rung for lease in taken if lease) == [360, 720]
            assert all(lease and lease.deliveries == 1 for lease in taken)
            for lease in taken:
                assert lease is not None
                await lease.done()
            assert await queue.take(1.0) is None
        finally:
            await queue.close()

    asyncio.run(run())


def test_a_job_given_back_is_handed_out_again_with_its_deliveries_counted(
    make_queue: MakeQueue,
) -> None:
    async def run() -> None:
        queue = make_queue(prefix=unique_prefix("JOBS"))
        try:
            await queue.start()
            await queue.submit(Job("v_2", 540))
            first = await queue.take(2.0)
            assert first is not None and first.deliveries == 1
            await first.retry()
            again = await queue.take(4.0)
            assert again is not None and again.job == Job("v_2", 540)
            assert again.deliveries == 2
            await again.done()
        finally:
            await queue.close()

    asyncio.run(run())


def test_a_job_whose_worker_vanished_goes_to_another_region(nats: NatsCluster) -> None:
    """The worker in region 0 takes a job and is never heard of again (its
    region lost power): after the ack wait, region 2's worker gets it."""

    async def run() -> None:
        prefix = unique_prefix("JOBS")
        lost = JetStreamQueue(nats.urls, 0, prefix=prefix, ack_wait=ACK_WAIT)
        other = JetStreamQueue(nats.urls, 2, prefix=prefix, ack_wait=ACK_WAIT)
        try:
            await lost.start()
            await other.start()
            await lost.submit(Job("v_3", 1080))
            held = await lost.take(2.0)
            assert held is not None
            await lost.close()  # gone, without a word
            assert await other.take(0.6) is None  # still held
            await asyncio.sleep(ACK_WAIT)
            moved = await other.take(3.0)
            assert moved is not None and moved.job == Job("v_3", 1080)
            assert moved.deliveries == 2
            await moved.done()
        finally:
            await lost.close()
            await other.close()

    asyncio.run(run())


def test_progress_keeps_a_long_job_with_its_worker(nats: NatsCluster) -> None:
    async def run() -> None:
        prefix = unique_prefix("JOBS")
        worker = JetStreamQueue(nats.urls, 0, prefix=prefix, ack_wait=ACK_WAIT)
        other = JetStreamQueue(nats.urls, 1, prefix=prefix, ack_wait=ACK_WAIT)
        try:
            await worker.start()
            await other.start()
            await worker.submit(Job("v_4", 360))
            held = await worker.take(2.0)
            assert held is not None
            for _ in range(4):  # twice the ack wait, reported in progress
                await asyncio.sleep(ACK_WAIT / 2)
                await held.progress()
            assert await other.take(0.6) is None
            await held.done()
        finally:
            await worker.close()
            await other.close()

    asyncio.run(run())


def test_the_ack_wait_of_the_last_region_to_start_is_the_one_in_force(nats: NatsCluster) -> None:
    """A cluster made with a long ack wait, restarted with a short one: a job
    whose worker vanished moves after the short wait, not the long."""

    async def run() -> None:
        prefix = unique_prefix("JOBS")
        first = JetStreamQueue(nats.urls, 0, prefix=prefix, ack_wait=600.0)
        try:
            await first.start()
        finally:
            await first.close()
        lost = JetStreamQueue(nats.urls, 0, prefix=prefix, ack_wait=ACK_WAIT)
        other = JetStreamQueue(nats.urls, 1, prefix=prefix, ack_wait=ACK_WAIT)
        try:
            await lost.start()
            await other.start()
            await lost.submit(Job("v_4", 360))
            assert await lost.take(2.0) is not None
            await lost.close()
            moved = await other.take(ACK_WAIT + 10.0)  # under the old wait, none for 600 s
            assert moved is not None and moved.job == Job("v_4", 360)
            await moved.done()
        finally:
            await lost.close()
            await other.close()

    asyncio.run(run())
