"""The edge: limits every request meets before a route reads it, the
security headers of every answer, and JSON errors for malformed input
(findings 4, 6 and 7 of issue 9)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx

from stormproof.testing import LiveServer
from tests.conftest import health, sign_up


def _raw(server: LiveServer, head: str) -> bytes:
    """Send only a request head (no body) and return what the server answers
    before we send anything more — proof it did not wait to read the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode("latin-1"))
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_an_oversized_json_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    answer = _raw(
        server,
        "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 200000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"payload_too_large"' in answer


def test_an_upload_without_a_token_is_refused_before_its_body_is_read(
    server: LiveServer,
) -> None:
    answer = _raw(
        server,
        "POST /v1/videos HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 200000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401")
    assert b'"missing_token"' in answer


def test_a_chunked_body_is_counted_as_it_arrives(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "chunky", "password": "'
        for _ in range(400):
            yield b"x" * 1024  # 400 KiB, past the 256 KiB JSON limit
        yield b'"}'

    refused = client.post(
        "/v1/accounts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert (refused.status_code, refused.json()["code"]) == (413, "payload_too_large")
    assert health(client)["log_seq"] == 0


def test_request_heads_are_bounded(server: LiveServer) -> None:
    answer = _raw(server, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 100_000)
    assert answer.startswith(b"HTTP/1.1 431")


def test_every_answer_carries_the_security_headers(client: httpx.Client) -> None:
    for answer in (client.get("/v1/health"), client.get("/v1/nothing")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]


def test_api_docs_are_served_from_the_region_itself(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text and "http://" not in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_a_non_ascii_bearer_token_is_a_401_not_a_500(client: httpx.Client) -> None:
    answer = client.get("/v1/feed/for-you", headers={"Authorization": b"Bearer \xff\xfe"})
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_token")


def test_a_lone_surrogate_in_a_message_is_refused_and_stores_nothing(
    client: httpx.Client,
) -> None:
    alice = sign_up(client, "alice")
    sign_up(client, "bob")
    before = health(client)["log_seq"]
    for path, body in (
        ("/v1/messages", b'{"to": "bob", "text": "hi \\ud800"}'),
        ("/v1/messages", b'{"to": "bob\\udfff", "text": "hi"}'),
    ):
        answer = client.post(
            path, content=body, headers={**alice, "Content-Type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] in ("invalid_request", "invalid_field", "invalid_unicode")
    assert health(client)["log_seq"] == before


def test_an_idempotency_key_outside_printable_ascii_is_refused(client: httpx.Client) -> None:
    alice = sign_up(client, "alice")
    answer = client.post(
        "/v1/feed/for-you/reset", headers={**alice, "Idempotency-Key": b"k\xe9y with space"}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
