"""Blackouts: no region recorded a probe round for longer than the flap
guard takes — every region down at once — so nothing could be judged while
it lasted; once rounds resume, the judge writes one incident for the span,
opened resolved, about every region and component, counted as down in the
uptime bars (ADR 021, 023). Event time drives everything: no test sleeps."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from stormproof.events import IncidentOpened
from stormproof.status.blackouts import Blackout, find_blackouts
from stormproof.status.page import Notice, incidents_section
from stormproof.status.postmortem import draft
from stormproof.status.uptime import Uptime, read_uptime
from stormproof.views import incidents
from stormproof.views.status import Round
from tests.status.probes import PERIOD, round_at
from tests.status.test_judge import judging, rounds, shown, tick


def _round(n: int, written_after_ms: int = 3_000) -> Round:
    return Round(round_at(n), PERIOD, round_at(n) + written_after_ms)


def test_rounds_every_period_are_no_blackout() -> None:
    assert find_blackouts([_round(n) for n in range(10)], fail_rounds=3) == []


def test_no_round_begun_for_longer_than_the_guard_is_a_blackout() -> None:
    # Rounds 4 to 7 were never recorded: from round 3's write (+3 s) to round
    # 8, 47 s > 3 rounds of 10 s.
    found = find_blackouts([_round(n) for n in (0, 1, 2, 3, 8, 9)], fail_rounds=3)
    assert found == [Blackout(round_at(3), round_at(8))]
    # Rounds 4 to 6 missing: 37 s, still more than 30 s.
    assert find_blackouts([_round(3), _round(7)], fail_rounds=3) == [
        Blackout(round_at(3), round_at(7))
    ]
    # Rounds 4 and 5 missing: 27 s, what the guard would not call down either.
    assert find_blackouts([_round(3), _round(6)], fail_rounds=3) == []


def test_probers_busy_with_long_rounds_are_no_blackout() -> None:
    # Every prober's round 3 overran (a frozen region holds each check to its
    # limit, an upload check runs long): written 45 s after it began, and each
    # skipped to the next slot, round 8. Slots were skipped, but everyone was
    # probing the whole time.
    assert find_blackouts([_round(3, written_after_ms=45_000), _round(8)], fail_rounds=3) == []
    # The latest write of any earlier round counts: a slow round 2 written
    # after round 3 was.
    slow = [_round(2, written_after_ms=52_000), _round(3), _round(8)]
    assert find_blackouts(slow, fail_rounds=3) == []


def test_a_blackout_is_one_incident_opened_resolved_about_every_region(tmp_path: Path) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await rounds(region, 0, 3)
            assert await tick(judge, 3) == []
            # Every region lost power after round 3; rounds resume at round 9.
            await rounds(region, 9, 9)
            [opened] = await tick(judge, 9)
            assert isinstance(opened, IncidentOpened)
            assert opened.regions == ("east", "north", "west")
            assert opened.components == ("sign_in", "for_you")
            assert opened.impact == "critical" and opened.automatic
            assert opened.status == "resolved"
            assert (opened.began_at, opened.resolved_at) == (round_at(3), round_at(9))
            assert "No region recorded any probe round" in opened.text
            assert "upper bound" in opened.text
            # Written once: judging again, later, writes nothing more.
            await rounds(region, 10, 10)
            assert await tick(judge, 10) == []

            [incident] = await shown(region)
            assert incident.incident_id == opened.incident_id and incident.recorded_after
            assert incident.status == "resolved" and not incident.open
            assert (incident.began_at, incident.resolved_at) == (round_at(3), round_at(9))
            assert [u.status for u in incident.updates] == ["resolved"]

            def read(
                db: sqlite3.Connection,
            ) -> tuple[list[incidents.Incident], list[Notice], Uptime]:
                return incidents.open_incidents(db), incidents_section(db), read_uptime(db)

            open_now, section, uptime = await region.store.query(read)
            drafted = await region.store.query(lambda db: draft(db, incident))
            assert drafted is not None
            assert drafted.trigger.startswith("No region recorded any probe round")
            kinds = [m.kind for m in drafted.timeline]
            assert kinds.index("last_round") < kinds.index("rounds_resume")
            assert kinds.index("rounds_resume") < kinds.index("opened")
            assert open_now == []
            [notice] = section
            assert notice.status == "resolved" and notice.ends_at == round_at(9)
            # Rounds 0-3 and 9-10 count themselves (10 s each); the 50 s from
            # the end of round 3 to round 9 count as down for every component,
            # in every region and overall.
            for component in ("sign_in", "for_you"):
                windows = [uptime.overall[component], *uptime.regions[component].values()]
                for window in windows:
                    [day] = window.days
                    assert (day.rounds, day.judged_ms, day.down_ms) == (6, 110_000, 50_000)

    asyncio.run(run())


def test_a_one_region_outage_is_no_blackout(tmp_path: Path) -> None:
    async def run() -> None:
        async with judging(tmp_path) as (region, judge):
            await rounds(region, 0, 2)
            await rounds(region, 3, 9, west="down")
            written = [await tick(judge, n) for n in range(3, 10)]
            opened = [p for w in written for p in w if isinstance(p, IncidentOpened)]
            assert [o.regions for o in opened] == [("west",)]
            assert opened[0].status == "investigating"

    asyncio.run(run())
