"""Roles: which accounts are operators (ADR 021).

Every grant and revocation is kept as a row of its own, and an account holds
a role when the latest of them by ``(at, event id)`` is a grant: the same
answer in every region whatever order the partitions arrive in.
"""

from __future__ import annotations

import sqlite3

from stormproof.events import RoleGranted, RoleRevoked
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = ["RolesView", "has_role", "holders"]


class RolesView(View):
    name = "roles"
    tables = ("role_changes",)
    schema = """
    CREATE TABLE IF NOT EXISTS role_changes (
        user_id TEXT NOT NULL,
        role TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        granted INTEGER NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (user_id, role, at, eid)
    ) WITHOUT ROWID;
    """

    def on_account_role_granted(self, db: sqlite3.Connection, entry: Entry, p: RoleGranted) -> None:
        self._change(db, entry, p.user_id, p.role, granted=True)

    def on_account_role_revoked(self, db: sqlite3.Connection, entry: Entry, p: RoleRevoked) -> None:
        self._change(db, entry, p.user_id, p.role, granted=False)

    def _change(
        self, db: sqlite3.Connection, entry: Entry, user_id: str, role: str, *, granted: bool
    ) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO role_changes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, role, event.at, event.id, int(granted), event.actor),
        )


def has_role(db: sqlite3.Connection, user_id: str, role: str) -> bool:
    """Whether the latest change of ``user_id``'s ``role`` granted it."""
    row = db.execute(
        "SELECT granted FROM role_changes WHERE user_id = ? AND role = ? "
        "ORDER BY at DESC, eid DESC LIMIT 1",
        (user_id, role),
    ).fetchone()
    return bool(row and row[0])


def holders(db: sqlite3.Connection, role: str) -> list[str]:
    """Every account holding ``role``, by id."""
    rows = db.execute(
        "SELECT user_id, granted FROM role_changes c WHERE role = ? AND NOT EXISTS ("
        "  SELECT 1 FROM role_changes d WHERE d.user_id = c.user_id AND d.role = c.role"
        "  AND (d.at, d.eid) > (c.at, c.eid)) ORDER BY user_id",
        (role,),
    ).fetchall()
    return [user_id for user_id, granted in rows if granted]
