"""Quarantined entries: log entries that no view could apply.

Every event is validated before it is appended, so nothing in the log should
fail to apply. This is the second line of defence: if an entry still breaks
a view (a bug, or bytes that do not decode), the view store rolls back just
that entry, records it here and moves on, instead of stopping the region —
and, since the entry replicated, every region with it.

The decision depends only on the entry and the code, so every region
quarantines the same entries: the table is digested like any view (the
partition and sequence where a copy arrived are local, as in the keys view).
An entry that fails for a reason outside the entry — the disk is full, the
database is locked — is not quarantined: the transaction fails and the
projector retries it.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["QuarantineView", "Quarantined", "quarantine", "quarantined", "quarantined_count"]

log = logging.getLogger(__name__)


class QuarantineView(View):
    name = "quarantine"
    tables = ("quarantine",)
    local_columns = frozenset({"partition", "seq"})
    schema = """
    CREATE TABLE IF NOT EXISTS quarantine (
        key TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        error TEXT NOT NULL,
        partition INTEGER NOT NULL,
        seq INTEGER NOT NULL
    );
    """


@dataclass(frozen=True)
class Quarantined:
    key: str
    event_id: str
    type: str
    error: str
    partition: int
    seq: int


def quarantine(db: sqlite3.Connection, entry: Entry, error: BaseException | str) -> None:
    """Record that ``entry`` could not be applied, and why (the error's class
    name only: a message may differ between regions' versions)."""
    reason = error if isinstance(error, str) else type(error).__name__
    log.error(
        "quarantined log entry %s/%s (%s, key %r): %s",
        entry.partition,
        entry.seq,
        entry.event.type,
        entry.key,
        error if isinstance(error, str) else repr(error),
    )
    db.execute(
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (entry.key, entry.event.id, entry.event.type, reason, entry.partition, entry.seq),
    )


def quarantined(db: sqlite3.Connection, limit: int = 100) -> list[Quarantined]:
    rows = db.execute(
        "SELECT key, event_id, type, error, partition, seq FROM quarantine "
        "ORDER BY partition, seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [Quarantined(*row) for row in rows]


def quarantined_count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
