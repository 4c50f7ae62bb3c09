"""One region: its log, blob store, views and the projector that feeds them.

This is the composition root below the API: ``Region.open(settings)`` builds
every part from settings, ``start()`` catches the views up and starts
following the log, ``close()`` stops it all. Nothing else constructs a log or
a view store.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from stormproof.blobs import BlobStore
from stormproof.blobs.files import FileBlobStore
from stormproof.clock import Clock
from stormproof.log import Log
from stormproof.log.sqlite import SqliteLog
from stormproof.settings import Settings
from stormproof.views import all_views
from stormproof.views.store import Projector, ViewStore

__all__ = ["Region", "load_secret"]


def load_secret(path: Path) -> bytes:
    """The region's signing secret, created on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return bytes.fromhex(path.read_text().strip())


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
        await self.projector.catch_up()
        self._task = asyncio.create_task(self.projector.run(), name="projector")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.log.close()
        self.store.close()
