"""The SDK against real servers: failover, 4xx, read-your-writes via min_seq.

Failover under real region kills is tested with the cluster in
tests/test_cluster.py; here each region is a separate single-region server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stormproof.client import Client, RegionsUnavailable, RequestFailed
from stormproof.testing import LiveServer, free_port
from tests.conftest import PASSWORD, make_settings


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    a = LiveServer(make_settings(tmp_path / "a", min_seq_wait_s=0.2)).start()
    b = LiveServer(make_settings(tmp_path / "b", min_seq_wait_s=0.2)).start()
    yield a, b
    a.stop()
    b.stop()


async def test_fails_over_from_a_dead_address(two: tuple[LiveServer, LiveServer]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with Client([dead, two[0].url], attempt_timeout=1, deadline=5) as client:
        created = await client.sign_up("ann", PASSWORD)
        assert created["username"] == "ann"
        assert client.region == two[0].url


async def test_a_4xx_is_raised_not_retried(two: tuple[LiveServer, LiveServer]) -> None:
    async with Client([two[0].url, two[1].url]) as client:
        await client.sign_up("ann", PASSWORD)
        with pytest.raises(RequestFailed) as caught:
            await client.sign_up("ann", PASSWORD)
        assert (caught.value.status, caught.value.code) == (409, "username_taken")
        assert client.region == two[0].url


async def test_reads_skip_a_region_that_has_not_applied_your_writes(
    two: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two
    async with Client([a.url, b.url], deadline=5) as client:
        await client.sign_up("ann", PASSWORD)
        await client.log_in("ann", PASSWORD)
        assert client.region == a.url
        client._preferred = 1  # pretend b became the closest region
        # b never saw ann's writes: it answers 503 stale_view, a answers.
        profile = await client.get("/v1/accounts/ann")
        assert profile.json()["username"] == "ann"
        assert client.region == a.url


async def test_gives_up_after_the_deadline() -> None:
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    async with Client(dead, attempt_timeout=0.2, deadline=0.5) as client:
        with pytest.raises(RegionsUnavailable):
            await client.get("/v1/health")


async def test_writes_carry_the_same_key_and_time_on_retry(
    two: tuple[LiveServer, LiveServer],
) -> None:
    async with Client([two[0].url]) as client:
        await client.sign_up("ann", PASSWORD)
        await client.sign_up("bob", PASSWORD)
        await client.log_in("ann", PASSWORD)
        first = await client.post(
            "/v1/messages", json={"to": "bob", "text": "hi"}, idempotency_key="m1"
        )
        again = await client.post(
            "/v1/messages", json={"to": "bob", "text": "hi"}, idempotency_key="m1"
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert first.json()["id"] == again.json()["id"]
        later = await client.post("/v1/messages", json={"to": "bob", "text": "later"})
        assert int(later.headers["Stormproof-At"]) > int(first.headers["Stormproof-At"])
