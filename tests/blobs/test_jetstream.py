"""The JetStream blob store on a real 3-server cluster: the shared contract,
then regions sharing buckets, and power cuts."""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from stormproof.blobs import BlobStore
from stormproof.blobs.jetstream import JetStreamBlobStore
from stormproof.errors import BlobError
from stormproof.jetstream.links import Links
from stormproof.jetstream.objects import upload
from stormproof.natsd import NatsCluster
from stormproof.replicated import Replicated
from tests.blobs.contract import BlobStoreContract, settled_count
from tests.natsd_fixtures import unique_prefix

StoreFactory = Callable[..., JetStreamBlobStore]


class TestJetStreamBlobStore(BlobStoreContract):
    @pytest.fixture(autouse=True)
    async def _cluster(self, nats_cluster: NatsCluster, tmp_path: Path) -> AsyncIterator[None]:
        self.cluster = nats_cluster
        self.tmp_path = tmp_path
        #: id of each store made -> (its buckets' prefix, its cache folder)
        self.made: dict[int, tuple[str, Path]] = {}
        self.stores: list[JetStreamBlobStore] = []
        yield
        for store in self.stores:
            await store.close()

    async def make_store(self) -> BlobStore:
        prefix, cache = unique_prefix("BC"), self.tmp_path / f"cache{len(self.stores)}"
        store = JetStreamBlobStore(self.cluster.urls, 0, cache_dir=cache, prefix=prefix)
        self.made[id(store)] = (prefix, cache)
        self.stores.append(store)
        await store.start()
        return store

    async def corrupt(self, store: BlobStore, blob_id: str, data: bytes) -> None:
        """Damage the cached copy, and replace the object in every bucket by
        other bytes under the blob's name and digest — what a rotten replica
        or a buggy writer would leave."""
        prefix, cache = self.made[id(store)]
        (cache / blob_id[:2] / blob_id).write_bytes(data)
        links = Links(self.cluster.urls, 0)
        links.start()
        try:
            for b in range(len(self.cluster.urls)):
                chunks = [data]

                async def read(size: int, chunks: list[bytes] = chunks) -> bytes:
                    return chunks.pop() if chunks else b""

                await upload(
                    links, b, f"{prefix}_{b}", blob_id, read, digest=bytes.fromhex(blob_id),
                    chunk_size=1024, window=1, chunk_timeout=5,
                )  # fmt: skip
        finally:
            await links.close()


async def eventually(read: Callable[[], Awaitable[bytes]], timeout: float = 60) -> bytes:
    """A blob acked just before its bucket's leader died is unreadable (a
    retryable BlobError, never NotFound) until the bucket elects a new leader."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await read()
        except BlobError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
async def make_store(
    nats_cluster: NatsCluster, tmp_path: Path
) -> AsyncIterator[Callable[..., JetStreamBlobStore]]:
    """Stores on the module's cluster sharing one fresh set of buckets, each
    with its own cache, as two regions would have."""
    prefix = unique_prefix("B")
    stores: list[JetStreamBlobStore] = []

    def make(local: int = 0, cluster: NatsCluster = nats_cluster) -> JetStreamBlobStore:
        store = JetStreamBlobStore(
            cluster.urls, local, cache_dir=tmp_path / f"cache{len(stores)}", prefix=prefix
        )
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


async def test_bucket_leaders_are_spread_one_per_server(
    make_store: StoreFactory, nats_cluster: NatsCluster
) -> None:
    store = make_store(0)
    assert isinstance(store, Replicated)
    await store.start()
    # start() leaves a leader away from its server while that replica is
    # not caught up yet (a busy machine); the region's rebalance moves it.
    for _ in range(60):
        if await store.leaders() == nats_cluster.names:
            break
        await store.rebalance()
        await asyncio.sleep(0.5)
    assert await store.leaders() == nats_cluster.names
    assert await store.rebalance() == []  # nothing to move


async def test_a_blob_put_in_one_region_is_read_in_another(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    east, west = make_store(0), make_store(2)
    await east.start()
    blob_id = await east.put_bytes(b"hello")
    # The other region has no copy yet: it fetches from the cluster, once.
    assert await west.has(blob_id)
    assert await west.get(blob_id) == b"hello"
    big_source = tmp_path / "big.bin"
    big_source.write_bytes(os.urandom(3_000_000))  # many chunks
    big = await west.put_file(big_source)
    fetched = await asyncio.gather(*(east.local_path(big) for _ in range(3)))
    assert {p.read_bytes() == big_source.read_bytes() for p in fetched} == {True}
    assert await settled_count(east, 2) == await settled_count(west, 2) == 2
    empty = await east.put_bytes(b"")
    assert await make_store(1).get(empty) == b""


async def test_a_corrupt_cached_copy_is_fetched_again(make_store: StoreFactory) -> None:
    store = make_store(0)
    await store.start()
    blob_id = await store.put_bytes(b"precious bytes")
    path = await store.local_path(blob_id)
    path.write_bytes(b"precious bytez")
    assert await store.get(blob_id) == b"precious bytes"


async def test_a_fetch_that_fails_after_its_reader_left_logs_no_lost_exception(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards: a region restarting on a 1M-entry history logged "Task
    exception was never retrieved" with a stack for a blob its catch-up had
    stopped waiting for — the fetch failed after every reader was gone."""
    store = make_store(0)
    await store.start()
    missing = hashlib.sha256(b"never stored").hexdigest()
    reader = asyncio.ensure_future(store.local_path(missing))
    while missing not in store._fetching:  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0)
    fetch = store._fetching[missing]
    reader.cancel()  # the reader leaves; the shielded fetch goes on and fails
    await asyncio.wait([fetch])
    assert "NotFound" in repr(fetch)  # failed (its outcome is not read here)
    del fetch, reader
    gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.parametrize("failure", ["kill", "freeze"])
async def test_put_goes_on_when_the_local_bucket_leader_fails(
    own_cluster: NatsCluster, tmp_path: Path, failure: str
) -> None:
    """Guards uploads during a power cut (SIGKILL) or a gray failure (SIGSTOP):
    the server leading the local bucket stops; puts land in another bucket
    and every blob stays readable."""
    store = JetStreamBlobStore(own_cluster.urls, 1, cache_dir=tmp_path / "a", prefix="B")
    reader = JetStreamBlobStore(own_cluster.urls, 2, cache_dir=tmp_path / "b", prefix="B")
    victim = own_cluster.names[1]
    try:
        await store.start()
        before = await store.put_bytes(b"before" * 100_000)
        getattr(own_cluster, failure)(victim)
        loop = asyncio.get_running_loop()
        started = loop.time()
        after = [await store.put_bytes(os.urandom(500_000)) for _ in range(3)]
        print(
            f"\n3 puts after {failure} of the local bucket's leader: {loop.time() - started:.2f}s"
        )
        for blob_id in [*after, before]:
            data = await eventually(functools.partial(reader.get, blob_id))
            assert hashlib.sha256(data).hexdigest() == blob_id
        print(f"every blob readable {loop.time() - started:.2f}s after the {failure}")
        assert await settled_count(reader, 4) == 4
    finally:
        if failure == "freeze":
            own_cluster.thaw(victim)
        await store.close()
        await reader.close()
