"""Your watch history: what you watched, most recent first, only for you."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import sign_up, upload


def test_watch_history_lists_what_you_watched_newest_first_and_pages(
    client: httpx.Client, video_file: Path
) -> None:
    creator, viewer = sign_up(client, "creator"), sign_up(client, "viewer")
    ids = [upload(client, creator, video_file, caption=f"clip {n}").json()["id"] for n in range(3)]
    for video_id in ids:  # one after another: each write's time is later
        event = {"type": "watch", "video_id": video_id, "watched_ms": 1500, "completed": True}
        answer = client.post("/v1/events", json={"events": [event]}, headers=viewer)
        assert answer.status_code == 202, answer.text
    skip = {"type": "skip", "video_id": ids[0]}
    client.post("/v1/events", json={"events": [skip]}, headers=creator)

    first = client.get("/v1/account/history", params={"limit": 2}, headers=viewer).json()
    assert [i["video"]["id"] for i in first["items"]] == [ids[2], ids[1]]
    assert first["items"][0]["completed"] and first["items"][0]["watched_ms"] == 1500
    rest = client.get(
        "/v1/account/history", params={"limit": 2, "cursor": first["next_cursor"]}, headers=viewer
    ).json()
    assert [i["video"]["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    # A skip is not a watch; someone else's history is not yours.
    assert client.get("/v1/account/history", headers=creator).json()["items"] == []
    # A deleted video leaves the history.
    client.delete(f"/v1/videos/{ids[2]}", headers=creator)
    after = client.get("/v1/account/history", headers=viewer).json()
    assert [i["video"]["id"] for i in after["items"]] == [ids[1], ids[0]]
    assert client.get("/v1/account/history").status_code == 401


def test_a_history_cursor_we_did_not_give_out_is_a_400(client: httpx.Client) -> None:
    viewer = sign_up(client, "viewer")
    for cursor in ("nonsense", "²:v_1", "1:" + "x" * 65):
        answer = client.get("/v1/account/history", params={"cursor": cursor}, headers=viewer)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_cursor")
