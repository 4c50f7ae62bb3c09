"""Accounts and sessions: who exists, how they log in, which tokens are live.

Two sign-ups may race for one username in different partitions; every
account is kept, and the name belongs to the earliest by ``(at, event id)`` —
the same answer in every region whatever order the events arrived in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import AccountCreated, SessionStarted
from stormproof.log import Entry
from stormproof.views import View

__all__ = ["Account", "AccountsView", "account_by_id", "account_by_name", "session", "usernames"]


class AccountsView(View):
    name = "accounts"
    tables = ("accounts", "sessions")
    schema = """
    CREATE TABLE IF NOT EXISTS accounts (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        eid TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS accounts_by_name ON accounts (username, created_at, eid);
    CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    """

    def on_account_created(self, db: sqlite3.Connection, entry: Entry, p: AccountCreated) -> None:
        db.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.user_id, p.username.lower(), p.password_hash, entry.event.at, entry.event.id),
        )

    def on_session_started(self, db: sqlite3.Connection, entry: Entry, p: SessionStarted) -> None:
        db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (p.session_id, p.user_id, p.expires_at),
        )


@dataclass(frozen=True)
class Account:
    user_id: str
    username: str
    password_hash: str
    created_at: int


_SELECT = "SELECT user_id, username, password_hash, created_at FROM accounts"


def account_by_name(db: sqlite3.Connection, username: str) -> Account | None:
    """The account that owns a username: the earliest to claim it."""
    row = db.execute(
        f"{_SELECT} WHERE username = ? ORDER BY created_at, eid LIMIT 1", (username.lower(),)
    ).fetchone()
    return Account(*row) if row else None


def account_by_id(db: sqlite3.Connection, user_id: str) -> Account | None:
    row = db.execute(f"{_SELECT} WHERE user_id = ?", (user_id,)).fetchone()
    return Account(*row) if row else None


def usernames(db: sqlite3.Connection, user_ids: list[str]) -> dict[str, str]:
    """The usernames of those of ``user_ids`` that exist (one query)."""
    marks = ",".join("?" * len(user_ids))
    rows = db.execute(
        f"SELECT user_id, username FROM accounts WHERE user_id IN ({marks})", user_ids
    ).fetchall()
    return dict(rows)


def session(db: sqlite3.Connection, session_id: str) -> tuple[str, int] | None:
    """(user_id, expires_at) of a session, if it exists."""
    row = db.execute(
        "SELECT user_id, expires_at FROM sessions WHERE session_id = ?", (session_id,)
    ).fetchone()
    return (row[0], row[1]) if row else None
