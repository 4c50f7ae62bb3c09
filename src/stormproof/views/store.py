"""The view store: one SQLite database holding every view.

All views apply a batch of entries in one transaction, together with the
position reached in each partition, so a crash leaves data and positions
consistent and a restart resumes exactly there. An entry at or below the
position is skipped (re-delivery is a no-op), and so is an entry whose key
was already applied (the same write in two partitions).

The views database is not the source of truth — the log is — so it runs with
``synchronous=NORMAL``: a crash may lose the last transactions, and the
projector re-applies that tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TypedDict, TypeVar

from stormproof.errors import LogError
from stormproof.events import UNDECODABLE
from stormproof.log import Entry, Position
from stormproof.views.base import Handler, View
from stormproof.views.keys import applied
from stormproof.views.quarantine import quarantine

__all__ = ["Digests", "Follower", "ViewStore", "schema_shape"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the writer's page cache, KiB (negative: SQLite's unit for "KiB"), and
#: while catching up, when every batch touches pages all over the indexes
CACHE_KIB = -64 * 1024
CATCH_UP_CACHE_KIB = -256 * 1024
#: WAL pages before SQLite copies them into the database (its default), and
#: while catching up: a page rewritten by many batches is copied once, not
#: once per thousand pages (measured: 1.6x faster rebuilds, ADR 017)
WAL_PAGES = 1000
CATCH_UP_WAL_PAGES = 100_000


class _ViewFailed(Exception):
    """A view failed on an entry of a batch applied straight through."""


def _handlers(views: Sequence[View], event_type: str) -> list[Handler]:
    """What applies an event of ``event_type``: each view's handler, in order."""
    return [handle for view in views if (handle := view.handler(event_type)) is not None]


class Digests(TypedDict):
    position: list[int]
    views: dict[str, str]


class Follower(Protocol):
    """A view kept outside SQLite (the For You engine). ``apply`` gets, after
    each committed batch and under the store's write lock, the entries the
    views applied (never a second copy of a write) and the position reached."""

    name: str

    def apply(self, entries: Sequence[Entry], position: Position) -> None: ...

    def digest(self) -> str: ...


_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
_POSITIONS = """
CREATE TABLE IF NOT EXISTS positions (partition INTEGER PRIMARY KEY, seq INTEGER NOT NULL)
"""


def schema_shape(views: Sequence[View]) -> str:
    """What the views' schemas hash to, kept in the ``meta`` table as ``schema``:
    two files of one shape hold the same tables."""
    return hashlib.sha256("\n".join(v.schema for v in views).encode()).hexdigest()


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # First: a reader opened while the writer commits must wait, not fail
    # with "database is locked".
    db.execute("PRAGMA busy_timeout=5000")
    if writer:
        db.execute("PRAGMA journal_mode=WAL")  # kept in the file: readers need not set it
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA cache_size={CACHE_KIB}")
    else:
        db.execute("PRAGMA query_only=1")
    return db


class ViewStore:
    """Every view's tables, and the log position they stand at, in one SQLite file."""

    def __init__(
        self,
        path: Path,
        views: Sequence[View],
        *,
        partitions: int = 1,
        followers: Sequence[Follower] = (),
    ) -> None:
        self.path = path
        self.views = list(views)
        self.followers = list(followers)
        self.partitions = partitions
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(path, writer=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        #: each event type's handlers, the views' in order (found on first use)
        self._handlers: dict[str, list[Handler]] = {}
        with self._write_lock:
            self._start_over_if_reshaped()
            self._db.execute(_POSITIONS)
            for view in self.views:
                self._db.executescript(view.schema)
            self._db.executemany(
                "INSERT INTO positions VALUES (?, 0) ON CONFLICT DO NOTHING",
                [(p,) for p in range(partitions)],
            )

    def _start_over_if_reshaped(self) -> None:
        """Drop every view table when the views' schemas changed since this
        file was written (a new column, a new table): the views are rebuilt
        from sequence 0 of the log, which is their source of truth, instead of
        failing to apply the next entry."""
        shape = schema_shape(self.views)
        self._db.execute(_META)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        tables = [
            name
            for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'meta'"
            )
        ]
        if (row is None and tables) or (row is not None and row[0] != shape):
            log.warning("the views changed shape: rebuilding them from the log")
            for name in tables:
                self._db.execute(f'DROP TABLE "{name}"')
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (shape,))

    @contextlib.contextmanager
    def catching_up(self) -> Iterator[None]:
        """Tune the writer for applying a long stretch of the log: a larger
        page cache, and the WAL copied into the database rarely (then once,
        at the end, without waiting for readers)."""
        with self._write_lock:
            self._db.execute(f"PRAGMA cache_size={CATCH_UP_CACHE_KIB}")
            self._db.execute(f"PRAGMA wal_autocheckpoint={CATCH_UP_WAL_PAGES}")
        try:
            yield
        finally:
            with self._write_lock:
                self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
                self._db.execute(f"PRAGMA cache_size={CACHE_KIB}")
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def position(self, db: sqlite3.Connection | None = None) -> Position:
        """The sequence applied in each partition (read through ``db`` if given)."""
        rows = (db or self._db).execute("SELECT partition, seq FROM positions").fetchall()
        seqs = dict(rows)
        count = max(self.partitions, max(seqs, default=-1) + 1)
        return tuple(seqs.get(p, 0) for p in range(count))

    def apply(self, entries: Sequence[Entry]) -> Position:
        """Apply entries in one transaction; return the position reached.

        Within a partition, entries must follow on from the position without
        gaps; entries already applied are skipped.

        The batch is applied straight through first. Should a view fail on an
        entry, the whole transaction is rolled back and the batch applied again
        entry by entry, each in a savepoint, the failing ones quarantined:
        the same result, and the common case pays no savepoint per entry (a
        tenth of the statements a rebuild runs).
        """
        with self._write_lock:
            try:
                position, fresh = self._transaction(entries, careful=False)
            except _ViewFailed:
                position, fresh = self._transaction(entries, careful=True)
            for follower in self.followers:
                follower.apply(fresh, position)
            return position

    def _transaction(
        self, entries: Sequence[Entry], *, careful: bool
    ) -> tuple[Position, list[Entry]]:
        """Apply ``entries`` in a transaction of their own: the position
        reached, and the entries the views applied. ``careful``: each entry in
        a savepoint, quarantined if a view fails on it; else a view's failure
        rolls everything back and raises :class:`_ViewFailed`."""
        position = list(self.position())
        fresh: list[Entry] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            done = applied(self._db, [entry.key for entry in entries])
            for entry in entries:
                at = position[entry.partition]
                if entry.seq <= at:
                    continue
                if entry.seq != at + 1:
                    raise LogError(
                        f"partition {entry.partition}: got seq {entry.seq} after {at}",
                        code="log_gap",
                    )
                if entry.key not in done and self._apply_one(entry, careful=careful):
                    fresh.append(entry)
                    done.add(entry.key)
                position[entry.partition] = entry.seq
            if not careful:
                self._flush()
            self._db.executemany(
                "UPDATE positions SET seq = ? WHERE partition = ?",
                [(seq, p) for p, seq in enumerate(position)],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            for view in self.views:
                view.forget()
            raise
        self._db.execute("COMMIT")
        return tuple(position), fresh

    def _flush(self) -> None:
        """Every view writes what it held back; a view's failure is the batch's."""
        try:
            for view in self.views:
                view.flush(self._db)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:
            raise _ViewFailed from exc

    def _apply_one(self, entry: Entry, *, careful: bool) -> bool:
        """Apply one entry to every view, or quarantine it: True if applied.

        A view that raises on the entry (anything but SQLite's operational
        errors — a locked or full disk — which are about this region, not the
        entry) has, when ``careful``, its changes for the entry rolled back,
        and the entry is recorded as quarantined; the batch goes on. Else the
        failure is raised as :class:`_ViewFailed`. See ``views/quarantine.py``.
        """
        if entry.event.type == UNDECODABLE:
            quarantine(self._db, entry, "undecodable")
            return False
        handlers = self._handlers.get(entry.event.type)
        if handlers is None:
            handlers = self._handlers[entry.event.type] = _handlers(self.views, entry.event.type)
        if not careful:
            try:
                for handle in handlers:
                    handle(self._db, entry)
            except sqlite3.OperationalError:
                raise
            except Exception as exc:
                raise _ViewFailed from exc
            return True
        self._db.execute("SAVEPOINT entry")
        try:
            for handle in handlers:
                handle(self._db, entry)
            for view in self.views:
                view.flush(self._db)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:
            self._db.execute("ROLLBACK TO entry")
            self._db.execute("RELEASE entry")
            for view in self.views:
                view.forget()
            quarantine(self._db, entry, exc)
            return False
        self._db.execute("RELEASE entry")
        return True

    def digests(self) -> Digests:
        """The position and each view's digest there."""
        with self._write_lock:
            self._db.execute("BEGIN")
            try:
                views = {view.name: view.digest(self._db) for view in self.views}
                views.update({f.name: f.digest() for f in self.followers})
                return {"position": list(self.position()), "views": views}
            finally:
                self._db.execute("COMMIT")

    def reader(self) -> sqlite3.Connection:
        """A read connection for the calling thread."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self.path, writer=False)
            self._local.db = db
        return db

    async def query(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read in a worker thread on that thread's own connection."""
        return await asyncio.to_thread(lambda: fn(self.reader()))

    def read_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short read on the calling thread (the event loop's): for
        indexed lookups on hot paths, where the hop to a worker thread costs
        more than the read. Long reads belong in :meth:`query`."""
        return fn(self.reader())

    def close(self) -> None:
        """Close, once a batch still being applied (by a worker thread whose
        task was cancelled) has committed."""
        with self._write_lock:
            self._db.close()
