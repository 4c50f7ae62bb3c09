"""One region: its log, blob store, views and the projector that feeds them.

This is the composition root below the API: ``Region.open(settings)`` builds
every part from settings, ``start()`` catches the views up and starts
following the log, ``close()`` stops it all. Nothing else constructs a log or
a view store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from stormproof.blobs import BlobStore
from stormproof.blobs.files import FileBlobStore
from stormproof.clock import Clock
from stormproof.errors import LogError, StormproofError
from stormproof.log import Log
from stormproof.log.sqlite import SqliteLog
from stormproof.settings import Settings
from stormproof.views import all_views
from stormproof.views.store import Projector, ViewStore

__all__ = ["Region", "load_secret"]


def load_secret(path: Path) -> bytes:
    """The signing secret for session tokens, created (durably, owner-only)
    on first use. Regions of one cluster share it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    secret = bytes.fromhex(path.read_text().strip() or "00")
    if len(secret) < 32:
        raise StormproofError(f"{path} does not hold a 32-byte hex secret", code="bad_secret")
    return secret


@dataclass
class Region:
    settings: Settings
    log: Log
    blobs: BlobStore
    store: ViewStore
    projector: Projector
    secret: bytes
    clock: Clock
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Region:
        # Uploads still being received when the process died are garbage now.
        shutil.rmtree(settings.data_dir / "tmp", ignore_errors=True)
        log = SqliteLog(settings.log_path)
        store = ViewStore(settings.views_path, all_views(), partitions=log.partitions)
        return cls(
            settings=settings,
            log=log,
            blobs=FileBlobStore(settings.blobs_dir),
            store=store,
            projector=Projector(log, store),
            secret=load_secret(settings.secret_path),
            clock=Clock(),
        )

    @property
    def name(self) -> str:
        return self.settings.region

    async def start(self) -> None:
        """Catch the views up with the log, then keep following it."""
        last = await self.log.last_seqs()
        if any(seq > top for seq, top in zip(self.store.position(), last, strict=True)):
            raise LogError(
                f"the views ({list(self.store.position())}) are ahead of the log ({last}): "
                "was the log replaced? run `stormproof rebuild`",
                code="views_ahead_of_log",
            )
        await self.projector.catch_up()
        self._task = asyncio.create_task(self.projector.run(), name="projector")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.log.close()
        self.store.close()
