"""An Idempotency-Key sent again with the same request gets the first answer;
sent with a different one it is 422 ``idempotency_key_reused`` and nothing is
stored (issue 10: a message meant for someone else went nowhere, a sign-up's
new password was dropped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from stormproof.media import make_video
from tests.conftest import PASSWORD, health, sign_up, upload


def _reused(answer: httpx.Response) -> bool:
    return (answer.status_code, answer.json().get("code")) == (422, "idempotency_key_reused")


def _twice(
    client: httpx.Client, path: str, first: dict[str, Any], second: dict[str, Any], **kw: Any
) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """The first request, the same one again, then another body under the key."""
    headers = {**kw.pop("headers", {}), "Idempotency-Key": "the-key"}
    made = client.post(path, json=first, headers=headers, **kw)
    again = client.post(path, json=first, headers=headers, **kw)
    before = health(client)["log_seq"]
    other = client.post(path, json=second, headers=headers, **kw)
    assert health(client)["log_seq"] == before  # nothing stored
    return made, again, other


def test_a_message_key_reused_for_another_recipient_or_text_is_refused(
    client: httpx.Client,
) -> None:
    alice = sign_up(client, "alice")
    sign_up(client, "bob")
    sign_up(client, "carol")
    hi_bob = {"to": "bob", "text": "hi"}
    made, again, other = _twice(client, "/v1/messages", hi_bob, {"to": "carol", "text": "hi"},
                                headers=alice)  # fmt: skip
    assert made.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == made.json()["id"] and _reused(other)
    headers = {**alice, "Idempotency-Key": "the-key"}
    other_text = client.post("/v1/messages", json={"to": "bob", "text": "bye"}, headers=headers)
    assert _reused(other_text)


def test_a_sign_up_key_reused_with_another_password_is_refused(client: httpx.Client) -> None:
    first = {"username": "dora", "password": PASSWORD}
    made, again, other = _twice(
        client, "/v1/accounts", first, {"username": "dora", "password": "another password"}
    )
    assert made.status_code == 201 and again.status_code == 201 and _reused(other)
    assert again.json()["id"] == made.json()["id"]


def test_comment_and_interaction_keys_reused_with_other_bodies_are_refused(
    client: httpx.Client, video_file: Path
) -> None:
    ann = sign_up(client, "ann")
    video = upload(client, ann, video_file).json()["id"]
    made, again, other = _twice(client, f"/v1/videos/{video}/comments", {"text": "nice"},
                                {"text": "rude"}, headers=ann)  # fmt: skip
    assert made.status_code == 201 and again.status_code == 201 and _reused(other)
    watch = {"events": [{"type": "watch", "video_id": video, "watched_ms": 1000}]}
    like = {"events": [{"type": "like", "video_id": video}]}
    made, again, other = _twice(client, "/v1/events", watch, like, headers=ann)
    assert made.status_code == 202 and again.status_code == 202 and _reused(other)


def test_an_upload_key_reused_with_another_file_or_caption_is_refused(
    client: httpx.Client, video_file: Path, tmp_path: Path
) -> None:
    ann = sign_up(client, "ann")
    key = {"Idempotency-Key": "upload-key"}
    made = upload(client, ann, video_file, caption="one", headers=key)
    again = upload(client, ann, video_file, caption="one", headers=key)
    assert made.status_code == 201 and again.json()["id"] == made.json()["id"]
    assert _reused(upload(client, ann, video_file, caption="two", headers=key))
    other = make_video(tmp_path / "other.mp4", seconds=0.5, seed=9, width=64, height=64)
    assert _reused(upload(client, ann, other, caption="one", headers=key))


def test_a_password_change_key_reused_with_another_password_is_refused(
    client: httpx.Client,
) -> None:
    ann = sign_up(client, "ann")
    change = {"old_password": PASSWORD, "new_password": "a brand new password"}
    headers = {**ann, "Idempotency-Key": "pw"}
    assert client.post("/v1/account/password", json=change, headers=headers).status_code == 200
    again = client.post("/v1/account/password", json=change, headers=headers)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    other = {**change, "new_password": "yet another password"}
    assert _reused(client.post("/v1/account/password", json=other, headers=headers))
