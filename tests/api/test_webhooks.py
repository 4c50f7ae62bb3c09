"""Webhooks over real HTTP, to real receivers on 127.0.0.1: only operators
subscribe (403 ``not_an_operator`` otherwise), bad input is a 422 with a
code, and either way nothing is stored; every incident and maintenance
update is delivered signed per the Standard Webhooks specification, which
the receiver verifies with the ``standardwebhooks`` library; a receiver that
fails twice gets the update on the third attempt, once (ADR 024)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from stormproof.settings import Settings
from stormproof.status.webhooks.sealing import new_secret
from stormproof.testing import LiveServer
from tests.api.test_incidents import OPENING, log_of, refused
from tests.conftest import make_settings, sign_up
from tests.status.receivers import Receiver, receiving

#: the longest any wait below may take before the test gives up (a safety
#: net for a stuck server, not a measure)
PATIENCE_S = 60


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    """Quick retries, so a receiver that fails twice is not waited for long."""
    return make_settings(tmp_path / "region", webhook_backoff_s=0.05, webhook_poll_s=0.2)


@pytest.fixture
def operator(server: LiveServer, client: httpx.Client) -> dict[str, str]:
    auth = sign_up(client, "olga")
    granted = client.post("/v1/operators", json={"username": "olga"}, headers=server.operator)
    assert granted.status_code == 201, granted.text
    return auth


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def wait_for(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE_S
    while not (got := found()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)
    return got


def subscribe(
    client: httpx.Client, operator: dict[str, str], receiver: Receiver, **body: Any
) -> dict[str, Any]:
    made = client.post("/v1/status/webhooks", json={"url": receiver.url, **body}, headers=operator)
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    receiver.secret = answer["secret"]
    return answer


def test_an_update_arrives_signed_and_the_receiver_verifies_it_with_the_library(
    client: httpx.Client, operator: dict[str, str], receiver: Receiver
) -> None:
    made = subscribe(client, operator, receiver)
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    listed = client.get("/v1/status/webhooks", headers=operator).json()["items"]
    assert listed == [made["webhook"]] and secret not in str(listed)

    opened = client.post("/v1/incidents", json=OPENING, headers=operator).json()["incident"]
    [[arrived]] = wait_for("the opening delivered", receiver.delivered).values()
    body = arrived.verified
    assert body["type"] == "incident.opened"
    assert body["data"]["incident"]["id"] == opened["id"]
    assert body["data"]["update"]["text"] == OPENING["text"]
    assert arrived.headers["stormproof-region"] == "test"

    # What the platform signed verifies with the library under that secret
    # only; requests forged or altered by someone without it do not.
    headers = arrived.headers
    assert Webhook(secret).verify(arrived.body, headers) == body
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(arrived.body, headers)
    stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    text = arrived.body.replace(b"Uploads", b"Nothing")
    by_another_key = Webhook(new_secret()).sign(headers["webhook-id"], stamp, text.decode())
    forgeries: list[tuple[bytes, dict[str, str]]] = [
        (text, headers),
        (arrived.body, {**headers, "webhook-id": "msg_forged"}),
        (arrived.body, {**headers, "webhook-timestamp": str(int(stamp.timestamp()) + 1)}),
        (arrived.body, {**headers, "webhook-signature": "v1," + "A" * 44}),
        (text, {**headers, "webhook-signature": by_another_key}),
    ]
    for data, forged in forgeries:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(data, forged)
    # The receiver's side: each forged request gets its 400, and is not taken.
    for data, forged in forgeries:
        assert httpx.post(receiver.url, content=data, headers=forged).status_code == 400
    assert [r.verified for r in receiver.received[-len(forgeries) :]] == [None] * len(forgeries)

    # Every update is delivered: the next one too, and a maintenance.
    client.post(f"/v1/incidents/{opened['id']}/updates",
                json={"status": "resolved", "text": "Fixed."}, headers=operator)  # fmt: skip
    now = int(time.time() * 1000)
    client.post("/v1/maintenance", headers=operator, json={
        **OPENING, "starts_at": now + 60_000, "ends_at": now + 120_000})  # fmt: skip
    wait_for("three updates", lambda: len(receiver.delivered()) == 3)
    types = [r.verified["type"] for r in receiver.received if r.status == 204]
    # (sent side by side: in any order; each carries its update's time)
    assert sorted(types) == ["incident.opened", "incident.updated", "maintenance.scheduled"]


def test_a_receiver_failing_twice_gets_the_update_on_the_third_attempt_once(
    server: LiveServer, client: httpx.Client, operator: dict[str, str], receiver: Receiver
) -> None:
    receiver.failures = [500, 500]
    made = subscribe(client, operator, receiver)
    client.post("/v1/incidents", json=OPENING, headers=operator)
    deliveries = f"/v1/status/webhooks/{made['webhook']['id']}/deliveries"

    def recorded() -> dict[str, Any] | None:
        [delivery] = client.get(deliveries, headers=operator).json()["items"]
        return delivery if delivery["state"] == "delivered" else None

    delivery = wait_for("the delivery recorded", recorded)
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 204]
    assert [a["error"] for a in delivery["attempts"]] == ["http_500", "http_500", ""]
    # Three requests, one webhook-id, the same body each time; one 2xx.
    assert [r.status for r in receiver.received] == [500, 500, 204]
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert [len(ok) for ok in receiver.delivered().values()] == [1]
    types = [e.event.type for e in log_of(server)]
    assert types.count("webhook.delivered") == 1 and "webhook.failed" not in types


@pytest.mark.parametrize("refusal", [410, 302])
def test_a_final_refusal_is_recorded_as_failed_after_one_attempt(
    server: LiveServer,
    client: httpx.Client,
    operator: dict[str, str],
    receiver: Receiver,
    refusal: int,
) -> None:
    """A 4xx other than 408 and 429 will not change on retrying, nor will a
    redirect, which is not followed."""
    receiver.failures = [refusal]
    made = subscribe(client, operator, receiver)
    client.post("/v1/incidents", json=OPENING, headers=operator)
    deliveries = f"/v1/status/webhooks/{made['webhook']['id']}/deliveries"
    [delivery] = wait_for("the failure recorded", lambda: [
        d for d in client.get(deliveries, headers=operator).json()["items"]
        if d["state"] == "failed"])  # fmt: skip
    assert [a["status"] for a in delivery["attempts"]] == [refusal]
    assert [a["error"] for a in delivery["attempts"]] == [f"http_{refusal}"]
    assert [r.status for r in receiver.received] == [refusal]
    assert [e.event.type for e in log_of(server)].count("webhook.failed") == 1


def test_a_removed_webhook_is_sent_nothing_more(
    server: LiveServer, client: httpx.Client, operator: dict[str, str], receiver: Receiver
) -> None:
    made = subscribe(client, operator, receiver)
    webhook_id = made["webhook"]["id"]
    removed = client.delete(f"/v1/status/webhooks/{webhook_id}", headers=operator)
    assert removed.status_code == 200, removed.text
    refused(client.delete(f"/v1/status/webhooks/{webhook_id}", headers=operator), 404,
            "webhook_not_found")  # fmt: skip
    assert client.get("/v1/status/webhooks", headers=operator).json()["items"] == []
    # A second receiver subscribed after it gets the update; the first nothing.
    with receiving() as other:
        subscribe(client, operator, other)
        client.post("/v1/incidents", json=OPENING, headers=operator)
        wait_for("the other receiver served", other.delivered)
    assert receiver.received == []


def test_nobody_but_an_operator_subscribes_and_a_refusal_stores_nothing(
    server: LiveServer, client: httpx.Client, operator: dict[str, str], receiver: Receiver
) -> None:
    person = sign_up(client, "pat")
    made = subscribe(client, operator, receiver)
    before = log_of(server)
    body = {"url": receiver.url}
    paths = [("POST", "/v1/status/webhooks"), ("GET", "/v1/status/webhooks"),
             ("DELETE", f"/v1/status/webhooks/{made['webhook']['id']}"),
             ("GET", f"/v1/status/webhooks/{made['webhook']['id']}/deliveries")]  # fmt: skip
    for method, path in paths:
        json_body = body if method == "POST" else None
        refused(client.request(method, path, json=json_body, headers=person), 403,
                "not_an_operator")  # fmt: skip
        refused(client.request(method, path, json=json_body), 401, "missing_token")
        refused(client.request(method, path, json=json_body, headers=server.operator), 401,
                "invalid_token")  # fmt: skip
    assert log_of(server) == before
    assert len(client.get("/v1/status/webhooks", headers=operator).json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://127.0.0.1/hooks"}, "unsupported_scheme"),
        ({"url": "javascript:alert(1)"}, "unsupported_scheme"),
        ({"url": "https://user:password@example.com/hooks"}, "url_with_credentials"),
        ({"url": "https://example.com/" + "a" * 2000}, "url_too_long"),
        ({"url": "https://exa mple.com/"}, "invalid_url"),
        ({"url": "https://example.com:99999/"}, "invalid_url"),
        ({"url": "https:///hooks"}, "invalid_url"),
        ({"url": "https://example.com/", "secret": "not-a-secret"}, "invalid_secret"),
        ({"url": "https://example.com/", "secret": "whsec_" + "A" * 20}, "invalid_secret"),
        ({"url": "https://example.com/", "secret": "whsec_!!!!"}, "invalid_secret"),
        ({"url": "https://example.com/", "secret": "whsec_" + base64.b64encode(
            b"x" * 65).decode()}, "invalid_secret"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_code_and_stores_nothing(
    server: LiveServer,
    client: httpx.Client,
    operator: dict[str, str],
    body: dict[str, str],
    code: str,
) -> None:
    before = log_of(server)
    refused(client.post("/v1/status/webhooks", json=body, headers=operator), 422, code)
    assert log_of(server) == before
    assert client.get("/v1/status/webhooks", headers=operator).json()["items"] == []


def test_a_given_secret_is_used_and_a_retry_answers_the_same(
    client: httpx.Client, operator: dict[str, str], receiver: Receiver
) -> None:
    chosen = "whsec_" + base64.b64encode(b"k" * 24).decode()
    headers = {**operator, "Idempotency-Key": "hook-1"}
    body = {"url": receiver.url, "secret": chosen}
    first = client.post("/v1/status/webhooks", json=body, headers=headers)
    again = client.post("/v1/status/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["secret"] == chosen
    other = {"url": receiver.url, "secret": new_secret()}
    refused(client.post("/v1/status/webhooks", json=other, headers=headers), 422,
            "idempotency_key_reused")  # fmt: skip


def test_private_addresses_are_refused_when_the_setting_says_so(
    tmp_path: Any, receiver: Receiver
) -> None:
    settings = make_settings(tmp_path / "closed", webhook_allow_private=False)
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url) as client:
            auth = sign_up(client, "olga")
            client.post("/v1/operators", json={"username": "olga"}, headers=server.operator)
            before = log_of(server)
            for url in (receiver.url, "http://localhost/x", "http://169.254.169.254/latest",
                        "http://[::ffff:10.1.2.3]/", "http://192.168.1.1/"):  # fmt: skip
                refused(client.post("/v1/status/webhooks", json={"url": url}, headers=auth),
                        422, "private_address")  # fmt: skip
            assert log_of(server) == before
    finally:
        server.stop()
