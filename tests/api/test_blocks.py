"""Blocks: no messages or follows either way, follows end, feeds hide each other."""

from __future__ import annotations

from pathlib import Path

import httpx

from stormproof.media import make_video
from tests.conftest import health, sign_up, upload


def _seq(client: httpx.Client) -> int:
    return int(health(client)["log_seq"])


def _feed(client: httpx.Client, auth: dict[str, str], which: str) -> set[str]:
    page = client.get(f"/v1/feed/{which}", params={"limit": 50}, headers=auth).json()
    return {item["video"]["id"] for item in page["items"]}


def test_block_list_unblock_and_errors(client: httpx.Client) -> None:
    alice, _ = sign_up(client, "alice"), sign_up(client, "bob")
    assert client.post("/v1/blocks/bob", headers=alice).status_code == 201
    assert [u["username"] for u in client.get("/v1/blocks", headers=alice).json()] == ["bob"]
    assert client.delete("/v1/blocks/bob", headers=alice).status_code == 200
    assert client.get("/v1/blocks", headers=alice).json() == []
    before = _seq(client)
    nobody = client.post("/v1/blocks/nobody", headers=alice)
    assert (nobody.status_code, nobody.json()["code"]) == (404, "user_not_found")
    myself = client.post("/v1/blocks/alice", headers=alice)
    assert (myself.status_code, myself.json()["code"]) == (422, "cannot_block_self")
    assert client.post("/v1/blocks/bob").status_code == 401
    assert _seq(client) == before


def test_a_block_stops_messages_both_ways(client: httpx.Client) -> None:
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    assert client.post("/v1/messages", json={"to": "bob", "text": "hi"}, headers=alice).is_success
    client.post("/v1/blocks/bob", headers=alice)
    before = _seq(client)
    for sender, to in ((alice, "bob"), (bob, "alice")):
        sent = client.post("/v1/messages", json={"to": to, "text": "hey"}, headers=sender)
        assert (sent.status_code, sent.json()["code"]) == (403, "blocked")
    assert _seq(client) == before
    client.delete("/v1/blocks/bob", headers=alice)
    assert client.post("/v1/messages", json={"to": "alice", "text": "ok"}, headers=bob).is_success


def test_a_block_ends_follows_both_ways_and_refuses_new_ones(client: httpx.Client) -> None:
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    client.post("/v1/follows/bob", headers=alice)
    client.post("/v1/follows/alice", headers=bob)
    assert client.get("/v1/accounts/bob").json()["followers"] == 1
    client.post("/v1/blocks/alice", headers=bob)
    for name in ("alice", "bob"):
        profile = client.get(f"/v1/accounts/{name}").json()
        assert (profile["followers"], profile["following"]) == (0, 0)
    for follower, followee in ((alice, "bob"), (bob, "alice")):
        refused = client.post(f"/v1/follows/{followee}", headers=follower)
        assert (refused.status_code, refused.json()["code"]) == (403, "blocked")
    # The follows a block ended stay ended after the unblock; a new follow counts.
    client.delete("/v1/blocks/alice", headers=bob)
    assert client.get("/v1/accounts/bob").json()["followers"] == 0
    assert client.post("/v1/follows/bob", headers=alice).status_code == 201
    assert client.get("/v1/accounts/bob").json()["followers"] == 1


def test_a_block_hides_each_others_videos_from_both_feeds(
    client: httpx.Client, tmp_path: Path
) -> None:
    alice, bob, carol = (sign_up(client, n) for n in ("alice", "bob", "carol"))
    clips = [make_video(tmp_path / f"b{i}.mp4", seconds=0.5, seed=300 + i) for i in range(3)]
    of_alice = upload(client, alice, clips[0]).json()["id"]
    of_bob = upload(client, bob, clips[1]).json()["id"]
    of_carol = upload(client, carol, clips[2]).json()["id"]
    client.post("/v1/follows/bob", headers=alice)
    client.post("/v1/follows/alice", headers=bob)
    assert of_bob in _feed(client, alice, "for-you") and of_alice in _feed(client, bob, "for-you")
    assert _feed(client, alice, "following") == {of_bob}

    client.post("/v1/blocks/alice", headers=bob)  # bob blocks: hidden both ways
    # (a page ends with the user's own videos once nothing else is left)
    assert _feed(client, alice, "for-you") == {of_carol, of_alice}
    assert _feed(client, bob, "for-you") == {of_carol, of_bob}
    assert _feed(client, alice, "following") == set() == _feed(client, bob, "following")

    client.delete("/v1/blocks/alice", headers=bob)
    assert _feed(client, alice, "for-you") == {of_bob, of_carol, of_alice}
    assert _feed(client, alice, "following") == set()  # the block ended the follow


def test_a_blocker_no_longer_sees_the_blocked_persons_comments(
    client: httpx.Client, video_file: Path
) -> None:
    alice, bob, carol = (sign_up(client, n) for n in ("alice", "bob", "carol"))
    video_id = upload(client, carol, video_file).json()["id"]
    for author, text in ((bob, "from bob"), (carol, "from carol")):
        client.post(f"/v1/videos/{video_id}/comments", json={"text": text}, headers=author)
    client.post("/v1/blocks/bob", headers=alice)

    def texts(headers: dict[str, str]) -> list[str]:
        listed = client.get(f"/v1/videos/{video_id}/comments", headers=headers)
        assert listed.status_code == 200, listed.text
        return [c["text"] for c in listed.json()]

    assert texts(alice) == ["from carol"]
    assert texts({}) == texts(carol) == ["from bob", "from carol"]
    bad = client.get(f"/v1/videos/{video_id}/comments", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401
