"""Applied writes: the event each idempotency key produced.

The view store skips any entry whose key is already here — the same write
that landed in two partitions, or a retry that reached the log twice — so
every write is applied once. A retried request finds its first answer here
without asking the log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from stormproof.events import decode, encode
from stormproof.log import Entry, Position
from stormproof.views.base import Handler, View

__all__ = ["KeysView", "applied", "applied_after", "event_of_key", "first_copy"]


class KeysView(View):
    name = "keys"
    tables = ("keys",)
    local_columns = frozenset({"partition", "seq"})
    schema = """
    CREATE TABLE IF NOT EXISTS keys (
        key TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        partition INTEGER NOT NULL,
        seq INTEGER NOT NULL
    );
    """

    def handler(self, event_type: str) -> Handler:
        return self._record  # every entry, whatever its type

    def _record(self, db: sqlite3.Connection, entry: Entry) -> None:
        db.execute(
            "INSERT INTO keys VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (entry.key, entry.body or encode(entry.event), entry.partition, entry.seq),
        )


def applied(db: sqlite3.Connection, keys: Sequence[str], chunk: int = 500) -> set[str]:
    """Those of ``keys`` whose write was applied here (one query per ``chunk``)."""
    found: set[str] = set()
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        marks = ",".join("?" * len(part))
        found.update(k for (k,) in db.execute(f"SELECT key FROM keys WHERE key IN ({marks})", part))
    return found


def event_of_key(db: sqlite3.Connection, key: str) -> Entry | None:
    """The entry that applied a key here (a copy in another partition is skipped)."""
    row = db.execute("SELECT body, partition, seq FROM keys WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    return Entry(partition=row[1], seq=row[2], key=key, event=decode(row[0]))


def first_copy(db: sqlite3.Connection, key: str) -> tuple[int, int] | None:
    """(partition, seq) of the copy of a write that was applied here."""
    row = db.execute("SELECT partition, seq FROM keys WHERE key = ?", (key,)).fetchone()
    return None if row is None else (row[0], row[1])


def applied_after(
    db: sqlite3.Connection, after: Position, target: Position, chunk: int = 20_000
) -> list[Entry]:
    """The writes applied here past ``after`` up to ``target`` (each
    partition's sequence), from this view alone: oldest first within each
    partition, in partition order.

    Rows go in as the views apply, so each partition's rows stand in rowid
    order of their sequence, and the newest at the end. The table is read
    backwards until each partition shows a row at or before where ``after``
    stands (or the table's start): first about as many rows as the tail
    holds, then twice as many each time, up to ``chunk`` rows a read. A
    short tail costs a short read, not a scan: read backwards, each page of
    a cold file is a read of the disk of its own (a restart after a power
    cut), and a first read of 20,000 rows for a tail of 52 took 0.53 s where
    the file was cold (docs/benchmarks.md). Call it inside one read
    transaction with ``target`` read in it, so the rows and ``target`` agree.
    """
    open_ = {p for p, (a, t) in enumerate(zip(after, target, strict=True)) if t > a}
    found: list[tuple[int, int, str, bytes]] = []
    (top,) = db.execute("SELECT coalesce(max(rowid), 0) FROM keys").fetchone()
    # the tail's rows, and a few before them that show where each partition's begins
    behind = sum(t - a for a, t in zip(after, target, strict=True) if t > a)
    size = min(chunk, behind + 16)
    while open_ and top > 0:
        low = max(0, top - size)
        size = min(chunk, 2 * size)
        rows = db.execute(
            "SELECT partition, seq, key, body FROM keys WHERE rowid > ? AND rowid <= ? "
            "ORDER BY rowid DESC",
            (low, top),
        )
        for partition, seq, key, body in rows:
            if partition not in open_:
                continue
            if seq <= after[partition]:
                open_.discard(partition)
            elif seq <= target[partition]:
                found.append((partition, seq, key, body))
        top = low
    found.sort()
    return [Entry(partition=p, seq=s, key=k, event=decode(b), body=b) for p, s, k, b in found]
