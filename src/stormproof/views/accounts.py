"""Accounts and sessions: who exists, how they log in, which tokens are live.

Two sign-ups may race for one username in different partitions; every
account is kept, and the name belongs to the earliest by ``(at, event id)`` —
the same answer in every region whatever order the events arrived in.

The same holds for everything that ends a session or changes an account
(ADR 011). Each is kept as a row of its own and combined when read, so the
order the partitions arrive in does not matter:

- a revocation counts only when its actor owns the session;
- the password is the one of the latest change by ``(at, event id)``; a
  change ends every session of its actor started at or before it, except the
  one it keeps;
- a deletion ends every session, and keeps the username retired for good.

System accounts (a region's prober, ADR 020) are accounts like any, with
``system`` set; their ids say so too (:func:`stormproof.events.is_system`),
which is what the other views go by.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import (
    AccountCreated,
    AccountDeleted,
    PasswordChanged,
    SessionRevoked,
    SessionStarted,
)
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "DELETED_NAME",
    "Account",
    "AccountsView",
    "Session",
    "account_by_id",
    "account_by_name",
    "session",
    "sessions_of",
    "usernames",
]

#: how a deleted account is named to others (no username can look like it)
DELETED_NAME = "[deleted]"


class AccountsView(View):
    name = "accounts"
    tables = ("accounts", "sessions", "session_revocations", "password_changes", "deletions")
    schema = """
    CREATE TABLE IF NOT EXISTS accounts (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        system INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS accounts_by_name ON accounts (username, created_at, eid);
    CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        started_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id, started_at);
    CREATE TABLE IF NOT EXISTS session_revocations (
        session_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (session_id, actor)
    );
    CREATE TABLE IF NOT EXISTS password_changes (
        user_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        kept_session_id TEXT NOT NULL,
        PRIMARY KEY (user_id, at, eid)
    );
    CREATE TABLE IF NOT EXISTS deletions (
        user_id TEXT PRIMARY KEY,
        deleted_at INTEGER NOT NULL
    );
    """

    def on_account_created(self, db: sqlite3.Connection, entry: Entry, p: AccountCreated) -> None:
        db.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                p.user_id,
                p.username.lower(),
                p.password_hash,
                entry.event.at,
                entry.event.id,
                int(p.system),
            ),
        )

    def on_session_started(self, db: sqlite3.Connection, entry: Entry, p: SessionStarted) -> None:
        db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.session_id, p.user_id, p.expires_at, entry.event.at),
        )

    def on_session_revoked(self, db: sqlite3.Connection, entry: Entry, p: SessionRevoked) -> None:
        db.execute(
            "INSERT INTO session_revocations VALUES (?, ?) ON CONFLICT DO NOTHING",
            (p.session_id, entry.event.actor),
        )

    def on_password_changed(self, db: sqlite3.Connection, entry: Entry, p: PasswordChanged) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO password_changes VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event.actor, event.at, event.id, p.password_hash, p.kept_session_id),
        )

    def on_account_deleted(self, db: sqlite3.Connection, entry: Entry, _: AccountDeleted) -> None:
        # Two deletions (two keys) may arrive in either order: keep the earliest.
        db.execute(
            "INSERT INTO deletions VALUES (?, ?) "
            "ON CONFLICT DO UPDATE SET deleted_at = MIN(deleted_at, excluded.deleted_at)",
            (entry.event.actor, entry.event.at),
        )


@dataclass(frozen=True)
class Account:
    user_id: str
    username: str
    #: the current one: from the latest password change, else from sign-up
    password_hash: str
    created_at: int
    #: a deleted account keeps its row so that its username stays taken
    deleted: bool = False
    #: the platform's own (a prober): never recommended, counts nowhere
    system: bool = False


_SELECT = """
SELECT a.user_id, a.username,
       COALESCE((SELECT c.password_hash FROM password_changes c WHERE c.user_id = a.user_id
                 ORDER BY c.at DESC, c.eid DESC LIMIT 1), a.password_hash),
       a.created_at,
       EXISTS (SELECT 1 FROM deletions d WHERE d.user_id = a.user_id),
       a.system
FROM accounts a
"""


def _account(row: tuple[str, str, str, int, int, int] | None) -> Account | None:
    return Account(*row[:4], deleted=bool(row[4]), system=bool(row[5])) if row else None


def account_by_name(db: sqlite3.Connection, username: str) -> Account | None:
    """The account that owns a username: the earliest to claim it (deleted or not)."""
    row = db.execute(
        f"{_SELECT} WHERE a.username = ? ORDER BY a.created_at, a.eid LIMIT 1",
        (username.lower(),),
    ).fetchone()
    return _account(row)


def account_by_id(db: sqlite3.Connection, user_id: str) -> Account | None:
    return _account(db.execute(f"{_SELECT} WHERE a.user_id = ?", (user_id,)).fetchone())


def usernames(db: sqlite3.Connection, user_ids: list[str]) -> dict[str, str]:
    """The usernames of those of ``user_ids`` that exist (one query); a
    deleted account is named :data:`DELETED_NAME`."""
    marks = ",".join("?" * len(user_ids))
    rows = db.execute(
        f"SELECT a.user_id, CASE WHEN d.user_id IS NULL THEN a.username ELSE ? END "
        f"FROM accounts a LEFT JOIN deletions d ON d.user_id = a.user_id "
        f"WHERE a.user_id IN ({marks})",
        (DELETED_NAME, *user_ids),
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str
    started_at: int
    expires_at: int


#: ended: revoked by its owner, or by a password change or a deletion of its account
_ENDED = """(
    EXISTS (SELECT 1 FROM session_revocations r
            WHERE r.session_id = s.session_id AND r.actor = s.user_id)
    OR EXISTS (SELECT 1 FROM password_changes c
               WHERE c.user_id = s.user_id AND s.started_at <= c.at
                 AND c.kept_session_id != s.session_id)
    OR EXISTS (SELECT 1 FROM deletions d WHERE d.user_id = s.user_id)
)"""
_SESSION = "SELECT s.session_id, s.user_id, s.started_at, s.expires_at"


def session(db: sqlite3.Connection, session_id: str) -> tuple[Session, bool] | None:
    """A session and whether it has ended (it may also have expired: compare
    ``expires_at``), if it exists."""
    row = db.execute(
        f"{_SESSION}, {_ENDED} FROM sessions s WHERE s.session_id = ?", (session_id,)
    ).fetchone()
    return (Session(*row[:4]), bool(row[4])) if row else None


def sessions_of(
    db: sqlite3.Connection, user_id: str, *, now: int, limit: int = 100
) -> list[Session]:
    """A user's sessions that have neither ended nor expired at ``now``, newest first."""
    rows = db.execute(
        f"{_SESSION} FROM sessions s WHERE s.user_id = ? AND s.expires_at > ? AND NOT {_ENDED} "
        "ORDER BY s.started_at DESC, s.session_id DESC LIMIT ?",
        (user_id, now, limit),
    ).fetchall()
    return [Session(*row) for row in rows]
