"""Follows, the Following feed and the For You feed."""

from __future__ import annotations

from pathlib import Path

import httpx

from stormproof.media import make_video
from tests.conftest import sign_up, upload


def _clips(folder: Path, n: int) -> list[Path]:
    return [make_video(folder / f"c{i}.mp4", seconds=0.5, seed=100 + i) for i in range(n)]


def test_follow_unfollow_and_following_feed(client: httpx.Client, tmp_path: Path) -> None:
    alice, bob, carol = (sign_up(client, n) for n in ("alice", "bob", "carol"))
    clips = _clips(tmp_path, 3)
    ids = [upload(client, bob, clip).json()["id"] for clip in clips]
    upload(client, carol, clips[0])
    assert client.post("/v1/follows/bob", headers=alice).status_code == 201
    assert client.get("/v1/accounts/bob").json()["followers"] == 1
    assert client.get("/v1/accounts/alice").json()["following"] == 1

    page = client.get("/v1/feed/following", params={"limit": 2}, headers=alice).json()
    assert [i["video"]["id"] for i in page["items"]] == [ids[2], ids[1]]
    rest = client.get(
        "/v1/feed/following", params={"cursor": page["next_cursor"]}, headers=alice
    ).json()
    assert [i["video"]["id"] for i in rest["items"]] == [ids[0]]

    assert client.delete("/v1/follows/bob", headers=alice).status_code == 200
    assert client.get("/v1/feed/following", headers=alice).json()["items"] == []


def test_follow_errors(client: httpx.Client) -> None:
    alice = sign_up(client, "alice")
    nobody = client.post("/v1/follows/nobody", headers=alice)
    assert (nobody.status_code, nobody.json()["code"]) == (404, "user_not_found")
    myself = client.post("/v1/follows/alice", headers=alice)
    assert (myself.status_code, myself.json()["code"]) == (422, "cannot_follow_self")


def test_for_you_never_repeats_and_is_never_empty_while_unseen_exist(
    client: httpx.Client, tmp_path: Path
) -> None:
    creators = [sign_up(client, f"creator{i}") for i in range(3)]
    viewer = sign_up(client, "viewer")
    clips = _clips(tmp_path, 6)
    all_ids = {upload(client, creators[i % 3], clip).json()["id"] for i, clip in enumerate(clips)}

    # Paging with the cursor visits every video exactly once.
    served: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/feed/for-you", params=params, headers=viewer).json()
        if not page["items"]:
            break
        served += [item["video"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(served) == sorted(all_ids)

    # Watched and not-interested videos never come back.
    watched, hidden = served[0], served[1]
    client.post(
        "/v1/events",
        json={"events": [
            {"type": "watch", "video_id": watched, "watched_ms": 400, "completed": True},
            {"type": "not_interested", "video_id": hidden},
        ]},
        headers=viewer,
    )  # fmt: skip
    fresh = client.get("/v1/feed/for-you", params={"limit": 50}, headers=viewer).json()
    shown = {item["video"]["id"] for item in fresh["items"]}
    assert shown == all_ids - {watched, hidden}

    # Watch everything but one: the feed still shows that one.
    last = sorted(shown)[0]
    events = [{"type": "watch", "video_id": v, "watched_ms": 100} for v in shown - {last}]
    client.post("/v1/events", json={"events": events}, headers=viewer)
    final = client.get("/v1/feed/for-you", headers=viewer).json()
    assert [item["video"]["id"] for item in final["items"]] == [last]


def test_for_you_explains_and_caps_videos_per_creator(client: httpx.Client, tmp_path: Path) -> None:
    busy, quiet = sign_up(client, "busy"), sign_up(client, "quiet")
    viewer = sign_up(client, "viewer")
    clips = _clips(tmp_path, 5)
    for clip in clips[:4]:
        upload(client, busy, clip)
    quiet_id = upload(client, quiet, clips[4]).json()["id"]
    client.post("/v1/follows/quiet", headers=viewer)
    page = client.get("/v1/feed/for-you", params={"limit": 3, "explain": 1}, headers=viewer).json()
    items = page["items"]
    owners = [item["video"]["owner"]["username"] for item in items]
    assert owners.count("busy") == 2 and owners.count("quiet") == 1
    assert items[0]["video"]["id"] == quiet_id
    assert "followed" in items[0]["explain"]["sources"]
    assert all(item["explain"]["signals"] for item in items)
    plain = client.get("/v1/feed/for-you", params={"limit": 3}, headers=viewer).json()
    assert all(item["explain"] is None for item in plain["items"])

    # Regression: an unfollow must take the "followed" boost away.
    client.delete("/v1/follows/quiet", headers=viewer)
    after = client.get("/v1/feed/for-you", params={"limit": 5, "explain": 1}, headers=viewer)
    quiet_item = next(i for i in after.json()["items"] if i["video"]["id"] == quiet_id)
    assert "followed" not in quiet_item["explain"]["sources"]


def test_an_unlike_takes_the_like_out_of_trending(client: httpx.Client, tmp_path: Path) -> None:
    creator, fan, viewer = (sign_up(client, n) for n in ("creator", "fan", "viewer"))
    video_id = upload(client, creator, _clips(tmp_path, 1)[0]).json()["id"]

    def trending() -> float:
        page = client.get("/v1/feed/for-you", params={"explain": 1}, headers=viewer).json()
        return float(page["items"][0]["explain"]["signals"]["trending"])

    assert trending() == 0
    client.post("/v1/events", json={"events": [{"type": "like", "video_id": video_id}]},
                headers=fan)  # fmt: skip
    assert trending() > 0
    client.post("/v1/events", json={"events": [{"type": "unlike", "video_id": video_id}]},
                headers=fan)  # fmt: skip
    assert trending() == 0


def test_a_forged_cursor_is_400(client: httpx.Client) -> None:
    viewer = sign_up(client, "viewer")
    response = client.get("/v1/feed/for-you", params={"cursor": "%%%"}, headers=viewer)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_a_profile_says_whether_you_follow_it(client: httpx.Client) -> None:
    alice = sign_up(client, "alice")
    sign_up(client, "bob")
    assert client.get("/v1/accounts/bob").json()["followed_by_you"] is None  # no token
    assert client.get("/v1/accounts/bob", headers=alice).json()["followed_by_you"] is False
    client.post("/v1/follows/bob", headers=alice)
    assert client.get("/v1/accounts/bob", headers=alice).json()["followed_by_you"] is True
    assert client.get("/v1/accounts/alice", headers=alice).json()["followed_by_you"] is False
    client.delete("/v1/follows/bob", headers=alice)
    assert client.get("/v1/accounts/bob", headers=alice).json()["followed_by_you"] is False
