"""The webhooks' parts that need no receiver: secrets made, checked and
sealed; the backoff; and which region delivers, read from a real region's
status view as the probers' rounds arrive (ADR 024)."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from stormproof.errors import Unprocessable
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.status.page import read_page
from stormproof.status.webhooks.deliverer import cluster_order, owner
from stormproof.status.webhooks.sealing import (
    SealBroken,
    check_secret,
    derived_secret,
    new_secret,
    seal,
    unseal,
)
from stormproof.status.webhooks.sending import backoff
from tests.conftest import make_settings
from tests.status.probes import REGIONS, probes
from tests.status.test_judge import append

CLUSTER = b"c" * 32


def test_a_sealed_secret_opens_only_with_its_cluster_secret_and_subscription() -> None:
    secret = new_secret()
    sealed = seal(CLUSTER, "whk_1", secret)
    assert unseal(CLUSTER, "whk_1", sealed) == secret
    raw = base64.b64decode(secret[len("whsec_") :])
    assert secret not in sealed and base64.urlsafe_b64encode(raw).decode()[:8] not in sealed
    # The same secret seals the same (two regions taking one request write one
    # event); another secret gets another nonce, so a pad is never used twice.
    assert seal(CLUSTER, "whk_1", secret) == sealed
    other = seal(CLUSTER, "whk_1", new_secret())
    assert other.split(".")[1] != sealed.split(".")[1]
    made = derived_secret(CLUSTER, "whk_1")
    assert made == derived_secret(CLUSTER, "whk_1") != derived_secret(CLUSTER, "whk_2")
    assert made != derived_secret(b"d" * 32, "whk_1") and check_secret(made)
    version, nonce, body, tag = sealed.split(".")
    flipped = ("A" if body[0] != "A" else "B") + body[1:]  # the first: all its bits count
    for cluster, webhook_id, text in [
        (b"d" * 32, "whk_1", sealed),  # another cluster's secret
        (CLUSTER, "whk_2", sealed),  # moved to another subscription
        (CLUSTER, "whk_1", f"{version}.{nonce}.{flipped}.{tag}"),  # altered
        (CLUSTER, "whk_1", "v1.nonsense"),
    ]:
        with pytest.raises(SealBroken):
            unseal(cluster, webhook_id, text)


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", "whsec_!!", "secret_" + "A" * 40, "whsec_" + "A" * 31 + "=",
     "whsec_" + base64.b64encode(b"x" * 23).decode(),
     "whsec_" + base64.b64encode(b"x" * 65).decode(), "whsec_" + "A" * 10_000],
)  # fmt: skip
def test_a_secret_is_whsec_and_24_to_64_bytes_of_base64(secret: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_secret(secret)
    assert refused.value.code == "invalid_secret"
    for size in (24, 64):
        assert len(check_secret("whsec_" + base64.b64encode(b"y" * size).decode())) == size


def test_the_backoff_doubles_is_jittered_and_stops_growing() -> None:
    rng = random.Random(1)
    waits = [[backoff(n, base_s=2, max_s=60, rng=rng) for n in range(1, 8)] for _ in range(50)]
    for n, ceiling in enumerate([2, 4, 8, 16, 32, 60, 60]):
        seen = [w[n] for w in waits]
        assert all(ceiling / 2 <= s <= ceiling for s in seen)
        assert len(set(seen)) > 1  # jittered


def test_the_cluster_order_puts_this_region_at_its_index() -> None:
    settings = Settings(region="east", region_index=1, peer_names=("west", "north"))
    assert cluster_order(settings) == ["west", "east", "north"]
    assert cluster_order(Settings(region="solo")) == ["solo"]


async def test_the_first_region_not_judged_down_delivers(tmp_path: Path) -> None:
    """West is first in the cluster's order; once the flap guard says it is
    down (three rounds with the others' checks of it failing), east is; when
    every region is down, nobody is first and each delivers itself."""
    settings = make_settings(
        tmp_path / "region", region="east", region_index=1, peer_names=("west", "north")
    )
    order = cluster_order(settings)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()

    async def first() -> str | None:
        page = await region.store.query(lambda db: read_page(db, fail_rounds=3, pass_rounds=2))
        return owner(order, page)

    try:
        assert await first() == "west"  # no status yet: the cluster's order
        for n in range(3):
            for prober in ("east", "north"):
                await append(region, probes(prober, n, failing={"west"}))
            assert await first() == ("east" if n == 2 else "west")
        for n in range(3, 6):
            for prober in REGIONS:
                await append(region, probes(prober, n, failing=set(REGIONS)))
        assert await first() is None
    finally:
        await region.close()
