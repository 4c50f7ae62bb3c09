"""The BlobStore contract, written once; each backend's test module subclasses it."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from stormproof.blobs import BlobStore
from stormproof.errors import BadRequest, BlobError, NotFound

MISSING = "0" * 64


async def settled_count(store: BlobStore, expected: int, timeout: float = 30) -> int:
    """``count()`` once it shows ``expected`` (or the last answer after
    ``timeout``): a replicated store may answer from a replica that has not
    listed the newest blob yet, so the count converges rather than being
    instantly exact. An embedded store answers right the first time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await store.count()) != expected:
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    return found


class BlobStoreContract:
    """Subclass and provide an async ``make_store`` returning a fresh, empty,
    started store, and a ``tmp_path`` attribute for source files. Override
    :meth:`corrupt` where a test can damage what the store holds."""

    tmp_path: Path

    async def make_store(self) -> BlobStore:
        raise NotImplementedError

    async def corrupt(self, store: BlobStore, blob_id: str, data: bytes) -> None:
        """Make every copy of ``blob_id`` the store could read hold ``data``."""
        pytest.skip("this backend's stored copies cannot be damaged from a test")

    async def test_the_id_is_the_content_hash_and_the_same_content_is_one_blob(self) -> None:
        store = await self.make_store()
        blob_id = await store.put_bytes(b"hello")
        assert blob_id == hashlib.sha256(b"hello").hexdigest()
        assert await store.put_bytes(b"hello") == blob_id
        assert await store.get(blob_id) == b"hello"
        assert await store.has(blob_id)
        assert await settled_count(store, 1) == 1

    async def test_file_and_bytes_puts_agree(self) -> None:
        store = await self.make_store()
        source = self.tmp_path / "same.bin"
        source.write_bytes(b"one content, two ways in")
        from_file = await store.put_file(source)
        assert await store.put_bytes(source.read_bytes()) == from_file
        assert await store.get(from_file) == source.read_bytes()
        assert await settled_count(store, 1) == 1

    async def test_local_path_is_a_file_with_the_blob_bytes(self) -> None:
        store = await self.make_store()
        source = self.tmp_path / "big.bin"
        source.write_bytes(os.urandom(3_000_000))  # more than one chunk or buffer
        blob_id = await store.put_file(source)
        path = await store.local_path(blob_id)
        assert path.read_bytes() == source.read_bytes()
        assert await store.get(blob_id) == source.read_bytes()

    async def test_an_empty_blob_is_a_blob(self) -> None:
        store = await self.make_store()
        blob_id = await store.put_bytes(b"")
        assert blob_id == hashlib.sha256(b"").hexdigest()
        assert await store.get(blob_id) == b""
        assert (await store.local_path(blob_id)).read_bytes() == b""

    async def test_count_counts_distinct_blobs(self) -> None:
        store = await self.make_store()
        assert await store.count() == 0
        for data in (b"a", b"b", b"a", b"c"):
            await store.put_bytes(data)
        assert await settled_count(store, 3) == 3

    async def test_a_missing_blob_is_not_found(self) -> None:
        store = await self.make_store()
        assert not await store.has(MISSING)
        with pytest.raises(NotFound) as caught:
            await store.get(MISSING)
        assert caught.value.code == "blob_not_found"
        with pytest.raises(NotFound):
            await store.local_path(MISSING)

    @pytest.mark.parametrize(
        "bad", ["../../etc/passwd", "ABC", "0" * 63, "0" * 64 + "/x", "0" * 64 + "\n"]
    )
    async def test_a_malformed_id_is_refused_before_anything_is_touched(self, bad: str) -> None:
        store = await self.make_store()
        for call in (store.get, store.local_path, store.has):
            with pytest.raises(BadRequest) as caught:
                await call(bad)
            assert caught.value.code == "invalid_blob_id"

    async def test_a_corrupted_copy_raises_blob_corrupt(self) -> None:
        store = await self.make_store()
        blob_id = await store.put_bytes(b"precious bytes")
        await store.local_path(blob_id)  # verified once: a later change is still noticed
        await self.corrupt(store, blob_id, b"precious bytez")
        with pytest.raises(BlobError) as caught:
            await store.get(blob_id)
        assert caught.value.code == "blob_corrupt"
        with pytest.raises(BlobError) as caught:
            await store.local_path(blob_id)
        assert caught.value.code == "blob_corrupt"

    async def test_a_deleted_blob_is_gone_and_others_stay(self) -> None:
        store = await self.make_store()
        gone = await store.put_bytes(b"chunk of an abandoned upload")
        kept = await store.put_bytes(b"a video")
        await store.delete(gone)
        assert not await store.has(gone)
        with pytest.raises(NotFound) as caught:
            await store.get(gone)
        assert caught.value.code == "blob_not_found"
        assert await store.get(kept) == b"a video"
        assert await settled_count(store, 1) == 1
        await store.delete(gone)  # again: harmless
        await store.delete(MISSING)  # never stored: harmless
        with pytest.raises(BadRequest):
            await store.delete("../x")
        assert await store.put_bytes(b"chunk of an abandoned upload") == gone  # may come back
        assert await store.get(gone) == b"chunk of an abandoned upload"

    async def test_start_and_close_may_be_called_twice(self) -> None:
        store = await self.make_store()
        await store.start()
        blob_id = await store.put_bytes(b"after a second start")
        assert await store.get(blob_id) == b"after a second start"
        await store.close()
        await store.close()
