"""Applied idempotency keys: which log entry each write key produced.

A retry looks its key up here before doing any work, so it gets the first
answer back instead of a second event — even when the log's own duplicate
detection no longer remembers the key.
"""

from __future__ import annotations

import sqlite3

from stormproof.log import Entry
from stormproof.views import View

__all__ = ["KeysView", "seq_of_key"]


class KeysView(View):
    name = "keys"
    tables = ("keys",)
    schema = """
    CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    """

    def apply(self, db: sqlite3.Connection, entry: Entry) -> None:
        db.execute("INSERT INTO keys VALUES (?, ?) ON CONFLICT DO NOTHING", (entry.key, entry.seq))


def seq_of_key(db: sqlite3.Connection, key: str) -> int | None:
    row = db.execute("SELECT seq FROM keys WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else None
