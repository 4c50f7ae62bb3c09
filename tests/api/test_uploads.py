"""Resumable uploads over tus 1.0 (ADR 027), on one embedded region, with
tuspy — the protocol's official Python client — uploading a real video."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.uploader import Uploader

from stormproof.settings import Settings
from tests.conftest import LiveServer, make_settings, sign_up

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 1000


def chunk_headers(auth: dict[str, str], offset: int, **more: str) -> dict[str, str]:
    """What a tus PATCH sends with a chunk at ``offset``."""
    return {
        **auth,
        **TUS,
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        **more,
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def tus_upload(
    region_url: str, auth: dict[str, str], path: Path, **options: Any
) -> Iterator[Uploader]:
    """tuspy's uploader of ``path`` to the region at ``region_url``, in chunks of
    :data:`CHUNK`: a new upload, or with ``url=`` an existing one, resumed
    from the offset the region reports. (The file is opened here: tuspy
    leaves the files it opens itself unclosed.)"""
    with path.open("rb") as stream:
        client = TusClient(f"{region_url}/v1/uploads", headers=auth)
        yield client.uploader(file_stream=stream, **{"chunk_size": CHUNK, **options})


def finished_video(client: httpx.Client, auth: dict[str, str], upload_url: str) -> str:
    """The id of the video an upload became (its HEAD says)."""
    head = client.head(upload_url, headers={**auth, **TUS})
    assert head.status_code == 200, head.headers
    return head.headers["stormproof-video"]


def test_tuspy_uploads_a_video_in_chunks_and_it_plays(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    auth = sign_up(client, "tususer")
    metadata = {"filename": "clip.mp4", "caption": "resumed"}
    with tus_upload(server.url, auth, video_file, metadata=metadata) as uploader:
        uploader.upload()
    assert uploader.offset == video_file.stat().st_size
    video_id = finished_video(client, auth, uploader.url)
    video = client.get(f"/v1/videos/{video_id}").json()
    assert video["caption"] == "resumed"
    played = client.get(f"/v1/videos/{video_id}/file")
    assert sha256(played.content) == sha256(video_file.read_bytes())
    # the upload is a view like any other, digested like every view
    assert "uploads" in client.get("/v1/digest", headers=server.operator).json()["views"]


def test_an_interrupted_upload_resumes_from_the_offset_head_reports(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    auth = sign_up(client, "resumer")
    with tus_upload(server.url, auth, video_file) as first:
        first.upload(stop_at=CHUNK * 2)
    # A new client knows only the upload's address, as after a crash.
    with tus_upload(server.url, auth, video_file, url=first.url) as resumed:
        assert resumed.offset == CHUNK * 2
        resumed.upload()
    assert resumed.offset == video_file.stat().st_size
    assert finished_video(client, auth, first.url)


def test_creation_with_upload_and_checksums(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    auth = sign_up(client, "creator")
    data = video_file.read_bytes()
    created = client.post(
        "/v1/uploads",
        headers={
            **auth, **TUS,
            "Upload-Length": str(len(data)),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": "sha1 " + _b64(hashlib.sha1(data[:CHUNK]).digest()),
        },
        content=data[:CHUNK],
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == str(CHUNK)
    url = created.headers["location"]
    wrong = _b64(hashlib.sha256(b"other").digest())
    refused = client.patch(
        url,
        headers=chunk_headers(auth, CHUNK, **{"Upload-Checksum": f"sha256 {wrong}"}),
        content=data[CHUNK:],
    )
    assert (refused.status_code, refused.json()["code"]) == (460, "checksum_mismatch")
    assert client.head(url, headers={**auth, **TUS}).headers["upload-offset"] == str(CHUNK)
    options = {"url": f"{server.url}{url}", "upload_checksum": True}
    with tus_upload(server.url, auth, video_file, **options) as uploader:
        uploader.upload()
    assert finished_video(client, auth, url)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_options_tells_what_the_server_supports(client: httpx.Client) -> None:
    answer = client.options("/v1/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0"
    extensions = set(answer.headers["tus-extension"].split(","))
    wanted = {"creation", "creation-with-upload", "termination", "expiration", "checksum"}
    assert wanted <= extensions


def test_termination_ends_the_upload(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    auth = sign_up(client, "quitter")
    with tus_upload(server.url, auth, video_file) as uploader:
        uploader.upload(stop_at=CHUNK)
    assert client.delete(uploader.url, headers={**auth, **TUS}).status_code == 204
    assert client.head(uploader.url, headers={**auth, **TUS}).status_code == 410
    patched = client.patch(uploader.url, headers=chunk_headers(auth, CHUNK), content=b"x")
    assert (patched.status_code, patched.json()["code"]) == (410, "upload_terminated")


def test_a_file_that_is_not_a_video_is_refused_as_a_single_upload_is(
    server: LiveServer, client: httpx.Client, tmp_path: Path
) -> None:
    auth = sign_up(client, "notvideo")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all " * 3000)
    with (
        tus_upload(server.url, auth, junk) as uploader,
        pytest.raises(TusCommunicationError) as refused,
    ):
        uploader.upload()
    assert refused.value.status_code == 422
    single = client.post(
        "/v1/videos", headers=auth, files={"file": ("junk.mp4", junk.read_bytes(), "video/mp4")}
    )
    last = client.patch(uploader.url, headers=chunk_headers(auth, junk.stat().st_size))
    assert (last.status_code, last.json()["code"]) == (422, single.json()["code"])
    assert client.get("/v1/accounts/notvideo/videos").json() == []


@pytest.fixture
def expiring(tmp_path: Path) -> Iterator[LiveServer]:
    settings: Settings = make_settings(
        tmp_path / "region", upload_expiry_s=1.0, upload_sweep_every_s=0.2
    )
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


def test_an_abandoned_upload_expires_and_says_so(expiring: LiveServer, video_file: Path) -> None:
    with httpx.Client(base_url=expiring.url, timeout=30) as client:
        auth = sign_up(client, "abandoner")
        with tus_upload(expiring.url, auth, video_file) as uploader:
            uploader.upload(stop_at=CHUNK)
        head = client.head(uploader.url, headers={**auth, **TUS})
        assert head.headers["upload-expires"].endswith("GMT")
        while (gone := client.head(uploader.url, headers={**auth, **TUS})).status_code == 200:
            time.sleep(0.1)  # the upload has no event to wait on before it expires
        assert gone.status_code == 410
        while not _swept(expiring, uploader.url.rsplit("/", 1)[1]):
            time.sleep(0.1)


def _swept(server: LiveServer, upload_id: str) -> bool:
    """Whether the region's sweeper ended the upload in the log (not only
    answered 410 because its time passed)."""
    from stormproof.views.uploads import upload

    region = server.app.state.region
    found = server.call(region.store.query(lambda db: upload(db, upload_id)))
    return found is not None and found.ended == "expired"
