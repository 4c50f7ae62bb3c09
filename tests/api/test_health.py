"""Health, read-your-writes with ``min_seq``, the OpenAPI contract, unknown
routes, and a region that answers while it catches up."""

from __future__ import annotations

import asyncio
import os
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from stormproof.api import create_app
from stormproof.api.serving import server_config
from stormproof.cluster import LocalCluster, _stage
from stormproof.events import AccountCreated, Interaction, InteractionsRecorded, new_event
from stormproof.log.sqlite import SqliteLog
from stormproof.operators import operator_headers
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.testing import LiveServer
from tests.conftest import PASSWORD, free_port, health, make_settings, sign_up


def test_health_reports_region_sequence_and_view_lag(client: httpx.Client) -> None:
    sign_up(client, "alice")
    details = health(client)
    assert details["region"] == "test" and details["ready"] is True
    assert details["log"] == [2] and details["log_seq"] == 2  # account + session
    assert set(details["views"]) >= {"accounts", "videos", "messages", "history"}
    assert all(v == {"position": [2], "lag": 0} for v in details["views"].values())


def test_min_seq_waits_for_views_and_fails_over_when_too_far(client: httpx.Client) -> None:
    created = client.post("/v1/accounts", json={"username": "alice", "password": "p" * 10})
    seq = created.json()["seq"]
    fine = client.get("/v1/accounts/alice", params={"min_seq": seq})
    assert fine.status_code == 200
    assert int(fine.headers["Stormproof-Position"]) >= seq
    ahead = client.get("/v1/accounts/alice", params={"min_seq": seq + 1000})
    assert (ahead.status_code, ahead.json()["code"]) == (503, "stale_view")


def test_openapi_lists_the_contract(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/accounts",
        "/v1/sessions",
        "/v1/videos",
        "/v1/videos/{video_id}/file",
        "/v1/events",
        "/v1/feed/for-you",
        "/v1/messages/stream",
        "/v1/health",
    ):
        assert path in paths


def test_unknown_route_and_method_answer_with_a_code(client: httpx.Client) -> None:
    missing = client.get("/v1/nothing-here")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = client.put("/v1/health")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_a_region_catching_up_refuses_all_but_health(
    server: LiveServer, client: httpx.Client
) -> None:
    region = server.app.state.region
    region.ready = False  # as while it replays the log after a restart
    try:
        refused = client.post("/v1/accounts", json={"username": "alice", "password": "p" * 10})
        assert (refused.status_code, refused.json()["code"]) == (503, "not_ready")
        assert client.get("/v1/feed/for-you").json()["code"] == "not_ready"
        health = client.get("/v1/health")
        assert health.status_code == 200 and health.json()["ready"] is False
    finally:
        region.ready = True
    assert client.get("/v1/accounts/alice").status_code == 404  # nothing was stored


def test_health_tells_the_public_only_whether_the_region_is_ready(
    client: httpx.Client,
) -> None:
    # Guards: raw exception text and log positions are for operators only.
    public = client.get("/v1/health").json()
    assert public == {"region": "test", "ready": True}
    forged = client.get("/v1/health", headers={"Authorization": "Bearer op_0000"}).json()
    assert forged == public


def test_digest_is_for_operators_only(client: httpx.Client, server: LiveServer) -> None:
    refused = client.get("/v1/digest")
    assert (refused.status_code, refused.json()["code"]) == (401, "operator_only")
    user = sign_up(client, "nosy")
    assert client.get("/v1/digest", headers=user).status_code == 401
    taken = client.get("/v1/digest", headers=server.operator)
    assert taken.status_code == 200 and "accounts" in taken.json()["views"]


def test_metrics_are_for_operators_and_agree_with_health(
    client: httpx.Client, server: LiveServer
) -> None:
    sign_up(client, "counted")
    assert client.get("/metrics").status_code == 401
    scraped = client.get("/metrics", headers=server.operator)
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    details = health(client)
    lines = scraped.text.splitlines()
    assert 'stormproof_ready{region="test"} 1.0' in lines
    assert f'stormproof_log_seq{{partition="0",region="test"}} {details["log_seq"]}.0' in lines
    assert 'stormproof_quarantined_entries{region="test"} 0.0' in lines


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A log file with sign-ups and watches (made once: each append is
    fsynced), and how many entries it holds."""
    path, people = tmp_path_factory.mktemp("history") / "log.sqlite", 250

    async def write() -> None:
        log = SqliteLog(path)
        for n in range(people):
            account = AccountCreated(user_id=f"u_{n}", username=f"person{n}", password_hash="x")
            await log.append(f"account-{n}", new_event(account, actor=""))
            watch = Interaction(type="watch", video_id=f"v_{n % 7}", watched_ms=900)
            batch = InteractionsRecorded(items=(watch,))
            await log.append(f"watch-{n}", new_event(batch, actor=f"u_{n}"))
        await log.close()  # the last connection: the WAL is folded into the file

    asyncio.run(write())
    return path, 2 * people


def _consistent(seen: list[dict[str, Any]]) -> None:
    """Every answer of a catch-up agrees with the ones before it."""
    for answer in seen:
        assert not (answer["ready"] and "catch_up" in answer), answer
    phases = {"engine": 0, "views": 1}
    steps = [(a["catch_up"], b["catch_up"]) for a, b in pairwise(seen) if "catch_up" in b]
    for before, after in steps:
        assert phases[after["phase"]] >= phases[before["phase"]]
        assert after["applied"] >= before["applied"]
        if after["phase"] == before["phase"]:
            assert after["remaining"] <= before["remaining"]


@pytest.mark.parametrize("phase", ["engine", "views"])
async def test_a_region_answers_health_while_it_catches_up(
    tmp_path: Path, history: tuple[Path, int], phase: str
) -> None:
    # Guards: uvicorn listened only once the region had caught up, so a region
    # replaying a long log answered nothing for minutes and `cluster status`
    # could only say "starting".
    cluster = LocalCluster.create(tmp_path / "cluster", 1, free_port())  # to ask its status
    settings = make_settings(tmp_path / "region", secret_file=cluster.folder / "secret")
    log, entries = history
    settings.log_path.parent.mkdir(parents=True)
    shutil.copy(log, settings.log_path)
    if phase == "engine":  # the views hold it all; without a checkpoint the engine replays it
        region = Region.open(settings)
        await region.start()
        await region.caught_up()
        await region.close()
        settings.checkpoint_path.unlink(missing_ok=True)
    app, port = create_app(settings), cluster.spec("us-east").api_port
    server = uvicorn.Server(
        server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())  # in this loop: the test acts between steps
    while not hasattr(app.state, "region"):
        assert not serving.done()
        await asyncio.sleep(0)
    region = app.state.region
    # The catch-up began, and needs a few turns of the loop (reads in worker
    # threads) before it applies anything. Hold the engine's lock, as a
    # checkpoint does: nothing can be applied, in either phase, until it goes.
    assert region.engine.lock.acquire(blocking=False)
    held = True
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.01)
        operator = operator_headers(region.secret)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def details() -> dict[str, Any]:
                answer: dict[str, Any] = (await client.get("/v1/health", headers=operator)).json()
                return answer

            answer = await details()
            while answer["catch_up"]["phase"] != phase:  # an empty engine phase passes
                answer = await details()
            assert answer["ready"] is False and answer["log"] == [entries]
            assert answer["catch_up"]["remaining"] == entries
            assert answer["catch_up"]["applied"] == 0
            assert set(answer["catch_up"]) == {"phase", "remaining", "applied", "per_s", "eta_s"}
            public = (await client.get("/v1/health")).json()
            assert public == {"region": "test", "ready": False}
            account = {"username": "latecomer", "password": PASSWORD}
            refused = await client.post("/v1/accounts", json=account)
            assert (refused.status_code, refused.json()["code"]) == (503, "not_ready")
            feed = await client.get("/v1/feed/for-you")
            assert (feed.status_code, feed.json()["code"]) == (503, "not_ready")
            scraped = (await client.get("/metrics", headers=operator)).text.splitlines()
            assert f'stormproof_catch_up_remaining_entries{{region="test"}} {entries}.0' in scraped
            # What `cluster status` shows of it (this process serves the region's API).
            cluster.region_dir("us-east").mkdir()
            (cluster.region_dir("us-east") / "pids.json").write_text(f'{{"api": {os.getpid()}}}')
            row = await asyncio.to_thread(cluster._status, "us-east")
            assert (row["state"], row["progress"]) == ("catching up", 0)
            assert (row["catch_up"]["phase"], row["catch_up"]["remaining"]) == (phase, entries)
            assert _stage(answer) == f"catching up 0 % · {entries} left"  # no rate yet

            region.engine.lock.release()
            held = False
            seen = [answer]
            while not seen[-1]["ready"]:
                seen.append(await details())
                await asyncio.sleep(0.005)
            _consistent(seen)
            assert "catch_up" not in seen[-1] and "error" not in seen[-1]
            assert all(v["position"] == [entries] for v in seen[-1]["views"].values())
            assert (await client.post("/v1/accounts", json=account)).status_code == 201
    finally:
        if held:
            region.engine.lock.release()
        server.should_exit = True
        await serving


def test_a_region_whose_views_are_ahead_of_its_log_says_why_it_never_gets_ready(
    settings: Settings,
) -> None:
    # Guards: the refusal stopped the process before it listened; now that
    # the catch-up runs behind a serving API, its failure must not be lost.
    first = LiveServer(settings).start()
    with httpx.Client(base_url=first.url, timeout=30) as client:
        sign_up(client, "ann")
    first.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.log_path}{suffix}").unlink(missing_ok=True)

    replaced = LiveServer(settings).start(ready=False)
    try:
        with httpx.Client(base_url=replaced.url, timeout=30) as client:
            details = health(client)
            while "error" not in details:
                details = health(client)
            assert details["ready"] is False and "catch_up" not in details
            assert "ahead of the log" in details["error"]
            assert client.get("/v1/accounts/ann").json()["code"] == "not_ready"
    finally:
        replaced.stop()
