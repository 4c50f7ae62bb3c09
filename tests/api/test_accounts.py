"""Sign-up, log-in, tokens and profiles over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import PASSWORD, LiveServer, health, make_settings, sign_up


def test_sign_up_log_in_and_read_profile(client: httpx.Client) -> None:
    created = client.post("/v1/accounts", json={"username": "Alice", "password": PASSWORD})
    assert created.status_code == 201
    body = created.json()
    assert body["username"] == "alice" and body["id"].startswith("u_") and body["seq"] >= 1
    session = client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert session.status_code == 201
    assert session.json()["expires_at"] > time.time() * 1000
    profile = client.get("/v1/accounts/alice").json()
    assert profile == {
        "id": body["id"],
        "username": "alice",
        "followers": 0,
        "following": 0,
        "videos": 0,
        "created_at": profile["created_at"],
        "followed_by_you": None,  # asked without a token
    }


def test_duplicate_username_is_409_and_stores_nothing(client: httpx.Client) -> None:
    sign_up(client, "bob")
    before = health(client)["log_seq"]
    again = client.post("/v1/accounts", json={"username": "BOB", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"
    assert health(client)["log_seq"] == before


def test_sign_up_with_the_same_key_returns_the_first_answer(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": "signup-1"}
    body = {"username": "carol", "password": PASSWORD}
    first = client.post("/v1/accounts", json=body, headers=headers)
    second = client.post("/v1/accounts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_invalid_username_and_weak_password_are_422(client: httpx.Client) -> None:
    bad_name = client.post("/v1/accounts", json={"username": "a b", "password": PASSWORD})
    assert (bad_name.status_code, bad_name.json()["code"]) == (422, "invalid_username")
    weak = client.post("/v1/accounts", json={"username": "dave", "password": "short"})
    assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
    assert health(client)["log_seq"] == 0


def test_a_system_account_name_cannot_be_signed_up(client: httpx.Client) -> None:
    # Guards: the probe accounts' names (probe.<region>) are the platform's:
    # nobody can sign one up and act as a prober (ADR 020).
    for name in ("probe.test", "Probe.US_East", "probe.x.in"):
        refused = client.post("/v1/accounts", json={"username": name, "password": PASSWORD})
        assert (refused.status_code, refused.json()["code"]) == (422, "reserved_username")
    assert health(client)["log_seq"] == 0
    allowed = client.post("/v1/accounts", json={"username": "prober", "password": PASSWORD})
    assert allowed.status_code == 201


def test_malformed_json_is_400(client: httpx.Client) -> None:
    response = client.post(
        "/v1/accounts", content=b'{"username": "x",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    missing = client.post("/v1/accounts", json={"username": "x"})
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_request")


def test_wrong_password_is_401(client: httpx.Client) -> None:
    sign_up(client, "erin")
    response = client.post("/v1/sessions", json={"username": "erin", "password": "wrong-password"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")
    nobody = client.post("/v1/sessions", json={"username": "nobody", "password": PASSWORD})
    assert (nobody.status_code, nobody.json()["code"]) == (401, "invalid_credentials")


def test_missing_and_forged_tokens_are_401(client: httpx.Client) -> None:
    auth = sign_up(client, "frank")
    missing = client.get("/v1/feed/for-you")
    assert (missing.status_code, missing.json()["code"]) == (401, "missing_token")
    forged = auth["Authorization"][:-4] + "0000"
    bad = client.get("/v1/feed/for-you", headers={"Authorization": forged})
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_token")
    assert client.get("/v1/feed/for-you", headers=auth).status_code == 200


def test_expired_token_is_401(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path / "r", session_ttl_s=1)).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            auth = sign_up(client, "grace")
            assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
            time.sleep(1.1)
            expired = client.get("/v1/feed/for-you", headers=auth)
            assert (expired.status_code, expired.json()["code"]) == (401, "token_expired")
    finally:
        live.stop()


def test_unknown_profile_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/accounts/nobody")
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


def test_username_with_trailing_newline_is_refused(client: httpx.Client) -> None:
    sign_up(client, "alice")
    twin = client.post("/v1/accounts", json={"username": "alice\n", "password": PASSWORD})
    assert (twin.status_code, twin.json()["code"]) == (422, "invalid_username")
    assert health(client)["log_seq"] == 2  # alice's sign-up and log-in


def test_sign_up_schema_states_the_username_and_password_rules(client: httpx.Client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    username = schemas["SignUp"]["properties"]["username"]
    assert (username["minLength"], username["maxLength"]) == (3, 30)
    assert username["pattern"] == "^[A-Za-z0-9_.]{3,30}$"
    assert schemas["SignUp"]["properties"]["password"]["minLength"] == 8
