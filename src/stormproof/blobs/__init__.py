"""The blob store: video and thumbnail bytes, addressed by their SHA-256.

Contract of every backend (``tests/blobs/contract.py`` runs on each):

- ``start()`` readies the store before first use — creates what the backend
  needs (buckets, folders) and waits for its servers a while; calling it
  again is harmless.
- ``put_file(path)`` / ``put_bytes(data)`` store the content durably (in a
  quorum of regions, for a replicated backend) and then return its hex
  SHA-256, the blob id. The two agree: the same bytes from a file or from
  memory are one blob. Storing the same content again stores nothing new and
  returns the same id.
- ``get(blob_id)`` returns the bytes after checking they still hash to the
  id; a mismatch raises :class:`~stormproof.errors.BlobError` with code
  ``blob_corrupt`` (a backend that keeps another copy may fetch that one
  instead), a missing blob :class:`~stormproof.errors.NotFound` with code
  ``blob_not_found``.
- ``local_path(blob_id)`` gives a file on this machine holding the verified
  bytes, to serve byte ranges from; same errors as ``get``. The caller
  reads the file and never changes it.
- ``delete(blob_id)`` removes the blob from the store (every replica, for
  a replicated backend, and this process's cache); deleting a blob that is
  not stored is harmless. Content is shared: only a caller that knows no
  one else stored the same bytes may delete them (ADR 027). Another
  process's cache may keep serving its copy until it deletes it too.
- ``has(blob_id)`` tells whether the blob is stored; ``count()`` how many
  distinct blobs are (a replicated backend's count may lag a put by a
  moment).
- A ``blob_id`` that is not 64 lowercase hex digits raises
  :class:`~stormproof.errors.BadRequest` (code ``invalid_blob_id``) before
  anything is touched: ids come from clients and must not name paths.
- ``close()`` releases connections and background work; calling it again is
  harmless, and nothing else is called after it.
- Every other failure of the underlying storage surfaces as
  :class:`~stormproof.errors.BlobError`, never as ``OSError`` or ``nats.*``.

A replicated backend also implements
:class:`~stormproof.replicated.Replicated` (moving leaders home after a
failover); the region finds that out with ``isinstance``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol

from stormproof.errors import BadRequest

__all__ = ["BlobStore", "blob_id_of", "checked_blob_id"]

_BLOB_ID = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def blob_id_of(path: Path) -> str:
    """The id a file's content has in every blob store: its hex SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checked_blob_id(blob_id: str) -> str:
    """``blob_id`` if it is one (64 lower-case hex digits, nothing more), else 400."""
    if not _BLOB_ID.fullmatch(blob_id):
        raise BadRequest(f"not a blob id: {blob_id!r}", code="invalid_blob_id")
    return blob_id


class BlobStore(Protocol):
    """Content-addressed bytes: the contract is the module's docstring."""

    async def start(self) -> None: ...

    async def put_file(self, path: Path) -> str: ...

    async def put_bytes(self, data: bytes) -> str: ...

    async def get(self, blob_id: str) -> bytes: ...

    async def local_path(self, blob_id: str) -> Path: ...

    async def has(self, blob_id: str) -> bool: ...

    async def delete(self, blob_id: str) -> None: ...

    async def count(self) -> int: ...

    async def close(self) -> None: ...
