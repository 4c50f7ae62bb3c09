"""Uploads validated with PyAV, playback with ranges, thumbnails, deletion."""

from __future__ import annotations

from pathlib import Path

import httpx

from stormproof.media import make_video
from tests.conftest import LiveServer, health, make_settings, sign_up, upload
from tests.media.clips import tiny_frames


def _stored(client: httpx.Client, server: LiveServer) -> tuple[int, int]:
    """(log sequence, number of blobs): what a rejected upload must not change."""
    blobs = sum(1 for p in server.settings.blobs_dir.glob("??/*") if p.is_file())
    return health(client)["log_seq"], blobs


def test_upload_then_read_play_and_thumbnail(client: httpx.Client, video_file: Path) -> None:
    auth = sign_up(client, "alice")
    response = upload(client, auth, video_file, caption="hello")
    assert response.status_code == 201, response.text
    video = response.json()
    assert video["width"] == 320 and video["height"] == 568
    assert 1900 <= video["duration_ms"] <= 2100
    assert video["codec"] and video["caption"] == "hello" and video["seq"] >= 1
    assert video["owner"]["username"] == "alice"

    fetched = client.get(f"/v1/videos/{video['id']}").json()
    assert fetched["counts"] == {
        "views": 0, "likes": 0, "comments": 0, "shares": 0, "completions": 0
    }  # fmt: skip

    full = client.get(f"/v1/videos/{video['id']}/file")
    assert full.status_code == 200
    assert full.content == video_file.read_bytes()
    assert full.headers["content-type"] == "video/mp4"

    part = client.get(f"/v1/videos/{video['id']}/file", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == video_file.read_bytes()[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{video_file.stat().st_size}"

    thumb = client.get(f"/v1/videos/{video['id']}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"
    assert client.get("/v1/accounts/alice").json()["videos"] == 1


def test_upload_with_the_same_key_creates_one_video(
    client: httpx.Client, server: LiveServer, video_file: Path
) -> None:
    auth = sign_up(client, "bob")
    key = {"Idempotency-Key": "upload-1"}
    first = upload(client, auth, video_file, headers=key)
    stored = _stored(client, server)
    second = upload(client, auth, video_file, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert _stored(client, server) == stored
    assert client.get("/v1/accounts/bob").json()["videos"] == 1


def test_truncated_file_is_rejected_and_nothing_stored(
    client: httpx.Client, server: LiveServer, video_file: Path, tmp_path: Path
) -> None:
    auth = sign_up(client, "carol")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video_file.read_bytes()[: video_file.stat().st_size // 2])
    before = _stored(client, server)
    response = upload(client, auth, truncated)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_video")
    assert _stored(client, server) == before


def test_text_file_named_mp4_is_rejected_and_nothing_stored(
    client: httpx.Client, server: LiveServer, tmp_path: Path
) -> None:
    auth = sign_up(client, "dave")
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 100)
    before = _stored(client, server)
    response = upload(client, auth, fake)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_video")
    assert _stored(client, server) == before


def test_oversized_file_is_413_and_nothing_stored(tmp_path: Path, video_file: Path) -> None:
    settings = make_settings(tmp_path / "r", max_upload_bytes=video_file.stat().st_size - 1)
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            auth = sign_up(client, "erin")
            before = _stored(client, live)
            response = upload(client, auth, video_file)
            assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
            assert _stored(client, live) == before
    finally:
        live.stop()


def test_too_long_video_is_422(tmp_path: Path, video_file: Path) -> None:
    live = LiveServer(make_settings(tmp_path / "r", max_duration_ms=1000)).start()
    try:
        with httpx.Client(base_url=live.url) as client:
            auth = sign_up(client, "frank")
            response = upload(client, auth, video_file)
            assert (response.status_code, response.json()["code"]) == (422, "video_too_long")
    finally:
        live.stop()


def test_upload_needs_a_token_and_a_file(client: httpx.Client, video_file: Path) -> None:
    no_token = upload(client, {}, video_file)
    assert (no_token.status_code, no_token.json()["code"]) == (401, "missing_token")
    auth = sign_up(client, "gina")
    no_file = client.post("/v1/videos", headers=auth, data={"caption": "x"})
    assert (no_file.status_code, no_file.json()["code"]) == (422, "invalid_request")


def test_delete_own_video_only(client: httpx.Client, video_file: Path) -> None:
    owner = sign_up(client, "henry")
    other = sign_up(client, "iris")
    video_id = upload(client, owner, video_file).json()["id"]
    before = health(client)["log_seq"]
    forbidden = client.delete(f"/v1/videos/{video_id}", headers=other)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "not_owner")
    assert health(client)["log_seq"] == before
    assert client.delete(f"/v1/videos/{video_id}", headers=owner).status_code == 200
    gone = client.get(f"/v1/videos/{video_id}")
    assert (gone.status_code, gone.json()["code"]) == (404, "video_not_found")
    assert client.get(f"/v1/videos/{video_id}/file").status_code == 404


def test_unsatisfiable_range_is_416(client: httpx.Client, video_file: Path) -> None:
    auth = sign_up(client, "jack")
    video_id = upload(client, auth, video_file).json()["id"]
    size = video_file.stat().st_size
    response = client.get(
        f"/v1/videos/{video_id}/file", headers={"Range": f"bytes={size + 10}-{size + 20}"}
    )
    assert response.status_code == 416


def test_a_corrupted_blob_is_never_served(
    client: httpx.Client, server: LiveServer, video_file: Path
) -> None:
    auth = sign_up(client, "kate")
    video = upload(client, auth, video_file).json()
    blob = next(
        p for p in server.settings.blobs_dir.glob("??/*") if p.stat().st_size == video["size"]
    )
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    response = client.get(f"/v1/videos/{video['id']}/file")
    assert response.status_code == 503
    assert response.json()["code"] == "blob_corrupt"


def test_many_tiny_frames_upload_is_refused_and_nothing_stored(
    client: httpx.Client, server: LiveServer, tmp_path: Path
) -> None:
    """The attack of finding 2: thousands of frames a microsecond apart were
    accepted as a 100 ms video after seconds of CPU. Refused by the media
    worker, over real HTTP, with no event and no blob written."""
    auth = sign_up(client, "lena")
    before = _stored(client, server)
    response = upload(client, auth, tiny_frames(tmp_path / "tiny.mp4", 2000))
    assert (response.status_code, response.json()["code"]) == (422, "frame_rate_too_high")
    assert _stored(client, server) == before


def test_huge_picture_upload_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path / "r", media_max_side=64)).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            auth = sign_up(client, "mona")
            before = _stored(client, live)
            clip = make_video(tmp_path / "wide.mp4", width=96, height=64, seconds=0.5)
            response = upload(client, auth, clip)
            assert (response.status_code, response.json()["code"]) == (422, "picture_too_large")
            assert response.json()["max_side"] == 64
            assert _stored(client, live) == before
    finally:
        live.stop()
