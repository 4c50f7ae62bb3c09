"""Payouts racing for one balance (issue 15; ADR 031, amendment): two
payouts checked against the same balance claim the same slot, the log keeps
one, the other is 409 ``payout_conflict`` and stores nothing — in one region
and across two regions of a real JetStream cluster — and the ledger's
invariant still holds."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormproof.actions import accounts, roles
from stormproof.actions.ledger import adjust_balance, commit_payout, pay_out, plan_payout
from stormproof.clock import now_ms
from stormproof.creators.ledger import Rates, balance, statement, this_month, zone_of
from stormproof.creators.sla import DEFAULT_TIERS
from stormproof.errors import Conflict, Unprocessable
from stormproof.events import PayoutSent
from stormproof.natsd import NatsCluster
from stormproof.region import Region
from tests.conftest import make_settings

RATES = Rates(rate_micros=1000, qualified_ms=5000, currency="USD", tiers=DEFAULT_TIERS)
NOW = 1_790_000_000_000


async def _people(region: Region) -> tuple[str, str]:
    """(operator, creator) ids, the creator holding 1,000."""
    olga = await accounts.sign_up(region, "olga", "password1", idempotency_key="o")
    ann = await accounts.sign_up(region, "ann", "password1", idempotency_key="a")
    await roles.grant_role(region, "olga")
    operator, creator = olga.payload.user_id, ann.payload.user_id
    await adjust_balance(region, operator, creator, 1000, "opening", idempotency_key="adj")
    return operator, creator


async def _balance(region: Region, creator: str) -> int:
    return await region.store.query(lambda db: balance(db, creator, RATES, NOW))


async def _payouts(region: Region) -> list[PayoutSent]:
    found = []
    for p in range(region.log.partitions):
        for entry in await region.log.read(p, 0, 10**6):
            if isinstance(entry.event.data, PayoutSent):
                found.append(entry.event.data)
    return found


async def _invariant(region: Region, creator: str) -> int:
    """The balance, checked equal to the closing balance of this month's
    statement (every entry here is of this month)."""
    held = await _balance(region, creator)

    def closing(db: sqlite3.Connection) -> int:
        now = now_ms()
        period = this_month(now, zone_of(db, creator))
        return statement(db, creator, period, RATES, now).closing_balance_micros

    assert await region.store.query(closing) == held
    return held


@pytest.fixture
async def region(tmp_path: Path) -> AsyncIterator[Region]:
    region = Region.open(make_settings(tmp_path / "region"))
    await region.start()
    await region.caught_up()
    yield region
    await region.close()


async def test_two_payouts_checked_against_one_balance_write_one(region: Region) -> None:
    # Guards the overdraw: both are checked before either is appended.
    operator, creator = await _people(region)
    first = await plan_payout(region, operator, creator, 700, "wire 1", RATES, NOW,
                              idempotency_key="p1")  # fmt: skip
    second = await plan_payout(region, operator, creator, 600, "wire 2", RATES, NOW,
                               idempotency_key="p2")  # fmt: skip
    assert first.key == second.key  # one slot, one key
    written = await commit_payout(region, operator, first)
    before = await region.log.last_seqs()
    with pytest.raises(Conflict) as lost:
        await commit_payout(region, operator, second)
    assert lost.value.code == "payout_conflict"
    assert await region.log.last_seqs() == before  # nothing stored
    assert [p.amount_micros for p in await _payouts(region)] == [700]
    assert await _invariant(region, creator) == 300

    # the winner's retry answers as the first time; the loser's retry is a new
    # attempt, against the balance as it is now
    again = await pay_out(region, operator, creator, 700, "wire 1", RATES, NOW,
                          idempotency_key="p1")  # fmt: skip
    assert again.replayed and again.payload == written.payload
    with pytest.raises(Unprocessable) as reused:
        await pay_out(region, operator, creator, 701, "wire 1", RATES, NOW, idempotency_key="p1")
    assert reused.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict) as short:
        await pay_out(region, operator, creator, 600, "wire 2", RATES, NOW, idempotency_key="p2")
    assert short.value.code == "insufficient_balance"
    paid = await pay_out(region, operator, creator, 300, "wire 3", RATES, NOW,
                         idempotency_key="p3")  # fmt: skip
    assert paid.payload.slot == 1 and not paid.replayed
    assert await _invariant(region, creator) == 0


async def test_payouts_posted_at_once_never_sum_above_the_balance(region: Region) -> None:
    operator, creator = await _people(region)
    tries = [
        pay_out(region, operator, creator, 400, f"wire {n}", RATES, NOW, idempotency_key=f"k{n}")
        for n in range(4)
    ]
    answers = await asyncio.gather(*tries, return_exceptions=True)
    refused = [a for a in answers if isinstance(a, BaseException)]
    assert all(isinstance(a, Conflict) for a in refused), refused
    assert {a.code for a in refused if isinstance(a, Conflict)} <= {
        "payout_conflict",
        "insufficient_balance",
    }
    paid = sum(p.amount_micros for p in await _payouts(region))
    assert 0 < paid <= 1000
    assert paid == 400 * (len(answers) - len(refused))
    assert await _invariant(region, creator) == 1000 - paid >= 0


async def test_payouts_in_two_regions_at_once_write_one(
    own_cluster: NatsCluster, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("ab" * 32)
    regions = [
        Region.open(
            make_settings(
                tmp_path / f"r{i}",
                region=f"r{i}",
                region_index=i,
                log_backend="jetstream",
                nats_urls=tuple(own_cluster.urls),
                secret_file=secret,
            )
        )
        for i in range(2)
    ]
    try:
        for region in regions:
            await region.start()
            await region.caught_up()
        one, two = regions
        operator, creator = await _people(one)
        heads = await two.log.last_seqs()
        for p, seq in enumerate(heads):
            assert await two.projector.wait_for(p, seq, 30)
        # each region checks the balance in its own views, then both append
        plans = [
            await plan_payout(
                r,
                operator,
                creator,
                amount,
                f"wire {amount}",
                RATES,
                NOW,
                idempotency_key=f"k{amount}",
            )
            for r, amount in ((one, 700), (two, 600))
        ]
        assert plans[0].key == plans[1].key
        answers = await asyncio.gather(
            *(commit_payout(r, operator, plan) for r, plan in zip(regions, plans, strict=True)),
            return_exceptions=True,
        )
        (lost,) = [a for a in answers if isinstance(a, BaseException)]
        assert isinstance(lost, Conflict) and lost.code == "payout_conflict"
        (paid,) = await _payouts(one)
        heads = await one.log.last_seqs()
        for region in regions:
            for p, seq in enumerate(heads):
                assert await region.projector.wait_for(p, seq, 30)
            assert await _invariant(region, creator) == 1000 - paid.amount_micros
        digests = [r.store.digests()["views"]["ledger"] for r in regions]
        assert digests[0] == digests[1]
    finally:
        for region in regions:
            await region.close()
