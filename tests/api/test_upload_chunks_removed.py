"""The chunks of an upload that ended, or became a video a while ago, are
deleted; the same bytes held by another upload are not (ADR 027: chunks are
salted with their upload)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stormproof.actions.uploads import chunk_salt
from stormproof.settings import Settings
from tests.api.test_uploads import CHUNK, TUS, chunk_headers, finished_video, tus_upload
from tests.conftest import LiveServer, make_settings, sign_up


@pytest.fixture
def sweeping(tmp_path: Path) -> Iterator[LiveServer]:
    settings: Settings = make_settings(
        tmp_path / "region", upload_sweep_every_s=0.2, upload_chunks_kept_s=0.5
    )
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


def _chunk_file(server: LiveServer, upload_id: str, data: bytes) -> Path:
    """Where the embedded blob store keeps that chunk of that upload."""
    blob = hashlib.sha256(chunk_salt(upload_id) + data).hexdigest()
    return server.settings.blobs_dir / blob[:2] / blob


def test_a_terminated_uploads_chunks_go_and_another_uploads_same_bytes_stay(
    sweeping: LiveServer, video_file: Path
) -> None:
    data = video_file.read_bytes()
    first = data[:CHUNK]
    with httpx.Client(base_url=sweeping.url, timeout=30) as client:
        auth = sign_up(client, "twice")
        with tus_upload(sweeping.url, auth, video_file) as quitting:
            quitting.upload(stop_at=CHUNK)
        with tus_upload(sweeping.url, auth, video_file) as kept:
            kept.upload(stop_at=CHUNK)  # the very same first chunk
        quit_id, kept_id = (u.url.rsplit("/", 1)[1] for u in (quitting, kept))
        gone, staying = _chunk_file(sweeping, quit_id, first), _chunk_file(sweeping, kept_id, first)
        assert gone.exists() and staying.exists() and gone != staying
        assert client.delete(quitting.url, headers={**auth, **TUS}).status_code == 204
        while gone.exists():
            time.sleep(0.1)  # the sweeper runs every 0.2 s
        assert staying.exists()
        rest = client.patch(kept.url, headers=chunk_headers(auth, CHUNK), content=data[CHUNK:])
        assert rest.status_code == 204, rest.text
        video_id = finished_video(client, auth, kept.url)
        played = client.get(f"/v1/videos/{video_id}/file")
        assert hashlib.sha256(played.content).digest() == hashlib.sha256(data).digest()


def test_a_finished_uploads_chunks_go_once_its_video_is_a_while_old(
    sweeping: LiveServer, video_file: Path
) -> None:
    data = video_file.read_bytes()
    with httpx.Client(base_url=sweeping.url, timeout=30) as client:
        auth = sign_up(client, "finisher")
        with tus_upload(sweeping.url, auth, video_file) as uploader:
            uploader.upload(stop_at=CHUNK * 2)
            upload_id = uploader.url.rsplit("/", 1)[1]
            chunks = [
                _chunk_file(sweeping, upload_id, data[at : at + CHUNK])
                for at in range(0, len(data), CHUNK)
            ]
            assert chunks[0].exists() and chunks[1].exists()  # no video yet: all kept
            uploader.upload()
        video_id = finished_video(client, auth, uploader.url)
        while any(chunk.exists() for chunk in chunks):
            time.sleep(0.1)  # kept 0.5 s after the video, then swept
        played = client.get(f"/v1/videos/{video_id}/file")  # the video's own blob stays
        assert hashlib.sha256(played.content).digest() == hashlib.sha256(data).digest()
