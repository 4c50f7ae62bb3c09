"""Health, read-your-writes with ``min_seq``, the OpenAPI contract, unknown routes."""

from __future__ import annotations

import httpx

from stormproof.testing import LiveServer
from tests.conftest import health, sign_up


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
