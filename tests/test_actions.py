"""A write is a pure function of its key and request: the same write sent to
two regions (a retry after the first died) produces the very same event."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormproof.actions import WriteTime, Written, accounts, social, videos
from stormproof.events import encode
from stormproof.region import Region
from stormproof.views import accounts as accounts_view
from tests.conftest import make_settings, sign_up


@pytest.fixture
async def two_regions(tmp_path: Path) -> AsyncIterator[tuple[Region, Region]]:
    regions = []
    for name in ("east", "west"):
        # One cluster, one secret: password salts derive from it (ADR 011).
        region = Region.open(make_settings(tmp_path / name, secret_file=tmp_path / "secret"))
        await region.start()
        await region.caught_up()
        regions.append(region)
    yield regions[0], regions[1]
    for region in regions:
        await region.close()


async def test_the_same_write_in_two_regions_is_the_same_event(
    two_regions: tuple[Region, Region], video_file: Path
) -> None:
    east, west = two_regions
    # The SDK sends the same Stormproof-Write-At on every retry, wherever it lands.
    when = WriteTime(at=int(time.time() * 1000))
    results: list[list[Written[Any]]] = []
    for region in (east, west):
        made = [
            await accounts.sign_up(region, "ann", "password1", idempotency_key="k1", when=when),
            await accounts.sign_up(region, "bob", "password1", idempotency_key="k1", when=when),
        ]
        ann = made[0].payload.user_id
        made.append(
            await accounts.log_in(region, "ann", "password1", idempotency_key="k2", when=when)
        )
        made.append(
            await videos.upload_video(
                region,
                ann,
                video_file,
                video_file.stat().st_size,
                "hi",
                media=region.media,
                idempotency_key="k3",
                when=when,
            )
        )
        video_id = made[-1].payload.video_id
        made.append(
            await social.post_comment(
                region, ann, video_id, "nice", idempotency_key="k4", when=when
            )
        )
        made.append(
            await social.send_message(region, ann, "bob", "yo", idempotency_key="k5", when=when)
        )
        results.append(made)
    for in_east, in_west in zip(*results, strict=True):
        assert encode(in_east.event) == encode(in_west.event)


async def test_a_system_account_gets_a_system_id(two_regions: tuple[Region, Region]) -> None:
    east, _ = two_regions
    made = await accounts.sign_up(east, "probe", "password1", idempotency_key=None, system=True)
    assert made.payload.system and made.payload.user_id.startswith("sys_")
    person = await accounts.sign_up(east, "ann", "password1", idempotency_key=None)
    assert not person.payload.system and person.payload.user_id.startswith("u_")
    found = await east.store.query(lambda db: accounts_view.account_by_name(db, "probe"))
    assert found is not None and found.system


def test_write_at_header_sets_the_event_time(client: httpx.Client) -> None:
    auth = sign_up(client, "ann")
    sign_up(client, "bob")
    stamp = int(time.time() * 1000) - 5000
    sent = client.post(
        "/v1/messages",
        json={"to": "bob", "text": "hi"},
        headers={**auth, "Stormproof-Write-At": str(stamp)},
    )
    assert sent.status_code == 201
    assert sent.headers["Stormproof-At"] == str(stamp)
    assert sent.json()["at"] == stamp
    later = client.post(
        "/v1/messages",
        json={"to": "bob", "text": "after"},
        headers={**auth, "Stormproof-After": str(stamp + 10_000)},
    )
    assert int(later.headers["Stormproof-At"]) > stamp + 10_000


def test_a_write_time_far_from_the_server_clock_is_422(client: httpx.Client) -> None:
    auth = sign_up(client, "ann")
    sign_up(client, "bob")
    future = int(time.time() * 1000) + 3_600_000
    response = client.post(
        "/v1/messages",
        json={"to": "bob", "text": "hi"},
        headers={**auth, "Stormproof-Write-At": str(future)},
    )
    assert (response.status_code, response.json()["code"]) == (422, "clock_skew")
