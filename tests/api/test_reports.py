"""``POST /v1/reports``: one report per person per video or comment."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import health, sign_up, upload


def _seq(client: httpx.Client) -> int:
    return int(health(client)["log_seq"])


def test_a_report_is_filed_once_per_person_and_target(
    client: httpx.Client, video_file: Path
) -> None:
    creator, viewer = sign_up(client, "creator"), sign_up(client, "viewer")
    video_id = upload(client, creator, video_file).json()["id"]
    body = {"target": "video", "id": video_id, "reason": "spam", "note": "  the same ad  "}
    first = client.post("/v1/reports", json=body, headers=viewer)
    assert first.status_code == 201, first.text
    filed = first.json()
    assert (filed["target"], filed["target_id"], filed["reason"]) == ("video", video_id, "spam")
    assert filed["note"] == "the same ad"
    before = _seq(client)
    again = client.post("/v1/reports", json={**body, "reason": "other"}, headers=viewer)
    assert again.status_code == 201 and again.json() == filed  # the first report, again
    assert _seq(client) == before
    other = client.post("/v1/reports", json=body, headers=creator)
    assert other.status_code == 201 and other.json()["id"] != filed["id"]

    comment = client.post(f"/v1/videos/{video_id}/comments", json={"text": "x"}, headers=creator)
    on_comment = {"target": "comment", "id": comment.json()["id"], "reason": "harassment"}
    assert client.post("/v1/reports", json=on_comment, headers=viewer).status_code == 201


def test_bad_reports_are_refused_and_store_nothing(client: httpx.Client, video_file: Path) -> None:
    viewer = sign_up(client, "viewer")
    video_id = upload(client, viewer, video_file).json()["id"]
    before = _seq(client)
    cases = {
        (404, "video_not_found"): {"target": "video", "id": "v_nope", "reason": "spam"},
        (404, "comment_not_found"): {"target": "comment", "id": "c_nope", "reason": "spam"},
        (422, "invalid_target"): {"target": "account", "id": video_id, "reason": "spam"},
        (422, "invalid_reason"): {"target": "video", "id": video_id, "reason": "boring"},
        (422, "note_too_long"): {
            "target": "video", "id": video_id, "reason": "other", "note": "n" * 1001
        },
    }  # fmt: skip
    for (status, code), body in cases.items():
        response = client.post("/v1/reports", json=body, headers=viewer)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    anonymous = {"target": "video", "id": video_id, "reason": "spam"}
    assert client.post("/v1/reports", json=anonymous).status_code == 401
    assert _seq(client) == before
