"""Blobs as files named by their SHA-256: ``root/ab/abcdef…``.

A write goes to a temporary file in the same folder, is fsynced, renamed into
place and the folder fsynced, so a blob is either whole or absent after a
crash. Reads re-hash the content; a file is verified once per process and
size/mtime, so serving byte ranges of a large video does not re-hash it for
every range.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from stormproof.blobs import blob_id_of, checked_blob_id
from stormproof.durable import fsync_dir
from stormproof.errors import BlobError, NotFound

__all__ = ["FileBlobStore"]

_CHUNK = 1 << 20


class FileBlobStore:
    """A :class:`~stormproof.blobs.BlobStore` in a folder of content-addressed files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # Half-written blobs of a process that died; one process owns a store.
        shutil.rmtree(root / "tmp", ignore_errors=True)
        self._verified: dict[str, tuple[int, int]] = {}

    def _path(self, blob_id: str) -> Path:
        checked_blob_id(blob_id)
        return self.root / blob_id[:2] / blob_id

    def _store(self, source: Path | bytes) -> str:
        folder_tmp = self.root / "tmp"
        folder_tmp.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder_tmp)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                    digest.update(source)
                else:
                    with source.open("rb") as f:
                        while chunk := f.read(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                out.flush()
                os.fsync(out.fileno())
            blob_id = digest.hexdigest()
            final = self._path(blob_id)
            if not final.parent.exists():
                # Another store may make it meanwhile (two blobs of one
                # prefix at once): both then make sure it is on disk.
                final.parent.mkdir(exist_ok=True)
                fsync_dir(self.root)
            os.replace(tmp, final)
            fsync_dir(final.parent)
            return blob_id
        except OSError as exc:
            raise BlobError(f"cannot store blob: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _verify(self, blob_id: str) -> Path:
        path = self._path(blob_id)
        try:
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
            if self._verified.get(blob_id) != stamp:
                if blob_id_of(path) != blob_id:
                    raise BlobError(f"blob {blob_id} is corrupt", code="blob_corrupt")
                self._verified[blob_id] = stamp
        except FileNotFoundError as exc:
            raise NotFound(f"no blob {blob_id}", code="blob_not_found") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {blob_id}: {exc}") from exc
        return path

    async def start(self) -> None:
        """Nothing to do: the folder is made (and its leftovers cleared) on
        construction, which every use — this store's or a cache's — goes through."""

    async def put_file(self, path: Path) -> str:
        return await asyncio.to_thread(self._store, path)

    async def put_bytes(self, data: bytes) -> str:
        return await asyncio.to_thread(self._store, data)

    async def get(self, blob_id: str) -> bytes:
        def read() -> bytes:
            data = self._path(blob_id).read_bytes()
            if hashlib.sha256(data).hexdigest() != blob_id:
                raise BlobError(f"blob {blob_id} is corrupt", code="blob_corrupt")
            return data

        try:
            return await asyncio.to_thread(read)
        except FileNotFoundError as exc:
            raise NotFound(f"no blob {blob_id}", code="blob_not_found") from exc
        except OSError as exc:
            raise BlobError(f"cannot read blob {blob_id}: {exc}") from exc

    async def local_path(self, blob_id: str) -> Path:
        return await asyncio.to_thread(self._verify, blob_id)

    async def has(self, blob_id: str) -> bool:
        return self._path(blob_id).exists()

    async def delete(self, blob_id: str) -> None:
        path = self._path(blob_id)

        def remove() -> None:
            try:
                path.unlink()
            except FileNotFoundError:
                return
            fsync_dir(path.parent)

        self._verified.pop(blob_id, None)
        try:
            await asyncio.to_thread(remove)
        except OSError as exc:
            raise BlobError(f"cannot delete blob {blob_id}: {exc}") from exc

    async def count(self) -> int:
        def walk() -> int:
            return sum(1 for p in self.root.glob("??/*") if p.is_file())

        try:
            return await asyncio.to_thread(walk)
        except OSError as exc:
            raise BlobError(f"cannot list blobs in {self.root}: {exc}") from exc

    async def close(self) -> None:
        """Nothing to release: every write is fsynced and closed before it returns."""
