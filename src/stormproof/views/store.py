"""The view store: one SQLite database holding every view, and the projector
that keeps it following the log.

The views database is not the source of truth — the log is — so it runs with
``synchronous=NORMAL``: a crash may lose the last few view transactions, but
each transaction holds the data *and* the position together, so the
projector simply re-applies the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from stormproof.errors import LogError, StormproofError
from stormproof.log import Entry, Log
from stormproof.views import View

__all__ = ["Projector", "ViewStore"]

T = TypeVar("T")

_POSITIONS = "CREATE TABLE IF NOT EXISTS view_positions (view TEXT PRIMARY KEY, seq INTEGER)"


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class ViewStore:
    """Every view's tables and positions in one SQLite file."""

    def __init__(self, path: Path, views: Sequence[View]) -> None:
        self.path = path
        self.views = list(views)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(path)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        with self._write_lock:
            self._db.execute(_POSITIONS)
            for view in self.views:
                self._db.executescript(view.schema)
                self._db.execute(
                    "INSERT INTO view_positions (view, seq) VALUES (?, 0) "
                    "ON CONFLICT (view) DO NOTHING",
                    (view.name,),
                )

    def positions(self, db: sqlite3.Connection | None = None) -> dict[str, int]:
        """Each view's position, read through ``db`` (the writer's own by default)."""
        rows = (db or self._db).execute("SELECT view, seq FROM view_positions").fetchall()
        known = {view.name for view in self.views}
        return {name: seq for name, seq in rows if name in known}

    def position(self) -> int:
        """The sequence every view has reached."""
        return min(self.positions().values(), default=0)

    def apply(self, entries: Sequence[Entry]) -> int:
        """Apply entries to every view still behind them; return the new position.

        Each view gets one transaction covering its data and its position.
        Entries at or below a view's position are skipped: re-delivery is a no-op.
        """
        with self._write_lock:
            positions = self.positions()
            for view in self.views:
                pending = [e for e in entries if e.seq > positions[view.name]]
                if not pending:
                    continue
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for entry in pending:
                        view.apply(self._db, entry)
                    self._db.execute(
                        "UPDATE view_positions SET seq = ? WHERE view = ?",
                        (pending[-1].seq, view.name),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            return self.position()

    def digests(self) -> dict[str, dict[str, object]]:
        """Each view's digest and the sequence it stands at."""
        with self._write_lock:
            positions = self.positions()
            return {
                view.name: {"seq": positions[view.name], "digest": view.digest(self._db)}
                for view in self.views
            }

    def reader(self) -> sqlite3.Connection:
        """A read connection for the calling thread."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self.path)
            db.execute("PRAGMA query_only=1")
            self._local.db = db
        return db

    async def query(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read in a worker thread on that thread's own connection."""
        return await asyncio.to_thread(lambda: fn(self.reader()))

    def close(self) -> None:
        self._db.close()


class Projector:
    """Follows the log and applies it to the view store, batch by batch."""

    def __init__(self, log: Log, store: ViewStore, *, batch: int = 500) -> None:
        self.log = log
        self.store = store
        self.batch = batch
        self.position = store.position()
        self.error: StormproofError | None = None
        self._advanced = asyncio.Event()

    async def catch_up(self) -> int:
        """Apply everything the log holds now; return the position reached."""
        while entries := await self.log.read(self.position, self.batch):
            self._advance(await asyncio.to_thread(self.store.apply, entries))
        return self.position

    async def run(self, idle_wait: float = 1.0) -> None:
        """Apply new entries as they arrive, until cancelled."""
        while True:
            try:
                await self.catch_up()
                self.error = None
                await self.log.wait(self.position, idle_wait)
            except LogError as exc:
                # The log is unreachable for now: report it and try again.
                self.error = exc
                await asyncio.sleep(0.2)

    def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            self._advanced.set()
            self._advanced = asyncio.Event()

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Wait until every view has applied ``seq``; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position < seq:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter = self._advanced
            try:
                await asyncio.wait_for(waiter.wait(), remaining)
            except TimeoutError:
                return self.position >= seq
        return True

    async def wait_advanced(self, timeout: float) -> None:
        """Wait until the position moves on, or the timeout passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._advanced.wait(), timeout)
