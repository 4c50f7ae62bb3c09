"""The platform's own writes: system accounts and probe rounds, each one
write however often it is retried, and checked before it reaches the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormproof.actions.system import create_system_account, probes_key, record_probes
from stormproof.errors import Conflict, Unprocessable
from stormproof.events import ProbeResult, ProbesRecorded
from stormproof.log import to_token
from stormproof.region import Region
from stormproof.views import accounts
from tests.conftest import make_settings


@pytest.fixture
async def region(tmp_path: Path) -> AsyncIterator[Region]:
    region = Region.open(make_settings(tmp_path / "region"))
    await region.start()
    await region.caught_up()
    yield region
    await region.close()


def _round(round_at: int, *, ok: bool = True, prober: str = "test") -> ProbesRecorded:
    result = ProbeResult(region="test", component="for_you", ok=ok, latency_ms=12)
    return ProbesRecorded(prober=prober, round_at=round_at, period_ms=10_000, results=(result,))


async def test_a_system_account_is_created_once_flagged_as_the_platforms(region: Region) -> None:
    first = await create_system_account(region, "probe.test", "a long derived password")
    again = await create_system_account(region, "probe.test", "a long derived password")
    assert first.payload.system and again.replayed
    assert again.seq == first.seq and again.payload == first.payload
    found = await region.store.query(lambda db: accounts.account_by_name(db, "probe.test"))
    assert found is not None and found.user_id == first.payload.user_id


async def test_only_reserved_names_can_be_system_accounts(region: Region) -> None:
    with pytest.raises(Unprocessable):
        await create_system_account(region, "alice", "a long derived password")
    assert await region.log.last_seqs() == [0]


async def test_a_person_holding_a_reserved_name_keeps_it(region: Region) -> None:
    # Guards: a name signed up before it was reserved is never taken over.
    from stormproof.actions import write
    from stormproof.events import AccountCreated

    person = AccountCreated(user_id="u_early", username="probe.early", password_hash="x")
    await write(region, "early-signup", person, actor="")
    with pytest.raises(Conflict):
        await create_system_account(region, "probe.early", "a long derived password")


async def test_a_retried_round_is_one_event_the_first(region: Region) -> None:
    first = await record_probes(region, _round(1_764_000_000_000), actor="u_probe")
    retried = await record_probes(region, _round(1_764_000_000_000, ok=False), actor="u_probe")
    assert retried.replayed and retried.seq == first.seq
    assert retried.payload == first.payload  # the first answer, not the retry's
    assert await region.log.last_seqs() == [1]
    (entry,) = await region.log.read(0, 0)
    assert entry.key == probes_key("test", 1_764_000_000_000) == "probes:test:1764000000000"
    assert entry.event.actor == "u_probe" and entry.event.data == first.payload
    assert to_token(0, entry.seq, 1) == first.seq


@pytest.mark.parametrize(
    ("payload", "code"), [(_round(1_764_000_000_000, prober="elsewhere"), "not_this_prober")]
)
async def test_a_round_no_status_view_could_hold_is_refused(
    region: Region, payload: ProbesRecorded, code: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        await record_probes(region, payload, actor="u_probe")
    assert refused.value.code == code
    assert await region.log.last_seqs() == [0]


async def test_a_round_built_around_validation_is_checked_again(region: Region) -> None:
    # Guards: a payload made without validation (model_construct) never
    # reaches the log with a field out of bounds.
    from pydantic import ValidationError

    bad = ProbeResult.model_construct(region="test", component="for_you", ok=True, latency_ms=-5)
    good = ProbeResult(region="test", component="for_you", ok=True, latency_ms=5)
    for results, round_at in [((bad,), 1_764_000_000_000), ((good, good), 1_764_000_000_000),
                              ((good,), 1_764_000_000_001)]:  # fmt: skip
        payload = ProbesRecorded.model_construct(
            prober="test", round_at=round_at, period_ms=10_000, results=results,
            regions=(), requests=(), active_people=0,
        )  # fmt: skip
        with pytest.raises(ValidationError):
            await record_probes(region, payload, actor="u_probe")
    assert await region.log.last_seqs() == [0]
