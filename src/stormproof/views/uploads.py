"""Resumable uploads: what was promised, which bytes are stored, how each ended.

An upload's offset is not a stored number but the end of the run of chunks
that starts at byte 0 (:func:`offset_of`). That keeps the view a function of
the *set* of events, whatever order the partitions interleave in here: a
region may apply a chunk written in another region before the upload's
creation, or two chunks in either order. Two different chunks claimed for
one offset (a client that sent other bytes for the same range to two
regions at once) keep the one with the smaller blob id, in every region.

A chunk or an end counts only when its actor is the upload's owner; the
actions never write anything else, and the view does not trust them to.
An upload is complete once its video exists (``VideoUploaded`` of the
upload's ``video_id``, written once whichever region finished it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from stormproof.events import UploadChunkStored, UploadCreated, UploadEnded
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "Chunk",
    "Upload",
    "UploadsView",
    "chunk_blobs",
    "chunks",
    "ended_uploads",
    "expired_uploads",
    "finished_uploads",
    "offset_of",
    "open_uploads_of",
    "upload",
]

_COLUMNS = "upload_id, owner_id, video_id, length, caption, filename, expires_at, created_at"


class UploadsView(View):
    name = "uploads"
    tables = ("uploads", "upload_chunks", "upload_ends")
    schema = """
    CREATE TABLE IF NOT EXISTS uploads (
        upload_id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        video_id TEXT NOT NULL,
        length INTEGER NOT NULL,
        caption TEXT NOT NULL,
        filename TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS uploads_by_owner ON uploads (owner_id, expires_at);
    CREATE INDEX IF NOT EXISTS uploads_by_expiry ON uploads (expires_at);
    CREATE TABLE IF NOT EXISTS upload_chunks (
        upload_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        blob TEXT NOT NULL,
        PRIMARY KEY (upload_id, actor, offset)
    );
    CREATE TABLE IF NOT EXISTS upload_ends (
        upload_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        code TEXT NOT NULL,
        PRIMARY KEY (upload_id, actor)
    );
    """

    def on_upload_created(self, db: sqlite3.Connection, entry: Entry, p: UploadCreated) -> None:
        if entry.event.actor != p.owner_id:
            return
        db.execute(
            f"INSERT INTO uploads ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                p.upload_id, p.owner_id, p.video_id, p.length, p.caption, p.filename,
                p.expires_at, entry.event.at,
            ),
        )  # fmt: skip

    def on_upload_chunk_stored(
        self, db: sqlite3.Connection, entry: Entry, p: UploadChunkStored
    ) -> None:
        # The smaller blob wins a contested offset, whichever arrives first.
        db.execute(
            "INSERT INTO upload_chunks VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET length = excluded.length, blob = excluded.blob "
            "WHERE excluded.blob < upload_chunks.blob",
            (p.upload_id, entry.event.actor, p.offset, p.length, p.blob),
        )

    def on_upload_ended(self, db: sqlite3.Connection, entry: Entry, p: UploadEnded) -> None:
        # Ended twice (terminated as it expired): the first reason by name, anywhere.
        db.execute(
            "INSERT INTO upload_ends VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET reason = excluded.reason, code = excluded.code "
            "WHERE excluded.reason < upload_ends.reason",
            (p.upload_id, entry.event.actor, p.reason, p.code),
        )


@dataclass(frozen=True)
class Upload:
    upload_id: str
    owner_id: str
    video_id: str
    length: int
    caption: str
    filename: str
    expires_at: int
    created_at: int
    #: "terminated", "expired" or "rejected" once it ended, else None
    ended: str | None
    #: why a rejected upload was refused (an error code), else ""
    end_code: str
    #: its video exists: every byte arrived and passed validation
    completed: bool


_SELECT = (
    "SELECT u.upload_id, u.owner_id, u.video_id, u.length, u.caption, u.filename, "
    "u.expires_at, u.created_at, e.reason, COALESCE(e.code, ''), "
    "EXISTS (SELECT 1 FROM videos v WHERE v.video_id = u.video_id) "
    "FROM uploads u LEFT JOIN upload_ends e "
    "ON e.upload_id = u.upload_id AND e.actor = u.owner_id "
)


def _upload(row: tuple[Any, ...]) -> Upload:
    *fields, completed = row
    return Upload(*fields[:10], completed=bool(completed))  # type: ignore[misc]


def upload(db: sqlite3.Connection, upload_id: str) -> Upload | None:
    row = db.execute(_SELECT + "WHERE u.upload_id = ?", (upload_id,)).fetchone()
    return None if row is None else _upload(row)


@dataclass(frozen=True)
class Chunk:
    offset: int
    length: int
    blob: str


def chunks(db: sqlite3.Connection, found: Upload) -> list[Chunk]:
    """The run of its owner's chunks from byte 0, in order: the bytes the
    upload holds (a chunk not joined to that run is ignored)."""
    rows = db.execute(
        "SELECT offset, length, blob FROM upload_chunks WHERE upload_id = ? AND actor = ? "
        "ORDER BY offset",
        (found.upload_id, found.owner_id),
    ).fetchall()
    run: list[Chunk] = []
    end = 0
    for offset, length, blob in rows:
        if offset == end and end + length <= found.length:
            run.append(Chunk(offset, length, blob))
            end += length
        elif offset > end:
            break
    return run


def offset_of(run: list[Chunk]) -> int:
    """The tus ``Upload-Offset``: bytes stored without a gap from the start."""
    return run[-1].offset + run[-1].length if run else 0


def open_uploads_of(db: sqlite3.Connection, owner_id: str, now: int) -> int:
    """How many of ``owner_id``'s uploads may still receive bytes at ``now``."""
    row = db.execute(
        "SELECT COUNT(*) FROM uploads u WHERE u.owner_id = ? AND u.expires_at > ? "
        "AND NOT EXISTS (SELECT 1 FROM upload_ends e "
        "WHERE e.upload_id = u.upload_id AND e.actor = u.owner_id) "
        "AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = u.video_id)",
        (owner_id, now),
    ).fetchone()
    return int(row[0])


def expired_uploads(db: sqlite3.Connection, now: int, limit: int = 100) -> list[Upload]:
    """Uploads past their expiry that neither ended nor became a video."""
    rows = db.execute(
        _SELECT + "WHERE u.expires_at <= ? AND e.reason IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = u.video_id) "
        "ORDER BY u.expires_at LIMIT ?",
        (now, limit),
    ).fetchall()
    return [_upload(row) for row in rows]


#: how long after its expiry an ended upload's chunks are still looked for
#: (a region restarted deletes what it missed meanwhile, then stops looking)
_ENDED_RECENTLY_MS = 7 * 24 * 3600 * 1000


def ended_uploads(db: sqlite3.Connection, now: int, limit: int = 1000) -> list[Upload]:
    """Uploads that ended (terminated, expired, rejected) and expire or
    expired within a week of ``now``: whose chunks may go."""
    rows = db.execute(
        _SELECT + "WHERE e.reason IS NOT NULL AND u.expires_at > ? "
        "ORDER BY u.expires_at, u.upload_id LIMIT ?",
        (now - _ENDED_RECENTLY_MS, limit),
    ).fetchall()
    return [_upload(row) for row in rows]


def finished_uploads(
    db: sqlite3.Connection, before: int, now: int, limit: int = 1000
) -> list[Upload]:
    """Uploads whose video was written before ``before`` (and within a week
    of ``now``): their chunks were joined into the video's own blob."""
    rows = db.execute(
        _SELECT + "JOIN videos v ON v.video_id = u.video_id "
        "WHERE v.created_at < ? AND v.created_at > ? ORDER BY v.created_at, u.upload_id LIMIT ?",
        (before, now - _ENDED_RECENTLY_MS, limit),
    ).fetchall()
    return [_upload(row) for row in rows]


def chunk_blobs(db: sqlite3.Connection, upload_id: str) -> list[str]:
    """Every chunk blob stored for an upload, by anyone, at any offset."""
    rows = db.execute(
        "SELECT DISTINCT blob FROM upload_chunks WHERE upload_id = ? ORDER BY blob", (upload_id,)
    ).fetchall()
    return [row[0] for row in rows]
