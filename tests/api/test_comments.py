"""Comments: post, list, delete own, limits."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import health, sign_up, upload


def test_post_list_and_delete_comments(client: httpx.Client, video_file: Path) -> None:
    alice = sign_up(client, "alice")
    bob = sign_up(client, "bob")
    video_id = upload(client, alice, video_file).json()["id"]
    first = client.post(f"/v1/videos/{video_id}/comments", json={"text": " nice "}, headers=bob)
    assert first.status_code == 201
    assert first.json()["text"] == "nice" and first.json()["author"]["username"] == "bob"
    client.post(f"/v1/videos/{video_id}/comments", json={"text": "thanks"}, headers=alice)
    listed = client.get(f"/v1/videos/{video_id}/comments").json()
    assert [c["text"] for c in listed] == ["nice", "thanks"]
    assert client.get(f"/v1/videos/{video_id}").json()["counts"]["comments"] == 2

    comment_id = first.json()["id"]
    forbidden = client.delete(f"/v1/comments/{comment_id}", headers=alice)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "not_author")
    assert client.delete(f"/v1/comments/{comment_id}", headers=bob).status_code == 200
    assert [c["text"] for c in client.get(f"/v1/videos/{video_id}/comments").json()] == ["thanks"]
    (thanks,) = client.get(f"/v1/videos/{video_id}/comments").json()
    page = client.get(f"/v1/videos/{video_id}/comments", params={"after": thanks["id"]}).json()
    assert page == []
    bad = client.get(f"/v1/videos/{video_id}/comments", params={"after": "c_nope"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")


def test_comment_limits_and_unknown_video(client: httpx.Client, video_file: Path) -> None:
    alice = sign_up(client, "alice")
    video_id = upload(client, alice, video_file).json()["id"]
    before = health(client)["log_seq"]
    too_long = client.post(
        f"/v1/videos/{video_id}/comments", json={"text": "x" * 501}, headers=alice
    )
    assert (too_long.status_code, too_long.json()["code"]) == (422, "comment_too_long")
    just_fits = client.post(
        f"/v1/videos/{video_id}/comments", json={"text": "x" * 500}, headers=alice
    )
    assert just_fits.status_code == 201
    empty = client.post(f"/v1/videos/{video_id}/comments", json={"text": "  "}, headers=alice)
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_comment")
    missing = client.post("/v1/videos/v_nope/comments", json={"text": "hi"}, headers=alice)
    assert (missing.status_code, missing.json()["code"]) == (404, "video_not_found")
    assert health(client)["log_seq"] == before + 1
