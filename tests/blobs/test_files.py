"""The content-addressed file blob store: the shared contract, plus its files on disk."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from stormproof.blobs import BlobStore
from stormproof.blobs.files import FileBlobStore
from stormproof.errors import BlobError
from tests.blobs.contract import BlobStoreContract


class TestFileBlobStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    async def make_store(self) -> BlobStore:
        store = FileBlobStore(self.tmp_path / "blobs")
        await store.start()
        return store

    async def corrupt(self, store: BlobStore, blob_id: str, data: bytes) -> None:
        (self.tmp_path / "blobs" / blob_id[:2] / blob_id).write_bytes(data)


async def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    source = tmp_path / "file.bin"
    source.write_bytes(b"x" * 3_000_000)
    await store.put_file(source)
    await store.put_bytes(b"hello")
    assert not list((tmp_path / "blobs" / "tmp").iterdir()), "temp files left behind"


async def test_half_written_blobs_of_a_dead_process_are_cleared(tmp_path: Path) -> None:
    (tmp_path / "blobs" / "tmp").mkdir(parents=True)
    (tmp_path / "blobs" / "tmp" / "half").write_bytes(b"half a vid")
    store = FileBlobStore(tmp_path / "blobs")
    assert not (tmp_path / "blobs" / "tmp").exists()
    assert await store.count() == 0


async def test_a_file_changed_after_verification_is_verified_again(tmp_path: Path) -> None:
    # Guards the verification cache (size, mtime): serving ranges must not
    # re-hash a video, but a changed file must not pass as verified.
    store = FileBlobStore(tmp_path / "blobs")
    blob_id = await store.put_bytes(b"precious bytes")
    path = await store.local_path(blob_id)
    assert await store.local_path(blob_id) == path
    path.write_bytes(b"precious bytes, and more")
    with pytest.raises(BlobError) as caught:
        await store.local_path(blob_id)
    assert caught.value.code == "blob_corrupt"


def _same_prefix(count: int, prefix: str) -> list[bytes]:
    """``count`` blobs whose ids all begin with ``prefix``: one folder."""
    found: list[bytes] = []
    n = 0
    while len(found) < count:
        data = f"blob {n}".encode()
        if hashlib.sha256(data).hexdigest().startswith(prefix):
            found.append(data)
        n += 1
    return found


async def test_blobs_of_one_prefix_stored_at_once_are_all_stored(tmp_path: Path) -> None:
    # Guards a race: each store saw the prefix's folder missing and made
    # it, and all but the first failed ("File exists"), which stopped a
    # region seeding its demo (a CI run of 2026-12-03).
    blobs = _same_prefix(12, "a")
    for round_ in range(30):  # a fresh folder each round: the race is at its making
        store = FileBlobStore(tmp_path / f"blobs-{round_}")
        ids = await asyncio.gather(*(store.put_bytes(data) for data in blobs))
        assert ids == [hashlib.sha256(data).hexdigest() for data in blobs]
        assert await store.count() == len(blobs)
