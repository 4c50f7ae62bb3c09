"""Direct messages and the conversations they make up.

Messages are shown in ``(at, message id)`` order. ``message_positions``
remembers where in the log each message arrived, so the live stream can
resume from a position vector in any region; it is a delivery index, not
state a user reads, so it is left out of the digest (a message that landed in
two partitions is indexed under whichever copy this region saw first).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import MessageSent
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "Conversation",
    "Message",
    "MessagesView",
    "conversation",
    "conversation_id",
    "conversations",
    "inbox",
    "message",
    "participants",
]


class MessagesView(View):
    name = "messages"
    tables = ("messages",)
    schema = """
    CREATE TABLE IF NOT EXISTS messages (
        message_id TEXT PRIMARY KEY,
        from_id TEXT NOT NULL,
        to_id TEXT NOT NULL,
        text TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_from ON messages (from_id, at);
    CREATE INDEX IF NOT EXISTS messages_to ON messages (to_id, at);
    CREATE TABLE IF NOT EXISTS message_positions (
        partition INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (partition, seq)
    );
    """

    def on_message_sent(self, db: sqlite3.Connection, entry: Entry, p: MessageSent) -> None:
        db.execute(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.message_id, entry.event.actor, p.to_id, p.text, entry.event.at),
        )
        db.execute(
            "INSERT INTO message_positions VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (entry.partition, entry.seq, p.message_id),
        )


@dataclass(frozen=True)
class Message:
    message_id: str
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


_SELECT = "SELECT message_id, from_id, to_id, text, at FROM messages"


def message(db: sqlite3.Connection, message_id: str) -> Message | None:
    row = db.execute(f"{_SELECT} WHERE message_id = ?", (message_id,)).fetchone()
    return Message(*row) if row else None


def conversation(
    db: sqlite3.Connection,
    user_id: str,
    other_id: str,
    *,
    after: tuple[int, str] | None,
    limit: int,
) -> list[Message]:
    """Oldest first: messages between two users after ``after`` ((at, message id))."""
    at, message_id = after or (-1, "")
    rows = db.execute(
        f"{_SELECT} WHERE ((from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)) "
        "AND (at, message_id) > (?, ?) ORDER BY at, message_id LIMIT ?",
        (user_id, other_id, other_id, user_id, at, message_id, limit),
    ).fetchall()
    return [Message(*row) for row in rows]


def inbox(
    db: sqlite3.Connection, user_id: str, *, partition: int, after_seq: int, upto_seq: int
) -> list[tuple[int, Message]]:
    """(seq, message) of a user's messages that arrived in one partition
    within ``(after_seq, upto_seq]``, in log order."""
    rows = db.execute(
        "SELECT p.seq, m.message_id, m.from_id, m.to_id, m.text, m.at "
        "FROM message_positions p JOIN messages m ON m.message_id = p.message_id "
        "WHERE p.partition = ? AND p.seq > ? AND p.seq <= ? AND (m.from_id = ? OR m.to_id = ?) "
        "ORDER BY p.seq",
        (partition, after_seq, upto_seq, user_id, user_id),
    ).fetchall()
    return [(row[0], Message(*row[1:])) for row in rows]


def conversations(db: sqlite3.Connection, user_id: str) -> list[Conversation]:
    """Every conversation of a user, the most recently active first."""
    rows = db.execute(
        """
        WITH mine AS (
            SELECT *, CASE WHEN from_id = ? THEN to_id ELSE from_id END AS other,
                   ROW_NUMBER() OVER (
                       PARTITION BY CASE WHEN from_id = ? THEN to_id ELSE from_id END
                       ORDER BY at DESC, message_id DESC
                   ) AS recency,
                   COUNT(*) OVER (
                       PARTITION BY CASE WHEN from_id = ? THEN to_id ELSE from_id END
                   ) AS n
            FROM messages WHERE from_id = ? OR to_id = ?
        )
        SELECT message_id, from_id, to_id, text, at, other, n FROM mine
        WHERE recency = 1 ORDER BY at DESC, message_id DESC
        """,
        (user_id, user_id, user_id, user_id, user_id),
    ).fetchall()
    return [Conversation(other_id=r[5], last=Message(*r[:5]), count=r[6]) for r in rows]
