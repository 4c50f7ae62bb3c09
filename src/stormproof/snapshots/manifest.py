"""What a snapshot is: its files and the manifest that vouches for them.

A snapshot is a folder of at most two files — ``views.sqlite``, a
consistent copy of the view store at log position P, and
``foryou.checkpoint``, the For You engine's last checkpoint, at Q ≤ P, each
packed (:mod:`~stormproof.snapshots.packing`: ``views.sqlite.zst``,
``foryou.checkpoint.zst``) — and a :class:`Manifest`: who made it, the
views' schema shape, P, the engine checkpoint's header (format,
configuration, Q), each view's digest at P, and each packed file's size and
SHA-256 and the size it expands to. The same model is the API's answer and
what a recipient parses, so its fields are bounded.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from stormproof.errors import Unavailable

__all__ = [
    "CHECKPOINT",
    "FORMAT",
    "ID_PATTERN",
    "VIEWS",
    "EngineHeader",
    "Manifest",
    "SnapshotError",
    "SnapshotFile",
    "open_read_only",
    "positions_of",
    "sha256_of",
    "shape_of",
]

#: the manifest's format: changes whenever what a snapshot holds does
FORMAT = 3
VIEWS = "views.sqlite"
CHECKPOINT = "foryou.checkpoint"
#: a snapshot's id: 16 hex digits (it names a folder: nothing else gets in)
ID_PATTERN = r"^[0-9a-f]{16}$"
#: partitions a log may have (one per region; five at most today)
MAX_PARTITIONS = 64

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Seqs = Annotated[list[NonNegativeInt], Field(min_length=1, max_length=MAX_PARTITIONS)]


class SnapshotError(Unavailable):
    """A snapshot could not be made or read (a disk, SQLite or a digest
    process failed): 503, so a recipient asks another peer."""

    code = "snapshot_failed"


class SnapshotFile(BaseModel):
    """One packed file: what travels (its size and SHA-256), and the size
    of the file it expands to."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["views.sqlite.zst", "foryou.checkpoint.zst"]
    size: NonNegativeInt
    sha256: Sha256
    raw_size: NonNegativeInt


class EngineHeader(BaseModel):
    """The engine checkpoint's header, as the file holds it
    (:func:`stormproof.recommend.checkpoint.read_header`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format: int
    #: how the file is laid out (:data:`stormproof.recommend.checkpoint.LAYOUT`)
    layout: int
    config: dict[str, Any]
    #: Q: the position the checkpoint stands at, never past P
    position: Seqs


class Manifest(BaseModel):
    """A snapshot of one region's views and engine at a known log position."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format: int
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    #: the region that made it
    region: Annotated[str, Field(max_length=64)]
    #: when, unix ms
    made_at: NonNegativeInt
    #: the views' schema shape (``meta.schema``, :func:`~stormproof.views.store.schema_shape`)
    views_schema: Sha256
    partitions: Annotated[int, Field(ge=1, le=MAX_PARTITIONS)]
    #: P: the position the views stand at
    position: Seqs
    #: the engine checkpoint's header; null when the region had none to ship
    engine: EngineHeader | None
    #: each view's digest at P (``View.digest``); not the engine's, which stands at Q
    digests: Annotated[dict[str, Sha256], Field(max_length=100)]
    files: Annotated[list[SnapshotFile], Field(min_length=1, max_length=2)]

    def file(self, name: str) -> SnapshotFile | None:
        return next((f for f in self.files if f.name == name), None)


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file (a snapshot's views are in
    rollback-journal mode: reading them creates no side files)."""
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)


def positions_of(db: sqlite3.Connection) -> dict[int, int]:
    """The ``positions`` table: partition -> sequence applied."""
    return dict(db.execute("SELECT partition, seq FROM positions").fetchall())


def shape_of(db: sqlite3.Connection) -> str | None:
    """The schema shape a views file records, if any."""
    row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    return None if row is None else str(row[0])


def sha256_of(path: Path, raw_size: int) -> SnapshotFile:
    """A packed file's size and SHA-256, as a manifest lists it with the
    ``raw_size`` it expands to."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return SnapshotFile.model_validate(
        {"name": path.name, "size": size, "sha256": digest.hexdigest(), "raw_size": raw_size}
    )
