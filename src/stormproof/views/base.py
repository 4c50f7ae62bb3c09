"""The base of every view: dispatch of log entries to ``on_<type>`` handlers,
and a digest of the tables the view owns (see the package's docstring)."""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

from stormproof.log import Entry

__all__ = ["Handler", "View"]

#: applies one entry to a view, inside the view store's transaction
Handler = Callable[[sqlite3.Connection, Entry], None]

#: rows read and pickled at a time by a digest: the batches are what it
#: hashes, so changing this changes every digest
DIGEST_BATCH = 10_000


class View:
    """Base of every view: dispatch by event type, digest of owned tables."""

    name: ClassVar[str]
    schema: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    #: columns that may differ between regions (where a copy arrived); not digested
    local_columns: ClassVar[frozenset[str]] = frozenset()

    def handler(self, event_type: str) -> Handler | None:
        """What applies an entry of ``event_type`` to this view: its
        ``on_<type>`` method given the payload, or None if it has none (the
        view store asks once per type)."""
        on: Callable[[sqlite3.Connection, Entry, Any], None] | None = getattr(
            self, "on_" + event_type.replace(".", "_"), None
        )
        if on is None:
            return None
        return lambda db, entry: on(db, entry, entry.event.data)

    def flush(self, db: sqlite3.Connection) -> None:
        """Write what the view held back from the entries applied since the
        last flush (counters added up in memory, say); the view store calls
        it before it commits, and after each entry when it applies them one
        by one. Most views hold nothing back."""

    def forget(self) -> None:
        """Drop what the view held back: the entries it came from were rolled back."""

    def digest(self, db: sqlite3.Connection) -> str:
        """SHA-256 over every row of the owned tables, in an order that
        depends on their content only (never on the order rows came in).

        What is hashed is a sequence of pickles: for each table, by name, its
        name and digested columns, then its rows, ``DIGEST_BATCH`` at a time,
        as lists of tuples. Pickle tags each value with its type and length
        (NULL, '', 'null', 0, '0', 0.0 and b'0' all differ), and without a
        memo (``fast``; protocol 3 has no frames) its bytes depend on the
        values alone, not on which Python objects hold them. One C call per
        batch, not one JSON encoding per row: about three times faster
        (docs/benchmarks.md, "View digests").
        """
        digest = hashlib.sha256()
        pickler = pickle.Pickler(SimpleNamespace(write=digest.update), protocol=3)
        pickler.fast = True
        for table in sorted(self.tables):
            info = db.execute(f"PRAGMA table_info({table})").fetchall()
            columns = [row[1] for row in info if row[1] not in self.local_columns]
            pickler.dump((table, columns))
            for query in _in_order(table, columns, info):
                cursor = db.execute(query)
                while rows := cursor.fetchmany(DIGEST_BATCH):
                    pickler.dump(rows)
        return digest.hexdigest()


def _in_order(table: str, columns: list[str], info: list[tuple[Any, ...]]) -> list[str]:
    """Queries that read ``columns`` of every row of ``table`` (whose
    ``PRAGMA table_info`` is ``info``) in an order fixed by the content.

    By the primary key where it is digested: SQLite walks its index, where
    ordering by every column sorts the rows in a temporary B-tree. A primary
    key is unique but SQLite lets its columns hold NULL unless declared NOT
    NULL, so rows with a NULL in the key (none in practice) come last, ordered
    by every column — as are the rows of a table without a digested key.
    """
    # a row of table_info: (cid, name, type, notnull, dflt_value, pk)
    key = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
    nullable = [row[1] for row in info if row[1] in key and not row[3]]
    select = f"SELECT {', '.join(columns)} FROM {table}"
    by_every_column = f"ORDER BY {', '.join(columns)}"
    if not key or not set(key) <= set(columns):
        return [f"{select} {by_every_column}"]
    by_key = f"ORDER BY {', '.join(key)}"
    if not nullable:
        return [f"{select} {by_key}"]
    keyed = " AND ".join(f"{name} IS NOT NULL" for name in nullable)
    unkeyed = " OR ".join(f"{name} IS NULL" for name in nullable)
    return [f"{select} WHERE {keyed} {by_key}", f"{select} WHERE {unkeyed} {by_every_column}"]
