"""The embedded log: one append-only SQLite file, fsynced before it acknowledges.

WAL journal with ``synchronous=FULL``: a commit returns only after the WAL
is on disk, so an acknowledged append survives a power cut. The idempotency
key is a UNIQUE column, so a retried append finds the first entry instead of
making a second one. Blocking SQLite calls run in worker threads, serialised
by one lock, so the event loop never waits on a disk flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from stormproof.errors import LogError
from stormproof.events import Event, decode, decode_entry, encode
from stormproof.log import Entry

__all__ = ["SqliteLog"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq  INTEGER PRIMARY KEY,  -- rowid: max + 1, and the log never deletes
    key  TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL
)
"""


class SqliteLog:
    """A :class:`~stormproof.log.Log` of one partition in one SQLite file."""

    partitions = 1

    def __init__(self, path: Path, *, poll_interval: float = 0.25) -> None:
        self.path = path
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._appended = asyncio.Event()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise LogError(f"cannot open log {path}: {exc}") from exc

    async def start(self) -> None:
        """Nothing to do: the file is opened by the constructor, so a log that
        cannot be opened fails where it is made."""

    async def _run(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    return fn()
                except sqlite3.Error as exc:
                    raise LogError(f"log {self.path}: {exc}") from exc

        return await asyncio.to_thread(locked)

    async def append(
        self, key: str, event: Event, *, partition: int = 0, only: bool = False
    ) -> Entry:
        body = encode(event)

        def insert() -> Entry:
            cur = self._db.execute(
                "INSERT INTO log (key, body) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, body),
            )
            if cur.rowcount == 1:
                assert cur.lastrowid is not None
                return Entry(partition=0, seq=cur.lastrowid, key=key, event=event, body=body)
            seq, stored = self._db.execute(
                "SELECT seq, body FROM log WHERE key = ?", (key,)
            ).fetchone()
            return Entry(partition=0, seq=seq, key=key, event=decode(stored), duplicate=True)

        entry = await self._run(insert)
        if not entry.duplicate:
            self._appended.set()
            self._appended = asyncio.Event()
        return entry

    async def read(self, partition: int, after: int, limit: int = 1000) -> list[Entry]:
        if partition != 0:
            raise LogError(f"no partition {partition}: this log has one", code="no_partition")

        def select() -> list[tuple[int, str, bytes]]:
            return self._db.execute(
                "SELECT seq, key, body FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()

        def decoded(rows: list[tuple[int, str, bytes]]) -> list[Entry]:
            return [
                Entry(partition=0, seq=seq, key=key, event=decode_entry(body), body=body)
                for seq, key, body in rows
            ]

        rows = await self._run(select)
        # Decoding thousands of entries takes a good part of a second: not
        # on the event loop, which serves requests meanwhile.
        return decoded(rows) if len(rows) < 64 else await asyncio.to_thread(decoded, rows)

    async def wait(self, positions: Sequence[int], timeout: float) -> None:
        # Woken by an append in this process; polling notices appends made by
        # another process (a CLI, a second server) within one poll interval.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            waiter = self._appended  # taken before the check: no lost wake-up
            if await self._last_seq() > positions[0]:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), min(remaining, self._poll_interval))

    async def _last_seq(self) -> int:
        def select() -> int:
            row = self._db.execute("SELECT MAX(seq) FROM log").fetchone()
            return int(row[0] or 0)

        return await self._run(select)

    async def last_seqs(self) -> list[int]:
        return [await self._last_seq()]

    async def close(self) -> None:
        await self._run(self._db.close)
