"""The judge's decisions, on a real region: probers' rounds are appended to
its log as other regions' would arrive, and the judge is asked to judge at
a given time — event time drives everything, no test sleeps (ADR 021).

West goes down when east's and north's checks of it fail (west, without
power, reports nothing): with the flap guard at 3, one or two failing rounds open
nothing, the third opens an incident; two passing rounds move it to
monitoring, and the quiet period resolves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from stormproof.actions import write
from stormproof.events import (
    IncidentOpened,
    IncidentUpdated,
    MaintenanceScheduled,
    ProbesRecorded,
    RegionSeen,
)
from stormproof.region import Region
from stormproof.status.judge import Judge
from stormproof.views import incidents
from tests.conftest import make_settings
from tests.status.probes import PERIOD, event, key, probes, round_at

PROBERS = ("east", "north", "west")


@asynccontextmanager
async def judging(tmp_path: Path, **values: Any) -> AsyncIterator[tuple[Region, Judge]]:
    settings = make_settings(
        tmp_path / "region",
        region="east",
        incident_update_every_s=values.pop("incident_update_every_s", 3600),
        **{"incident_quiet_s": 30, **values},
    )
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    try:
        yield region, Judge(region, lambda: "sys_east")
    finally:
        await region.close()


async def rounds(region: Region, first: int, last: int, *, west: str = "up") -> None:
    """Rounds ``first`` to ``last`` of every prober, applied: west ``up``,
    or ``down`` (the others' checks of it fail; it reports nothing)."""
    for n in range(first, last + 1):
        for prober in PROBERS:
            if west == "down" and prober == "west":
                continue
            failing = {"west"} if west == "down" else set()
            await append(region, probes(prober, n, failing=failing))


async def append(region: Region, p: ProbesRecorded) -> None:
    entry = await region.log.append(key(p), event(p))
    assert await region.projector.wait_for(entry.partition, entry.seq, 5)


async def tick(judge: Judge, n: int) -> list[Any]:
    """Judge half way through round ``n``."""
    return [w.payload for w in await judge.tick(round_at(n) + PERIOD // 2)]


async def shown(region: Region) -> list[incidents.Incident]:
    return await region.store.query(lambda db: incidents.incidents(db, limit=10))


def test_one_or_two_failing_rounds_open_nothing_the_third_opens_an_incident(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await rounds(region, 0, 3)
            assert await tick(judge, 3) == []
            await rounds(region, 4, 4, west="down")
            assert await tick(judge, 4) == []  # one failing round: degraded, no incident
            await rounds(region, 5, 5, west="down")
            assert await tick(judge, 5) == []
            await rounds(region, 6, 6, west="down")
            [opened] = await tick(judge, 6)
            assert isinstance(opened, IncidentOpened)
            assert opened.regions == ("west",)
            assert opened.components == ("sign_in", "for_you")
            assert opened.began_at == round_at(4) and opened.automatic
            assert opened.status == "investigating" and opened.impact == "major"
            assert opened.figures is not None
            assert (opened.figures.probes, opened.figures.probes_failed) == (12, 12)
            assert opened.figures.active_people == 7  # west's last round before
            assert "No ETA yet" in opened.text
            # Open now: it covers west, so judging again writes nothing.
            await rounds(region, 7, 7, west="down")
            assert await tick(judge, 7) == []
            [incident] = await shown(region)
            assert incident.incident_id == opened.incident_id and incident.open

    asyncio.run(run())


def test_passing_rounds_move_it_to_monitoring_and_the_quiet_period_resolves_it(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await rounds(region, 0, 2, west="down")
            [opened] = await tick(judge, 2)
            await rounds(region, 3, 3)
            assert await tick(judge, 3) == []  # one passing round does not clear the guard
            await rounds(region, 4, 4)
            [monitoring] = await tick(judge, 4)
            assert isinstance(monitoring, IncidentUpdated)
            assert monitoring.status == "monitoring"
            assert monitoring.incident_id == opened.incident_id
            await rounds(region, 5, 5)
            assert await tick(judge, 5) == []  # back since round 3, 25 s: the quiet period is 30 s
            await rounds(region, 6, 6)
            [resolved] = await tick(judge, 6)
            assert isinstance(resolved, IncidentUpdated) and resolved.status == "resolved"
            [incident] = await shown(region)
            assert not incident.open and incident.resolved_at is not None
            assert [u.status for u in incident.updates] == [
                "investigating", "monitoring", "resolved"
            ]  # fmt: skip
            await rounds(region, 7, 7)
            assert await tick(judge, 7) == []

    asyncio.run(run())


def test_down_again_while_monitoring_goes_back_to_investigating(tmp_path: Path) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await rounds(region, 0, 2, west="down")
            await tick(judge, 2)
            await rounds(region, 3, 4)
            [monitoring] = await tick(judge, 4)
            assert isinstance(monitoring, IncidentUpdated) and monitoring.status == "monitoring"
            await rounds(region, 5, 7, west="down")
            [again] = await tick(judge, 7)
            assert isinstance(again, IncidentUpdated) and again.status == "investigating"
            [incident] = await shown(region)  # the same incident, not a second
            assert incident.status == "investigating"

    asyncio.run(run())


def test_while_open_it_is_updated_with_figures_and_a_catch_up_eta_once_one_is_said(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with judging(tmp_path, incident_update_every_s=30) as (region, judge):
            await rounds(region, 0, 2, west="down")
            [opened] = await tick(judge, 2)
            assert isinstance(opened, IncidentOpened)
            await rounds(region, 3, 4, west="down")
            assert await tick(judge, 4) == []  # 20 s since the opening
            # West is back and catching up: its health says how far.
            for prober in ("east", "north"):
                await append(region, catching_up(prober, 5, remaining=12_345, eta_s=40))
            [update] = await tick(judge, 5)
            assert isinstance(update, IncidentUpdated) and update.status == "investigating"
            assert update.figures is not None
            assert (update.figures.catch_up_remaining, update.figures.catch_up_eta_s) == (
                12_345, 40
            )  # fmt: skip
            assert "12,345 log entries to apply, about 40 s left" in update.text
            assert update.incident_id == opened.incident_id
            [incident] = await shown(region)
            assert [u.update_id for u in incident.updates][-1] == update.update_id

    asyncio.run(run())


def catching_up(prober: str, n: int, *, remaining: int, eta_s: int) -> ProbesRecorded:
    """A round in which west answers its health check, catching up, and
    fails every other check (it refuses work until ready)."""
    p = probes(prober, n, failing={"west"})
    seen = tuple(
        RegionSeen(region="west", reachable=True, ready=False, remaining=remaining, eta_s=eta_s)
        if s.region == "west"
        else s
        for s in p.regions
    )
    return p.model_copy(update={"regions": seen})


def test_maintenance_in_progress_opens_nothing_and_an_outage_after_it_does(tmp_path: Path) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await maintain(region, ("sign_in", "for_you"), starts=round_at(0), ends=round_at(10))
            await rounds(region, 0, 4, west="down")
            assert await tick(judge, 4) == []
            # Once the window is over, the outage is one.
            await rounds(region, 5, 10, west="down")
            [opened] = await tick(judge, 10)
            assert isinstance(opened, IncidentOpened) and opened.regions == ("west",)

    asyncio.run(run())


def test_a_window_over_part_of_the_components_leaves_the_rest_to_open(tmp_path: Path) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await maintain(region, ("sign_in",), starts=round_at(0), ends=round_at(10))
            await rounds(region, 0, 2, west="down")
            [opened] = await tick(judge, 2)
            assert isinstance(opened, IncidentOpened) and opened.components == ("for_you",)

    asyncio.run(run())


async def maintain(region: Region, components: Collection[str], *, starts: int, ends: int) -> None:
    payload = MaintenanceScheduled.model_validate(
        {"maintenance_id": "mnt_west", "title": "new disks", "regions": ["west"],
         "components": list(components), "starts_at": starts, "ends_at": ends,
         "text": "west's disks are replaced"}
    )  # fmt: skip
    await write(region, "maintenance:west", payload, actor="u_op")
