"""``POST /v1/events``: batches accepted whole or rejected whole."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from stormproof.views.engagement import WINDOW_MS
from tests.conftest import health, sign_up, upload


def _video(client: httpx.Client, video_file: Path) -> tuple[dict[str, str], str]:
    creator = sign_up(client, "creator")
    return creator, upload(client, creator, video_file).json()["id"]


def _seq(client: httpx.Client) -> int:
    return int(health(client)["log_seq"])


def test_a_batch_updates_counts(client: httpx.Client, video_file: Path) -> None:
    _, video_id = _video(client, video_file)
    viewer = sign_up(client, "viewer")
    batch = {
        "events": [
            {"type": "watch", "video_id": video_id, "watched_ms": 2000, "completed": True},
            {"type": "like", "video_id": video_id},
            {"type": "like", "video_id": video_id},
            {"type": "share", "video_id": video_id},
        ]
    }
    response = client.post("/v1/events", json=batch, headers=viewer)
    assert response.status_code == 202
    assert response.json()["accepted"] == 4 and response.json()["seq"] == _seq(client)
    counts = client.get(f"/v1/videos/{video_id}").json()["counts"]
    assert counts == {"views": 1, "likes": 1, "comments": 0, "shares": 1, "completions": 1}
    client.post("/v1/events", json={"events": [{"type": "unlike", "video_id": video_id}]},
                headers=viewer)  # fmt: skip
    assert client.get(f"/v1/videos/{video_id}").json()["counts"]["likes"] == 0


def test_unknown_event_type_rejects_the_whole_batch(client: httpx.Client, video_file: Path) -> None:
    _, video_id = _video(client, video_file)
    viewer = sign_up(client, "viewer")
    before = _seq(client)
    batch = {
        "events": [
            {"type": "like", "video_id": video_id},
            {"type": "teleport", "video_id": video_id},
        ]
    }
    response = client.post("/v1/events", json=batch, headers=viewer)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_event_type"
    assert response.json()["index"] == 1
    assert _seq(client) == before
    assert client.get(f"/v1/videos/{video_id}").json()["counts"]["likes"] == 0


def test_unknown_video_rejects_the_whole_batch(client: httpx.Client, video_file: Path) -> None:
    _, video_id = _video(client, video_file)
    viewer = sign_up(client, "viewer")
    before = _seq(client)
    batch = {
        "events": [{"type": "like", "video_id": video_id}, {"type": "like", "video_id": "v_x"}]
    }
    response = client.post("/v1/events", json=batch, headers=viewer)
    assert (response.status_code, response.json()["code"]) == (422, "unknown_video")
    assert _seq(client) == before


def test_invalid_fields_and_empty_batches_are_422(client: httpx.Client, video_file: Path) -> None:
    _, video_id = _video(client, video_file)
    viewer = sign_up(client, "viewer")
    before = _seq(client)
    cases = {
        "empty_batch": {"events": []},
        "invalid_event": {"events": [{"type": "watch", "video_id": video_id, "watched_ms": -5}]},
    }
    for code, batch in cases.items():
        response = client.post("/v1/events", json=batch, headers=viewer)
        assert (response.status_code, response.json()["code"]) == (422, code)
    extra = {"events": [{"type": "like", "video_id": video_id, "bogus": 1}]}
    response = client.post("/v1/events", json=extra, headers=viewer)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_event")
    assert _seq(client) == before


def test_a_retried_batch_counts_once(client: httpx.Client, video_file: Path) -> None:
    _, video_id = _video(client, video_file)
    viewer = {**sign_up(client, "viewer"), "Idempotency-Key": "batch-7"}
    batch = {"events": [{"type": "watch", "video_id": video_id, "watched_ms": 500}]}
    first = client.post("/v1/events", json=batch, headers=viewer)
    second = client.post("/v1/events", json=batch, headers=viewer)
    assert first.json()["seq"] == second.json()["seq"]
    assert client.get(f"/v1/videos/{video_id}").json()["counts"]["views"] == 1


def test_repeated_watches_by_one_person_count_once_per_window(
    client: httpx.Client, video_file: Path
) -> None:
    # Regression: one person could add unlimited views, completions and
    # shares to any video with a few requests.
    _, video_id = _video(client, video_file)
    viewer = sign_up(client, "viewer")
    # Pinned to the middle of a counting window, so no boundary falls in the test.
    start = (int(time.time() * 1000) // WINDOW_MS - 2) * WINDOW_MS + WINDOW_MS // 2
    watch = {"type": "watch", "video_id": video_id, "watched_ms": 2000, "completed": True}
    share = {"type": "share", "video_id": video_id}

    def send(at: int, events: list[dict[str, object]]) -> None:
        headers = {**viewer, "Stormproof-Write-At": str(at)}
        response = client.post("/v1/events", json={"events": events}, headers=headers)
        assert response.status_code == 202, response.text

    send(start, [watch] * 50 + [share] * 20)
    for n in range(1, 6):
        send(start + n * 1000, [watch, share])
    counts = client.get(f"/v1/videos/{video_id}").json()["counts"]
    assert (counts["views"], counts["completions"], counts["shares"]) == (1, 1, 1)
    send(start + WINDOW_MS, [watch, share])  # the next window counts again
    counts = client.get(f"/v1/videos/{video_id}").json()["counts"]
    assert (counts["views"], counts["completions"], counts["shares"]) == (2, 2, 2)
