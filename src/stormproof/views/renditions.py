"""Renditions: each video's HLS ladder, rung by rung — planned, ready or failed.

A rung's state is a function of the *set* of its events, whatever order the
partitions interleave in: a rung made ready in one region may arrive before
its plan from another. Ready beats failed (a rung someone could play stays
playable); of two ready copies (a job done twice, in two regions) the one
with the smaller playlist blob is kept, of two failures the smaller reason,
in every region. Every blob a ready rung names is recorded with its video,
so the API serves HLS files of live videos only (ADR 028).

Uploads that have no plan yet are kept in ``unplanned``, oldest first, so a
region looking for videos its uploader's region did not plan reads those few
rows instead of scanning every video. An upload is left out of it if its plan
arrived first, and a plan takes its video out, so it too is a function of the
set of events. A deleted video's row stays (its deletion may arrive before or
after it); the look skips it by its state in ``videos``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import RenditionFailed, RenditionReady, RenditionsPlanned, VideoUploaded
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "Pending",
    "RenditionsView",
    "RungState",
    "hls_blob_of_live_video",
    "pending_rung",
    "pending_rungs",
    "planned",
    "posters_of",
    "rungs_of",
    "unplanned_videos",
]

#: a state's rank: the higher wins, whichever arrives first
_RANK = {"pending": 0, "failed": 1, "ready": 2}


class RenditionsView(View):
    name = "renditions"
    tables = ("rendition_plans", "renditions", "hls_blobs", "unplanned")
    schema = """
    CREATE TABLE IF NOT EXISTS rendition_plans (
        video_id TEXT PRIMARY KEY,
        segment_ms INTEGER NOT NULL,
        planned_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS renditions (
        video_id TEXT NOT NULL,
        rung INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bitrate INTEGER NOT NULL,
        state TEXT NOT NULL,
        rank INTEGER NOT NULL,
        playlist TEXT NOT NULL DEFAULT '',
        init TEXT NOT NULL DEFAULT '',
        poster TEXT NOT NULL DEFAULT '',
        bandwidth INTEGER NOT NULL DEFAULT 0,
        average_bandwidth INTEGER NOT NULL DEFAULT 0,
        codecs TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        message TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (video_id, rung)
    );
    CREATE INDEX IF NOT EXISTS renditions_by_rank ON renditions (rank, video_id);
    CREATE TABLE IF NOT EXISTS hls_blobs (
        blob_id TEXT NOT NULL,
        video_id TEXT NOT NULL,
        PRIMARY KEY (blob_id, video_id)
    );
    CREATE TABLE IF NOT EXISTS unplanned (
        video_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS unplanned_by_age ON unplanned (created_at, video_id);
    """

    def on_video_uploaded(self, db: sqlite3.Connection, entry: Entry, p: VideoUploaded) -> None:
        db.execute(
            "INSERT INTO unplanned SELECT ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM rendition_plans WHERE video_id = ?) "
            "ON CONFLICT DO NOTHING",
            (p.video_id, entry.event.at, p.video_id),
        )

    def on_video_renditions_planned(
        self, db: sqlite3.Connection, entry: Entry, p: RenditionsPlanned
    ) -> None:
        db.execute(
            "INSERT INTO rendition_plans VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (p.video_id, p.segment_ms, entry.event.at),
        )
        db.execute("DELETE FROM unplanned WHERE video_id = ?", (p.video_id,))
        for r in p.rungs:
            # A rung already made or failed keeps its state (a made one its size).
            db.execute(
                "INSERT INTO renditions (video_id, rung, width, height, bitrate, state, rank) "
                "VALUES (?, ?, ?, ?, ?, 'pending', 0) "
                "ON CONFLICT DO UPDATE SET bitrate = MAX(bitrate, excluded.bitrate), "
                "width = CASE WHEN rank = 2 THEN width ELSE excluded.width END, "
                "height = CASE WHEN rank = 2 THEN height ELSE excluded.height END",
                (p.video_id, r.rung, r.width, r.height, r.bitrate),
            )

    def on_video_rendition_ready(
        self, db: sqlite3.Connection, entry: Entry, p: RenditionReady
    ) -> None:
        db.execute(
            "INSERT INTO renditions (video_id, rung, width, height, bitrate, state, rank, "
            "playlist, init, poster, bandwidth, average_bandwidth, codecs) "
            "VALUES (?, ?, ?, ?, 0, 'ready', 2, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET width = excluded.width, height = excluded.height, "
            "state = excluded.state, rank = excluded.rank, playlist = excluded.playlist, "
            "init = excluded.init, poster = excluded.poster, bandwidth = excluded.bandwidth, "
            "average_bandwidth = excluded.average_bandwidth, codecs = excluded.codecs, "
            "reason = '', message = '' "
            "WHERE renditions.rank < 2 OR excluded.playlist < renditions.playlist",
            (
                p.video_id, p.rung, p.width, p.height, p.playlist, p.init, p.poster,
                p.bandwidth, p.average_bandwidth, p.codecs,
            ),
        )  # fmt: skip
        for blob in (p.playlist, p.init, p.poster, *p.segments):
            db.execute(
                "INSERT INTO hls_blobs VALUES (?, ?) ON CONFLICT DO NOTHING", (blob, p.video_id)
            )

    def on_video_rendition_failed(
        self, db: sqlite3.Connection, entry: Entry, p: RenditionFailed
    ) -> None:
        db.execute(
            "INSERT INTO renditions (video_id, rung, width, height, bitrate, state, rank, "
            "reason, message) VALUES (?, ?, 0, 0, 0, 'failed', 1, ?, ?) "
            "ON CONFLICT DO UPDATE SET state = excluded.state, rank = excluded.rank, "
            "reason = excluded.reason, message = excluded.message "
            "WHERE renditions.rank < 1 OR (renditions.rank = 1 AND "
            "(excluded.reason, excluded.message) < (renditions.reason, renditions.message))",
            (p.video_id, p.rung, p.reason, p.message),
        )


@dataclass(frozen=True)
class RungState:
    rung: int
    width: int
    height: int
    bitrate: int
    #: "pending", "ready" or "failed"
    state: str
    playlist: str
    poster: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    #: why a failed rung failed (an error code), else ""
    reason: str
    message: str


def rungs_of(db: sqlite3.Connection, video_id: str) -> list[RungState]:
    """The rungs of a video's ladder, smallest first (none before it is planned)."""
    rows = db.execute(
        "SELECT rung, width, height, bitrate, state, playlist, poster, bandwidth, "
        "average_bandwidth, codecs, reason, message FROM renditions WHERE video_id = ? "
        "ORDER BY rung",
        (video_id,),
    ).fetchall()
    return [RungState(*row) for row in rows]


def posters_of(db: sqlite3.Connection, video_ids: list[str]) -> dict[str, str]:
    """The poster blob of each of these videos with a ready rung (its
    largest ready rung's): the videos that play over HLS, in one query."""
    if not video_ids:
        return {}
    marks = ",".join("?" * len(video_ids))
    rows = db.execute(
        f"SELECT video_id, poster FROM renditions WHERE state = 'ready' "
        f"AND video_id IN ({marks}) ORDER BY video_id, rung",
        video_ids,
    ).fetchall()
    return {video_id: poster for video_id, poster in rows}  # the last (largest) rung wins


def planned(db: sqlite3.Connection, video_id: str) -> bool:
    return (
        db.execute("SELECT 1 FROM rendition_plans WHERE video_id = ?", (video_id,)).fetchone()
        is not None
    )


@dataclass(frozen=True)
class Pending:
    """A rung to make: one transcoding job."""

    video_id: str
    rung: int
    width: int
    height: int
    bitrate: int
    segment_ms: int
    planned_at: int


def pending_rungs(db: sqlite3.Connection, limit: int = 100) -> list[Pending]:
    """Planned rungs of live videos neither ready nor failed, oldest plan first."""
    rows = db.execute(
        "SELECT r.video_id, r.rung, r.width, r.height, r.bitrate, p.segment_ms, p.planned_at "
        "FROM renditions r JOIN rendition_plans p ON p.video_id = r.video_id "
        "JOIN videos v ON v.video_id = r.video_id AND v.deleted = 0 "
        "WHERE r.rank = 0 ORDER BY p.planned_at, r.video_id, r.rung LIMIT ?",
        (limit,),
    ).fetchall()
    return [Pending(*row) for row in rows]


def pending_rung(db: sqlite3.Connection, video_id: str, rung: int) -> Pending | None:
    """That rung, if it is planned, of a live video, and neither made nor failed."""
    row = db.execute(
        "SELECT r.video_id, r.rung, r.width, r.height, r.bitrate, p.segment_ms, p.planned_at "
        "FROM renditions r JOIN rendition_plans p ON p.video_id = r.video_id "
        "JOIN videos v ON v.video_id = r.video_id AND v.deleted = 0 "
        "WHERE r.video_id = ? AND r.rung = ? AND r.rank = 0",
        (video_id, rung),
    ).fetchone()
    return None if row is None else Pending(*row)


def unplanned_videos(db: sqlite3.Connection, before: int, limit: int = 100) -> list[str]:
    """Live videos uploaded before ``before`` (unix ms) that have no plan yet,
    oldest first: an index range of ``unplanned``, not a scan of the catalog."""
    rows = db.execute(
        "SELECT u.video_id FROM unplanned u "
        "JOIN videos v ON v.video_id = u.video_id AND v.deleted = 0 "
        "WHERE u.created_at < ? ORDER BY u.created_at, u.video_id LIMIT ?",
        (before, limit),
    ).fetchall()
    return [row[0] for row in rows]


def hls_blob_of_live_video(db: sqlite3.Connection, blob_id: str) -> bool:
    """Whether ``blob_id`` is a file of a ready rung of a video not deleted."""
    row = db.execute(
        "SELECT 1 FROM hls_blobs h JOIN videos v ON v.video_id = h.video_id AND v.deleted = 0 "
        "WHERE h.blob_id = ? LIMIT 1",
        (blob_id,),
    ).fetchone()
    return row is not None
