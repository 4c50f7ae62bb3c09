"""The For You endpoint on the engine: freshness, explanations, reset."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.test_follows_and_feeds import _clips
from tests.conftest import health, sign_up, upload


def _complete(client: httpx.Client, auth: dict[str, str], *videos: str) -> int:
    events = [
        {"type": "watch", "video_id": v, "watched_ms": 500, "completed": True} for v in videos
    ]
    response = client.post("/v1/events", json={"events": events}, headers=auth)
    assert response.status_code == 202, response.text
    seq: int = response.json()["seq"]
    return seq


def _feed(client: httpx.Client, auth: dict[str, str], **params: object) -> list[dict[str, object]]:
    response = client.get("/v1/feed/for-you", params={"explain": 1, **params}, headers=auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_the_next_page_already_reflects_an_acknowledged_interaction(
    client: httpx.Client, tmp_path: Path
) -> None:
    creator = sign_up(client, "creator")
    a, b, c, d = (upload(client, creator, clip).json()["id"] for clip in _clips(tmp_path, 4))
    for n, pair in enumerate([(a, b), (a, b), (c, d), (c, d)]):
        _complete(client, sign_up(client, f"fan{n}"), *pair)
    viewer = sign_up(client, "viewer")

    seq = _complete(client, viewer, c)
    first = _feed(client, viewer, limit=1, min_seq=seq)[0]
    assert first["video"]["id"] == d  # type: ignore[index]
    explain = first["explain"]
    assert "collaborative" in explain["sources"] and explain["because_of"] == [c]  # type: ignore[index]
    assert {"p_complete", "p_like", "p_share", "p_skip", "trending"} <= set(explain["signals"])  # type: ignore[index]


def test_a_reset_starts_for_you_over(client: httpx.Client, tmp_path: Path) -> None:
    creator = sign_up(client, "creator")
    a, b, c = (upload(client, creator, clip).json()["id"] for clip in _clips(tmp_path, 3))
    fan, viewer = sign_up(client, "fan"), sign_up(client, "viewer")
    _complete(client, fan, a, b)
    _complete(client, viewer, a)
    assert _feed(client, viewer)[0]["explain"]["because_of"] == [a]  # type: ignore[index]

    reset = client.post("/v1/feed/for-you/reset", headers={**viewer, "Idempotency-Key": "r1"})
    assert reset.status_code == 200, reset.text
    again = client.post("/v1/feed/for-you/reset", headers={**viewer, "Idempotency-Key": "r1"})
    assert again.json() == reset.json() and again.headers["Idempotent-Replayed"] == "true"
    page = _feed(client, viewer, min_seq=reset.json()["seq"])
    assert [item["video"]["id"] for item in page] and a not in [i["video"]["id"] for i in page]  # type: ignore[index]
    assert all(item["explain"]["because_of"] == [] for item in page)  # type: ignore[index]
    assert c in [item["video"]["id"] for item in page]  # type: ignore[index]


def test_a_reset_needs_a_session(client: httpx.Client) -> None:
    response = client.post("/v1/feed/for-you/reset")
    assert (response.status_code, response.json()["code"]) == (401, "missing_token")
    assert health(client)["log_seq"] == 0  # nothing stored
