"""Every request observed: an ``X-Request-Id`` on every answer (the caller's
when it is a short safe token, else a new one), one structured log line per
request carrying it, and a client that leaves mid-request counted as 499
with no traceback."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from stormproof.api.observed import SAFE_ID
from stormproof.logs import JsonFormatter
from tests.api.test_metrics import requests, scrape
from tests.conftest import JsonLines, LiveServer, make_settings, sign_up

HOSTILE_IDS = [
    "a b",  # a space
    "x" * 65,  # too long
    "id\u00e9",  # not ASCII
    "<script>",
    '"}{"injected": 1',
    "",
]


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The request lines captured, as the JSON formatter writes them."""
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(r)) for r in caplog.records if r.name == "stormproof.requests"
    ]


def test_every_answer_carries_a_request_id_and_a_safe_one_sent_is_kept(
    client: httpx.Client,
) -> None:
    ids = {client.get("/v1/health").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5 and all(SAFE_ID.fullmatch(i) for i in ids)
    assert client.get("/nowhere").headers["x-request-id"]  # errors too
    kept = client.get("/v1/health", headers={"X-Request-Id": "trace-42.a_b"})
    assert kept.headers["x-request-id"] == "trace-42.a_b"


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_request_id_is_replaced(client: httpx.Client, hostile: str) -> None:
    answer = client.get("/v1/health", headers={"X-Request-Id": hostile.encode()})
    given = answer.headers["x-request-id"]
    assert given != hostile and SAFE_ID.fullmatch(given)
    assert answer.headers.get_list("x-request-id") == [given]


def test_two_request_ids_sent_are_replaced_by_one(client: httpx.Client) -> None:
    answer = client.get("/v1/health", headers=[("X-Request-Id", "one"), ("X-Request-Id", "two")])
    assert answer.headers.get_list("x-request-id") not in (["one"], ["two"])
    assert len(answer.headers.get_list("x-request-id")) == 1


def test_one_json_line_per_request_with_its_fields(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.requests")
    auth = sign_up(client, "ann")
    missing = client.get("/v1/videos/v_nope", headers={"X-Request-Id": "find-me"})
    feed = client.get("/v1/feed/for-you", headers=auth)
    lines = _lines(caplog)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/v1/accounts", 201),
        ("POST", "/v1/sessions", 201),
        ("GET", "/v1/videos/{video_id}", 404),
        ("GET", "/v1/feed/for-you", 200),
    ]
    for line in lines:
        assert line["region"] == "test" and line["event"] == "request"
        assert line["level"] == "info" and "error" not in line  # a 404 is no traceback
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
        assert str(line["ts"]).endswith("Z")
    assert lines[2]["request_id"] == "find-me" == missing.headers["x-request-id"]
    assert lines[3]["request_id"] == feed.headers["x-request-id"]


def test_request_lines_can_be_turned_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.requests")
    live = LiveServer(make_settings(tmp_path / "region", log_requests=False)).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            client.get("/v1/health")
            assert _lines(caplog) == []  # still counted in the metrics:
            assert requests(scrape(client, live), "/v1/health", "200") == 1
    finally:
        live.stop()


def test_a_bug_is_answered_with_its_request_id_and_logged_once_naming_it(
    tmp_path: Path, json_logs: JsonLines
) -> None:
    live = LiveServer(make_settings(tmp_path / "region"))

    async def broken() -> None:
        raise RuntimeError("a bug for the test")

    live.app.add_api_route("/v1/broken", broken)
    live.start()
    try:
        with httpx.Client(base_url=live.url) as client:
            answer = client.get("/v1/broken", headers={"X-Request-Id": "bug-1"})
    finally:
        live.stop()
    assert answer.status_code == 500 and answer.json()["code"] == "internal_error"
    assert answer.headers["x-request-id"] == "bug-1"
    lines = json_logs.lines()  # each parsed as one JSON object: a traceback spans no line
    traced = [line for line in lines if "error" in line]
    assert len(traced) == 1, traced  # once: not again by uvicorn
    assert "RuntimeError: a bug for the test" in traced[0]["error"]
    assert traced[0]["logger"] == "stormproof.api.app" and traced[0]["level"] == "error"
    assert (traced[0]["region"], traced[0]["request_id"]) == ("test", "bug-1")
    request = [line for line in lines if line.get("event") == "request"]
    assert [(x["route"], x["status"], x["level"]) for x in request] == [
        ("/v1/broken", 500, "warning")
    ]
    assert request[0]["request_id"] == "bug-1"


def test_a_client_that_leaves_mid_body_is_499_without_a_traceback(
    server: LiveServer, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(
            b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"username": '
        )
        time.sleep(0.2)  # the server is reading the body when the client goes
    deadline = time.monotonic() + 10
    while not any(line["status"] == 499 for line in _lines(caplog)):
        assert time.monotonic() < deadline, _lines(caplog)
        time.sleep(0.05)
    assert not [r for r in caplog.records if r.exc_info], "an expected condition got a traceback"
    assert requests(scrape(client, server), "/v1/accounts", "499", method="POST") == 1
