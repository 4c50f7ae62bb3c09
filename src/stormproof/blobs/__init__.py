"""The blob store: video and thumbnail bytes, addressed by their SHA-256.

Contract of every backend:

- ``put_file(path)`` / ``put_bytes(data)`` store the content durably and return
  its hex SHA-256 (the blob id). Storing the same content twice is harmless.
- ``get(blob_id)`` returns the bytes after checking they still hash to the id;
  a mismatch raises :class:`~stormproof.errors.BlobError` with code
  ``blob_corrupt``, a missing blob :class:`~stormproof.errors.NotFound`.
- ``local_path(blob_id)`` gives a verified file to serve ranges from.
- ``has(blob_id)`` and ``count()`` tell what is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["BlobStore"]


class BlobStore(Protocol):
    async def put_file(self, path: Path) -> str: ...

    async def put_bytes(self, data: bytes) -> str: ...

    async def get(self, blob_id: str) -> bytes: ...

    async def local_path(self, blob_id: str) -> Path: ...

    async def has(self, blob_id: str) -> bool: ...

    async def count(self) -> int: ...
