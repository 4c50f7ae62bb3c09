"""The content-addressed file blob store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from stormproof.blobs.files import FileBlobStore
from stormproof.errors import BadRequest, BlobError, NotFound


async def test_put_and_get_by_content_hash(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    blob_id = await store.put_bytes(b"hello")
    assert blob_id == hashlib.sha256(b"hello").hexdigest()
    assert await store.get(blob_id) == b"hello"
    assert await store.put_bytes(b"hello") == blob_id
    assert await store.count() == 1
    source = tmp_path / "file.bin"
    source.write_bytes(b"x" * 3_000_000)
    big = await store.put_file(source)
    assert (await store.local_path(big)).read_bytes() == source.read_bytes()
    assert await store.count() == 2
    assert not list((tmp_path / "blobs" / "tmp").iterdir()), "temp files left behind"


async def test_corruption_is_detected_on_read(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    blob_id = await store.put_bytes(b"precious bytes")
    await store.local_path(blob_id)  # verified once
    path = tmp_path / "blobs" / blob_id[:2] / blob_id
    path.write_bytes(b"precious bytez")
    with pytest.raises(BlobError) as caught:
        await store.get(blob_id)
    assert caught.value.code == "blob_corrupt"
    with pytest.raises(BlobError):
        await store.local_path(blob_id)  # the changed file is verified again


async def test_missing_and_malformed_ids(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(NotFound):
        await store.get("0" * 64)
    with pytest.raises(NotFound):
        await store.local_path("0" * 64)
    with pytest.raises(BadRequest):
        await store.get("../../etc/passwd")
