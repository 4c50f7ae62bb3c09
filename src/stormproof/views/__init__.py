"""Views: everything a user reads, computed from the log and nothing else.

A view owns some tables in the region's view database. The view store applies
log entries to it and records the view's position in the same transaction,
so a crash leaves data and position consistent, a restart resumes from the
position, and an entry delivered again is skipped.

Rules a view follows so that a rebuild from sequence 0 gives the same state
in every region:

- read time from ``entry.event.at``, never from the clock;
- derive every key from the event (no AUTOINCREMENT, no random values);
- never raise on an event that does not apply (unknown video, a username
  already taken by an earlier event): ignore it, deterministically.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any, ClassVar

from stormproof.log import Entry

__all__ = ["View", "all_views"]


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


def all_views() -> list[View]:
    """A fresh instance of every view, in the order they are applied."""
    from stormproof.views.accounts import AccountsView
    from stormproof.views.blocks import BlocksView
    from stormproof.views.comments import CommentsView
    from stormproof.views.engagement import EngagementView
    from stormproof.views.follows import FollowsView
    from stormproof.views.history import HistoryView
    from stormproof.views.keys import KeysView
    from stormproof.views.messages import MessagesView
    from stormproof.views.quarantine import QuarantineView
    from stormproof.views.reports import ReportsView
    from stormproof.views.videos import VideosView

    return [
        KeysView(),
        AccountsView(),
        VideosView(),
        FollowsView(),
        BlocksView(),
        EngagementView(),
        CommentsView(),
        HistoryView(),
        MessagesView(),
        ReportsView(),
        QuarantineView(),
    ]
