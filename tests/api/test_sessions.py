"""Log-out, session lists, password changes and account deletion over real
HTTP: every ending is an event, so it holds in every region and after a restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from stormproof.settings import Settings
from tests.conftest import PASSWORD, LiveServer, health, sign_up, upload

NEW_PASSWORD = "a brand new passphrase"


def log_in(client: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    session = client.post("/v1/sessions", json={"username": username, "password": password})
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_revoked_token_is_refused_also_after_a_restart(settings: Settings) -> None:
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            auth = sign_up(client, "ann")
            other = log_in(client, "ann")
            out = client.delete("/v1/sessions", headers=auth)
            assert out.status_code == 200 and out.json()["seq"] >= 1
            assert code(client.get("/v1/feed/for-you", headers=auth)) == (401, "session_ended")
            assert client.get("/v1/feed/for-you", headers=other).status_code == 200
    finally:
        live.stop()
    again = LiveServer(settings).start()  # the views, rebuilt or resumed, know it
    try:
        with httpx.Client(base_url=again.url) as client:
            assert code(client.get("/v1/feed/for-you", headers=auth)) == (401, "session_ended")
            assert client.get("/v1/feed/for-you", headers=other).status_code == 200
    finally:
        again.stop()


def test_sessions_list_marks_the_current_one_and_hides_ended_ones(client: httpx.Client) -> None:
    first = sign_up(client, "ben")
    second = log_in(client, "ben")
    listed = client.get("/v1/sessions", headers=second).json()
    assert len(listed) == 2 and [s["current"] for s in listed] == [True, False]
    assert all(s["expires_at"] > s["created_at"] > 0 for s in listed)
    first_id = listed[1]["id"]
    ended = client.delete(f"/v1/sessions/{first_id}", headers=second)
    assert ended.status_code == 200
    assert [s["id"] for s in client.get("/v1/sessions", headers=second).json()] == [listed[0]["id"]]
    assert code(client.get("/v1/sessions", headers=first)) == (401, "session_ended")
    again = client.delete(f"/v1/sessions/{first_id}", headers=second)
    assert code(again) == (404, "session_not_found")


def test_someone_elses_session_is_404_and_stays_live(client: httpx.Client) -> None:
    cat = sign_up(client, "cat")
    dan = sign_up(client, "dan")
    cat_session = client.get("/v1/sessions", headers=cat).json()[0]["id"]
    before = health(client)["log_seq"]
    response = client.delete(f"/v1/sessions/{cat_session}", headers=dan)
    assert code(response) == (404, "session_not_found")
    assert health(client)["log_seq"] == before
    assert client.get("/v1/sessions", headers=cat).status_code == 200


def test_password_change_revokes_other_sessions_but_keeps_the_current_one(
    client: httpx.Client,
) -> None:
    phone = sign_up(client, "eve")
    laptop = log_in(client, "eve")
    changed = client.post(
        "/v1/account/password",
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=laptop,
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/v1/sessions", headers=laptop).status_code == 200
    assert code(client.get("/v1/sessions", headers=phone)) == (401, "session_ended")
    old = client.post("/v1/sessions", json={"username": "eve", "password": PASSWORD})
    assert code(old) == (401, "invalid_credentials")
    fresh = log_in(client, "eve", NEW_PASSWORD)  # a session after the change lives
    assert len(client.get("/v1/sessions", headers=fresh).json()) == 2


def test_password_change_needs_the_old_password_and_a_strong_new_one(
    client: httpx.Client,
) -> None:
    auth = sign_up(client, "fay")
    before = health(client)["log_seq"]
    wrong = client.post(
        "/v1/account/password",
        json={"old_password": "not my password", "new_password": NEW_PASSWORD},
        headers=auth,
    )
    assert code(wrong) == (403, "wrong_password")
    weak = client.post(
        "/v1/account/password",
        json={"old_password": PASSWORD, "new_password": "short"},
        headers=auth,
    )
    assert code(weak) == (422, "weak_password")
    assert health(client)["log_seq"] == before


def test_deleted_account_ends_sessions_hides_videos_and_comments_keeps_messages(
    client: httpx.Client, video_file: Path
) -> None:
    gus = sign_up(client, "gus")
    hal = sign_up(client, "hal")
    client.post("/v1/follows/gus", headers=hal).raise_for_status()
    video_id = upload(client, gus, video_file).json()["id"]
    hal_video = upload(client, hal, video_file).json()["id"]
    client.post(f"/v1/videos/{hal_video}/comments", json={"text": "hi"}, headers=gus)
    client.post("/v1/messages", json={"to": "hal", "text": "bye"}, headers=gus)

    wrong = client.request("DELETE", "/v1/account", json={"password": "nope nope"}, headers=gus)
    assert code(wrong) == (403, "wrong_password")
    deleted = client.request("DELETE", "/v1/account", json={"password": PASSWORD}, headers=gus)
    assert deleted.status_code == 200, deleted.text

    assert code(client.get("/v1/feed/for-you", headers=gus)) == (401, "account_deleted")
    login = client.post("/v1/sessions", json={"username": "gus", "password": PASSWORD})
    assert code(login) == (401, "invalid_credentials")
    assert code(client.get("/v1/accounts/gus")) == (404, "user_not_found")
    assert client.get(f"/v1/videos/{video_id}").status_code == 404
    assert client.get("/v1/feed/following", headers=hal).json()["items"] == []
    assert client.get(f"/v1/videos/{hal_video}/comments").json() == []
    assert client.get(f"/v1/videos/{hal_video}").json()["counts"]["comments"] == 0
    conversations = client.get("/v1/conversations", headers=hal).json()
    assert [c["with_user"] for c in conversations] == ["[deleted]"]
    assert conversations[0]["last"]["sender"] == "[deleted]"
    assert conversations[0]["last"]["text"] == "bye"
    # The name is retired: nobody can take it and receive what was meant for gus.
    taken = client.post("/v1/accounts", json={"username": "gus", "password": PASSWORD})
    assert code(taken) == (409, "username_taken")
    assert code(client.post("/v1/messages", json={"to": "gus", "text": "?"}, headers=hal)) == (
        404,
        "user_not_found",
    )
