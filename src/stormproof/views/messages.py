"""Direct messages and the conversations they make up."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import MessageSent
from stormproof.log import Entry
from stormproof.views import View

__all__ = [
    "Conversation",
    "Message",
    "MessagesView",
    "conversation",
    "conversation_id",
    "conversations",
    "inbox",
    "participants",
]


class MessagesView(View):
    name = "messages"
    tables = ("messages",)
    schema = """
    CREATE TABLE IF NOT EXISTS messages (
        message_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        from_id TEXT NOT NULL,
        to_id TEXT NOT NULL,
        text TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_from ON messages (from_id, seq);
    CREATE INDEX IF NOT EXISTS messages_to ON messages (to_id, seq);
    """

    def on_message_sent(self, db: sqlite3.Connection, entry: Entry, p: MessageSent) -> None:
        db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.message_id, entry.seq, entry.event.actor, p.to_id, p.text, entry.event.at),
        )


@dataclass(frozen=True)
class Message:
    message_id: str
    seq: int
    from_id: str
    to_id: str
    text: str
    at: int


@dataclass(frozen=True)
class Conversation:
    other_id: str
    last: Message
    count: int


def conversation_id(a: str, b: str) -> str:
    """The id of the conversation between two users: the same from both sides."""
    first, second = sorted((a, b))
    return f"dm.{first}.{second}"


def participants(conversation: str) -> tuple[str, str] | None:
    """The two user ids a conversation id names, if it is well-formed."""
    parts = conversation.split(".")
    if len(parts) != 3 or parts[0] != "dm":
        return None
    return parts[1], parts[2]


_SELECT = "SELECT message_id, seq, from_id, to_id, text, at FROM messages"


def conversation(
    db: sqlite3.Connection, user_id: str, other_id: str, *, after_seq: int, limit: int
) -> list[Message]:
    """Oldest first: messages between two users after ``after_seq``."""
    rows = db.execute(
        f"{_SELECT} WHERE ((from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)) "
        "AND seq > ? ORDER BY seq LIMIT ?",
        (user_id, other_id, other_id, user_id, after_seq, limit),
    ).fetchall()
    return [Message(*row) for row in rows]


def inbox(db: sqlite3.Connection, user_id: str, *, after_seq: int, limit: int) -> list[Message]:
    """Oldest first: every message sent or received by a user after ``after_seq``."""
    rows = db.execute(
        f"{_SELECT} WHERE seq > ? AND (from_id = ? OR to_id = ?) ORDER BY seq LIMIT ?",
        (after_seq, user_id, user_id, limit),
    ).fetchall()
    return [Message(*row) for row in rows]


def conversations(db: sqlite3.Connection, user_id: str) -> list[Conversation]:
    """Every conversation of a user, the most recently active first."""
    rows = db.execute(
        """
        WITH mine AS (
            SELECT *, CASE WHEN from_id = ? THEN to_id ELSE from_id END AS other
            FROM messages WHERE from_id = ? OR to_id = ?
        )
        SELECT m.message_id, m.seq, m.from_id, m.to_id, m.text, m.at, m.other, c.n
        FROM mine m JOIN (
            SELECT other, MAX(seq) AS last_seq, COUNT(*) AS n FROM mine GROUP BY other
        ) c ON m.other = c.other AND m.seq = c.last_seq
        ORDER BY m.seq DESC
        """,
        (user_id, user_id, user_id),
    ).fetchall()
    return [Conversation(other_id=r[6], last=Message(*r[:6]), count=r[7]) for r in rows]
