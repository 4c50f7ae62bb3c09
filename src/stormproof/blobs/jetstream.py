"""Blobs in JetStream object stores: R3, one bucket per region, verified, cached here.

Bucket ``i`` (``{prefix}_{i}``, stream ``OBJ_{prefix}_{i}``) is replicated on
every server and led by region ``i``'s server, like the log's partitions. A
put stores the content in the local cache (hashing it: the blob id is its
SHA-256 and the object's name), then uploads it to the local bucket through
the local server; when a chunk is not acked within ``chunk_timeout`` it
starts over in the next bucket through the next server, so a dead leader
costs one chunk timeout, not an election. It returns once every chunk is
acked by a quorum of fsyncing replicas.

A get looks for the object in every bucket (local first), on any replica
(direct gets work while a bucket has no leader), streams it to disk, checks
the SHA-256 and keeps the file in the cache: each blob is downloaded once.
See ``docs/adr/008-jetstream-backends.md``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from nats.aio.msg import Msg

from stormproof.blobs import checked_blob_id
from stormproof.blobs.files import FileBlobStore
from stormproof.errors import BlobError, NotFound
from stormproof.jetstream.links import ApiError, Links, Unreachable, take_outcome
from stormproof.jetstream.objects import bucket_config, download, meta_of, meta_subject, upload
from stormproof.jetstream.streams import (
    direct_batch,
    ensure_stream,
    leader_has,
    place_leader,
    settle_leaders,
    stream_leader,
)

__all__ = ["JetStreamBlobStore"]

#: how long a read waits for replicas to show a blob their leader already has
_FIND_PATIENCE = 2.0

#: an upload's patience grows with its size, at this assumed worst-case rate
_SLOWEST_RATE = 4 * 1024 * 1024
#: how much one direct get brings back while downloading a blob
_BATCH_BYTES = 8 * 1024 * 1024


class JetStreamBlobStore:
    """A :class:`~stormproof.blobs.BlobStore` with one bucket per server in ``servers``.

    Call :meth:`start` once before use (idempotent) and, being
    :class:`~stormproof.replicated.Replicated`, :meth:`rebalance` every few
    seconds.
    """

    def __init__(
        self,
        servers: Sequence[str],
        local: int = 0,
        *,
        cache_dir: Path,
        prefix: str = "BLOBS",
        chunk_size: int = 256 * 1024,
        window: int = 8,
        chunk_timeout: float = 2.0,
        read_timeout: float = 0.5,
        deadline: float = 60.0,
    ) -> None:
        self._links = Links(servers, local)
        self._buckets = [f"{prefix}_{i}" for i in range(len(servers))]
        self._cache = FileBlobStore(cache_dir)
        self._tmp = cache_dir / "tmp"
        self._chunk_size = chunk_size
        self._window = window
        self._chunk_timeout = chunk_timeout
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._fetching: dict[str, asyncio.Future[Path]] = {}

    # -- buckets and leaders ---------------------------------------------------------------

    async def start(self, timeout: float = 30.0) -> None:
        """Create the buckets if needed and put each leader in its region."""
        self._links.start()
        await self._links.wait_connected(min(timeout, 2.0))
        try:
            for bucket in self._buckets:
                config = bucket_config(bucket, len(self._links))
                await ensure_stream(self._links, config, timeout)
            placement = {
                f"OBJ_{b}": self._links[i].server_name for i, b in enumerate(self._buckets)
            }
            await settle_leaders(self._links, placement, timeout)
        except (Unreachable, ApiError) as exc:
            raise BlobError(f"cannot set up blob buckets: {exc}") from exc

    async def rebalance(self) -> list[int]:
        """Move each bucket's leader back to its region's server once it is caught up."""
        moved = []
        for i, bucket in enumerate(self._buckets):
            name = self._links[i].server_name if self._links[i].connected else None
            if name is not None and await place_leader(self._links, f"OBJ_{bucket}", name):
                moved.append(i)
        return moved

    async def leaders(self) -> list[str | None]:
        self._links.start()
        streams = [f"OBJ_{b}" for b in self._buckets]
        return list(await asyncio.gather(*(stream_leader(self._links, s) for s in streams)))

    # -- writes ------------------------------------------------------------------------------

    async def put_file(self, path: Path) -> str:
        blob_id = await self._cache.put_file(path)
        await self._replicate(blob_id)
        return blob_id

    async def put_bytes(self, data: bytes) -> str:
        blob_id = await self._cache.put_bytes(data)
        await self._replicate(blob_id)
        return blob_id

    async def _replicate(self, blob_id: str) -> None:
        self._links.start()
        path = await self._cache.local_path(blob_id)
        deadline = time.monotonic() + self._deadline + path.stat().st_size / _SLOWEST_RATE
        failures: list[str] = []
        while True:
            for b in self._links.healthy_first(self._links.cycle(self._links.local)):
                try:
                    await self._upload(b, blob_id, path)
                    return
                except Unreachable as exc:
                    failures.append(str(exc))
            if time.monotonic() > deadline:
                raise BlobError(f"no bucket took blob {blob_id}: {failures[-3:]}")
            await asyncio.sleep(0.2)

    async def _upload(self, b: int, blob_id: str, path: Path) -> None:
        bucket = self._buckets[b]
        if await meta_of(self._links, b, bucket, blob_id, self._read_timeout) is not None:
            return  # content-addressed: already there
        with path.open("rb") as f:

            async def read(size: int) -> bytes:
                return await asyncio.to_thread(f.read, size)

            await upload(
                self._links,
                b,
                bucket,
                blob_id,
                read,
                digest=bytes.fromhex(blob_id),
                chunk_size=self._chunk_size,
                window=self._window,
                chunk_timeout=self._chunk_timeout,
            )

    # -- reads -------------------------------------------------------------------------------

    async def get(self, blob_id: str) -> bytes:
        await self.local_path(blob_id)
        return await self._cache.get(blob_id)

    async def local_path(self, blob_id: str) -> Path:
        if await self._cache.has(checked_blob_id(blob_id)):
            try:
                return await self._cache.local_path(blob_id)
            except BlobError:
                pass  # the cached copy rotted: fetch it again
        fetch = self._fetching.get(blob_id)
        if fetch is None:  # concurrent readers of one blob download it once
            fetch = self._fetching[blob_id] = asyncio.ensure_future(self._fetch(blob_id))
            fetch.add_done_callback(lambda _: self._fetching.pop(blob_id, None))
            # Its readers may all be gone (cancelled) when it fails — a
            # region's blob catch-up stopped, a request cut — and asyncio
            # would log the failure nobody read as an error with its stack.
            fetch.add_done_callback(take_outcome)
        return await asyncio.shield(fetch)

    async def _fetch(self, blob_id: str) -> Path:
        loop = asyncio.get_running_loop()
        patience = loop.time() + _FIND_PATIENCE
        while (found := await self._find(blob_id)) is None:
            if await self._absent(blob_id):
                raise NotFound(f"no blob {blob_id}", code="blob_not_found")
            # Stored (its bucket's leader has it), but the replicas that
            # answered lag behind by a moment: ask again shortly.
            if loop.time() > patience:
                raise BlobError(f"blob {blob_id} is stored but no replica shows it yet")
            await asyncio.sleep(0.05)
        try:
            return await self._download(*found, blob_id)
        except Unreachable as exc:
            raise BlobError(f"cannot download blob {blob_id}: {exc}") from exc

    async def _find(self, blob_id: str) -> tuple[int, int, dict[str, object]] | None:
        """(server, bucket, meta) of the first replica showing the blob, local first."""
        for b in self._links.cycle(self._links.local):
            for i in self._links.read_order():
                try:
                    meta = await meta_of(
                        self._links, i, self._buckets[b], blob_id, self._read_timeout
                    )
                except Unreachable:
                    continue
                if meta is not None:
                    return i, b, meta
        return None

    async def _absent(self, blob_id: str) -> bool:
        """Ask each bucket's leader. A replica's "not found" proves nothing: a
        blob acked just before its bucket's leader died stays invisible on the
        other replicas until they elect a new leader; a leader has applied
        every acked write, so its answer is final."""
        for bucket in self._buckets:
            try:
                if await leader_has(self._links, f"OBJ_{bucket}", meta_subject(bucket, blob_id)):
                    return False
            except (Unreachable, ApiError) as exc:
                raise BlobError(f"cannot tell whether blob {blob_id} exists: {exc}") from exc
        return True

    async def _download(self, i: int, b: int, meta: dict[str, object], blob_id: str) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="fetch-")
        tmp = Path(name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                chunks = download(
                    self._links,
                    i,
                    self._buckets[b],
                    meta,
                    batch=max(1, _BATCH_BYTES // self._chunk_size),
                    timeout=self._read_timeout + _BATCH_BYTES / _SLOWEST_RATE,
                )
                async for chunk in chunks:
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
            if digest.hexdigest() != blob_id:
                raise BlobError(
                    f"blob {blob_id} in {self._buckets[b]} is corrupt", code="blob_corrupt"
                )
            await self._cache.put_file(tmp)
            return await self._cache.local_path(blob_id)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)

    async def has(self, blob_id: str) -> bool:
        if await self._cache.has(checked_blob_id(blob_id)):
            return True
        self._links.start()
        return await self._find(blob_id) is not None or not await self._absent(blob_id)

    async def delete(self, blob_id: str) -> None:
        """Purge the object's chunks and meta from every bucket (its stream's
        leader does it; while one has none, :class:`BlobError`), then drop
        the cached copy. A purge leaves no "deleted" marker, so a later get
        finds no meta anywhere and answers ``blob_not_found``."""
        checked_blob_id(blob_id)
        self._links.start()
        for bucket in self._buckets:
            try:
                metas = [
                    m
                    for i in self._links.read_order()
                    if (m := await self._meta_or_none(i, bucket, blob_id)) is not None
                ]
                for nuid in {str(m.get("nuid")) for m in metas if m.get("nuid")}:
                    await self._purge(bucket, f"$O.{bucket}.C.{nuid}")
                await self._purge(bucket, meta_subject(bucket, blob_id))
            except (Unreachable, ApiError) as exc:
                raise BlobError(f"cannot delete blob {blob_id} from {bucket}: {exc}") from exc
        await self._cache.delete(blob_id)

    async def _meta_or_none(self, i: int, bucket: str, blob_id: str) -> dict[str, object] | None:
        try:
            return await meta_of(self._links, i, bucket, blob_id, self._read_timeout)
        except Unreachable:
            return None

    async def _purge(self, bucket: str, subject: str) -> None:
        body = {"filter": subject}
        await self._links.any_api(f"$JS.API.STREAM.PURGE.OBJ_{bucket}", body, timeout=5)

    async def count(self) -> int:
        """Distinct blobs across all buckets (a blob may sit in two after a failover)."""
        self._links.start()
        names: set[str] = set()
        for bucket in self._buckets:
            names |= await self._names(bucket)
        return len(names)

    async def _names(self, bucket: str) -> set[str]:
        # Replicas answer a multi-last direct get even without a leader, but
        # not while the leader is frozen; then the (new) leader's stream info
        # lists the meta subjects.
        body = {"multi_last": [f"$O.{bucket}.M.>"], "batch": 1_000_000}

        async def ask(i: int) -> list[Msg]:
            timeout = self._read_timeout * 4
            return await direct_batch(self._links, i, f"OBJ_{bucket}", body, timeout=timeout)

        try:
            msgs = await self._links.first_answer(ask)
            metas = [json.loads(m.data) for m in msgs]
            return {m["name"] for m in metas if not m.get("deleted")}
        except Unreachable:
            pass
        names: set[str] = set()
        try:
            while True:
                request = {"subjects_filter": f"$O.{bucket}.M.>", "offset": len(names)}
                info = await self._links.any_api(f"$JS.API.STREAM.INFO.OBJ_{bucket}", request)
                subjects = info.get("state", {}).get("subjects") or {}
                names |= {base64.urlsafe_b64decode(s.rsplit(".", 1)[1]).decode() for s in subjects}
                if not subjects or len(names) >= int(info.get("total", 0)):
                    return names
        except (Unreachable, ApiError) as exc:
            raise BlobError(f"cannot list bucket {bucket}: {exc}") from exc

    async def close(self) -> None:
        for fetch in list(self._fetching.values()):
            fetch.cancel()
        await asyncio.gather(*self._fetching.values(), return_exceptions=True)
        await self._links.close()
