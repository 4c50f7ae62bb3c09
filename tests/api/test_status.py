"""``GET /v1/status``: public, read from the probes in the log, judged by
majority with a flap guard, and served while the region catches up.

Probers' rounds are appended to the region's log file directly, as another
region's prober's would arrive; ``min_seq`` waits until they are applied.
Event time drives everything: no test sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from stormproof.api import create_app
from stormproof.api.serving import server_config
from stormproof.events import ProbesRecorded
from stormproof.log.sqlite import SqliteLog
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.testing import LiveServer, free_port
from tests.conftest import make_settings
from tests.status.probes import event, key, probes

PROBERS = ("east", "north", "west")


def append(settings: Settings, rounds: Iterable[ProbesRecorded]) -> int:
    """Append probers' rounds to the region's log; the last one's seq."""

    async def write() -> int:
        log = SqliteLog(settings.log_path)
        try:
            seq = 0
            for p in rounds:
                seq = (await log.append(key(p), event(p))).seq
            return seq
        finally:
            await log.close()

    return asyncio.run(write())


def status(client: httpx.Client, seq: int | None = None) -> dict[str, Any]:
    params = {} if seq is None else {"min_seq": seq}
    answer = client.get("/v1/status", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def state_of(page: dict[str, Any], region: str, component: str = "sign_in") -> dict[str, Any]:
    [component_status] = [c for c in page["components"] if c["component"] == component]
    [found] = [r for r in component_status["regions"] if r["region"] == region]
    return found


def test_the_status_is_public_and_says_what_it_holds(
    client: httpx.Client, settings: Settings
) -> None:
    empty = status(client)
    assert empty == {
        "state": "operational",
        "newest_round": None,
        "components": [],
        "probers": [],
        "region": "test",
        "fresh": True,
        "position": empty["position"],
        "fail_rounds": 3,
        "pass_rounds": 2,
        "incidents": [],
        "maintenance": [],
    }
    # Rounds 0-3 (2025-11-24T16:00:00Z on, every 10 s): north fails from round 1.
    rounds = [
        probes(prober, n, failing={"north"} if n else set(), regions=("east", "north"))
        for n in range(4)
        for prober in ("east", "north")
    ]
    seq = append(settings, rounds)
    page = status(client, seq)
    assert page["position"] == [seq] and page["fresh"] is True
    assert (page["state"], page["newest_round"]) == ("partial_outage", "2025-11-24T16:00:30.000Z")
    assert [c["component"] for c in page["components"]] == ["sign_in", "for_you"]
    assert page["components"][0] == {
        "component": "sign_in",
        "state": "partial_outage",
        "since": "2025-11-24T16:00:10.000Z",
        "regions": [
            {
                "region": "east",
                "state": "operational",
                "since": "2025-11-24T16:00:00.000Z",
                "last_round": "2025-11-24T16:00:30.000Z",
                "failing_probers": 0,
                "probers": 2,
            },
            {
                "region": "north",
                "state": "major_outage",
                "since": "2025-11-24T16:00:10.000Z",
                "last_round": "2025-11-24T16:00:30.000Z",
                "failing_probers": 2,
                "probers": 2,
            },
        ],
    }
    assert page["probers"][0] == {
        "prober": "east",
        "round": "2025-11-24T16:00:30.000Z",
        "regions": [
            {"region": "east", "reachable": True, "ready": True, "remaining": None, "eta_s": None},
            {"region": "north", "reachable": False, "ready": False, "remaining": None,
             "eta_s": None},
        ],
    }  # fmt: skip
    assert [p["prober"] for p in page["probers"]] == ["east", "north"]


def test_a_region_only_it_sees_up_is_down_and_a_lone_prober_downs_nobody(
    client: httpx.Client, settings: Settings
) -> None:
    # west is cut off for three rounds: it sees itself up and the others down.
    rounds = []
    for n in range(3):
        rounds += [probes("east", n, failing={"west"}), probes("north", n, failing={"west"})]
        rounds.append(probes("west", n, failing={"east", "north"}))
    page = status(client, append(settings, rounds))
    west, east = state_of(page, "west"), state_of(page, "east")
    assert (west["state"], west["failing_probers"], west["probers"]) == ("major_outage", 2, 3)
    assert (east["state"], east["failing_probers"], east["probers"]) == ("operational", 1, 3)
    assert state_of(page, "north")["state"] == "operational"
    # Then west freezes: it reports nothing, the others still cannot reach it.
    frozen = [probes(p, n, unreached={"west"}) for n in (3, 4) for p in ("east", "north")]
    page = status(client, append(settings, frozen))
    assert state_of(page, "west")["state"] == "major_outage"
    assert (state_of(page, "west")["failing_probers"], state_of(page, "west")["probers"]) == (2, 2)
    assert page["components"][0]["state"] == "partial_outage"


def test_the_flap_guard_opens_after_three_failing_rounds_and_closes_after_two_passing(
    client: httpx.Client, settings: Settings
) -> None:
    def round_(n: int, *, west_fails: bool) -> int:
        failing = {"west"} if west_fails else set()
        return append(settings, [probes(p, n, failing=failing) for p in PROBERS])

    def west() -> str:
        state: str = state_of(status(client, seq), "west")["state"]
        return state

    seq = round_(0, west_fails=False)
    assert west() == "operational"
    expected = ["degraded_performance", "degraded_performance", "major_outage", "major_outage"]
    for n, state in enumerate(expected, start=1):
        seq = round_(n, west_fails=True)
        assert west() == state, n
    seq = round_(5, west_fails=False)
    assert west() == "major_outage"  # one passing round does not recover
    seq = round_(6, west_fails=False)
    assert west() == "operational"
    # back since the first of the passing rounds that brought it back
    assert state_of(status(client), "west")["since"] == "2025-11-24T16:00:50.000Z"


def test_the_guard_is_the_regions_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region", probe_fail_rounds=1, probe_pass_rounds=1)
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            seq = append(settings, [probes(p, 0, failing={"west"}) for p in PROBERS])
            page = status(client, seq)
            assert (page["fail_rounds"], page["pass_rounds"]) == (1, 1)
            assert state_of(page, "west")["state"] == "major_outage"
    finally:
        server.stop()


async def test_a_region_catching_up_serves_its_status_and_says_it_may_be_behind(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "region")
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    for n in range(3):
        for prober in PROBERS:
            p = probes(prober, n, failing={"west"})
            written = await region.log.append(key(p), event(p))
    assert await region.projector.wait_for(0, written.seq, 10)
    await region.close()
    # Without the engine's checkpoint, the next start replays the log into it.
    settings.checkpoint_path.unlink(missing_ok=True)

    app, port = create_app(settings), free_port()
    config = server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not hasattr(app.state, "region"):
        assert not serving.done()
        await asyncio.sleep(0)
    region = app.state.region
    # Hold the engine's lock: the catch-up can apply nothing until it goes.
    assert region.engine.lock.acquire(blocking=False)
    held = True
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            feed = await client.get("/v1/feed/for-you")
            assert (feed.status_code, feed.json()["code"]) == (503, "not_ready")
            behind = await client.get("/v1/status")
            assert behind.status_code == 200, behind.text
            page = behind.json()
            assert page["fresh"] is False and page["position"] == [written.seq]
            assert state_of(page, "west")["state"] == "major_outage"
            # The page people read too, saying so (ADR 023), and its feed.
            html = await client.get("/status")
            assert html.status_code == 200 and "This may be behind." in html.text
            assert "Partial outage" in html.text
            assert (await client.get("/status/feed.atom")).status_code == 200
            region.engine.lock.release()
            held = False
            await region.caught_up()
            page = (await client.get("/v1/status")).json()
            assert page["fresh"] is True and state_of(page, "west")["state"] == "major_outage"
            assert "This may be behind." not in (await client.get("/status")).text
    finally:
        if held:
            region.engine.lock.release()
        server.should_exit = True
        await serving
