"""The base of every view: dispatch of log entries to ``on_<type>`` handlers,
and a digest of the tables the view owns (see the package's docstring)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any, ClassVar

from stormproof.log import Entry

__all__ = ["View"]


def _hex(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot digest {type(value).__name__}")


class View:
    """Base of every view: dispatch by event type, digest of owned tables."""

    name: ClassVar[str]
    schema: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    #: columns that may differ between regions (where a copy arrived); not digested
    local_columns: ClassVar[frozenset[str]] = frozenset()

    def apply(self, db: sqlite3.Connection, entry: Entry) -> None:
        """Apply one entry; called inside the view's transaction."""
        handler: Callable[[sqlite3.Connection, Entry, Any], None] | None = getattr(
            self, "on_" + entry.event.type.replace(".", "_"), None
        )
        if handler is not None:
            handler(db, entry, entry.event.data)

    def digest(self, db: sqlite3.Connection) -> str:
        """SHA-256 over every row of the owned tables, in a fixed order."""
        digest = hashlib.sha256()
        for table in sorted(self.tables):
            columns = [
                row[1]
                for row in db.execute(f"PRAGMA table_info({table})")
                if row[1] not in self.local_columns
            ]
            order = ", ".join(columns)
            digest.update(f"{table}\n{order}\n".encode())
            for row in db.execute(f"SELECT {order} FROM {table} ORDER BY {order}"):
                line = json.dumps(row, separators=(",", ":"), default=_hex)
                digest.update(line.encode() + b"\n")
        return digest.hexdigest()
