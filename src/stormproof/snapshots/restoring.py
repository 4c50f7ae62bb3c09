"""Restoring: a region whose views are gone takes a verified snapshot of a
peer's, then replays only the tail of the log.

:func:`restore_from_peers` runs first in a region's catch-up, and does
anything only when the views are absent or stand at position zero,
``peers`` are set and the log holds more than ``restore_min_entries``. It
asks each peer in turn for a snapshot (``POST /v1/snapshots``, as an
operator), downloads it into ``DATA/tmp/snapshot/`` and trusts it only once
every check below has passed:

- the manifest: our format, our views' schema shape, our engine checkpoint's
  format and configuration, our number of partitions; P at most the log's
  last sequences, read once the manifest arrived (a snapshot "from the
  future" of this log comes from another log, or this one lost entries) and
  not empty; Q at most P;
- each packed file's size and SHA-256 equal the manifest's (the bytes are
  what the peer made: no disk or network fault in between), and it expands,
  as it arrives, to exactly the size the manifest says, its checksum
  passing (:mod:`~stormproof.snapshots.packing`, ADR 035);
- the views file: SQLite's ``quick_check`` passes, it records our schema
  shape, its ``positions`` table is exactly P, its keys view holds the
  key of this log's entry at P in each partition (the peer follows this
  very log), and every view's digest, recomputed here, equals the
  manifest's (the content is what the peer digested at P); the
  checkpoint's header is the manifest's.

Then the files are moved into place — checkpoint first, views last, each
rename made durable — and the region starts as after any restart: the engine
replays Q → P, the projector P → the end of the log. Any failure is logged
with its reason and the download deleted; the next peer is asked; with none
left the region rebuilds from sequence 0 as before. What happened is
returned as a :class:`RestoreReport` (``/v1/health`` can show it).

None of this proves the peer itself right: that is what comparing digests
across regions afterwards is for (``stormproof cluster digest``; ADR 017).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from stormproof.durable import fsync_dir
from stormproof.errors import StormproofError
from stormproof.log import Log
from stormproof.operators import operator_headers
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import EngineConfig
from stormproof.settings import Settings
from stormproof.snapshots.digests import view_digests
from stormproof.snapshots.manifest import (
    CHECKPOINT,
    FORMAT,
    VIEWS,
    Manifest,
    SnapshotFile,
    open_read_only,
    positions_of,
    shape_of,
)
from stormproof.snapshots.packing import Unpacker, UnpackError, packed_name
from stormproof.views import all_views
from stormproof.views.keys import applied
from stormproof.views.store import schema_shape

__all__ = ["Rejected", "Rejection", "RestoreReport", "check_manifest", "restore_from_peers"]

logger = logging.getLogger(__name__)

#: a manifest is a few kilobytes: a longer answer is not one
_MAX_MANIFEST_BYTES = 1024 * 1024
#: how long the log's end may take to reach a snapshot's position
_LOG_END_PATIENCE_S = 2.0


class Rejected(StormproofError):
    """A snapshot that is not trusted, and why (never reaches a client)."""

    code = "snapshot_rejected"


class Rejection(BaseModel):
    peer: str
    reason: str


class RestoreReport(BaseModel):
    """What :func:`restore_from_peers` did."""

    #: why no peer was asked (the views are here, no peers, a short log…)
    skipped: str | None = None
    #: the peer whose snapshot is now this region's views, and which snapshot
    peer: str | None = None
    snapshot: str | None = None
    made_by: str | None = None
    #: P and Q: where the views and the engine stood in the snapshot
    position: list[int] | None = None
    engine_position: list[int] | None = None
    bytes: int = 0
    #: seconds the peer took to make (or reuse) it and this region to download it
    download_s: float = 0.0
    #: seconds the checks took after the last byte arrived, digests included
    #: (the views' checks begin as soon as the views arrived)
    verify_s: float = 0.0
    #: peers whose snapshot was not used, in the order asked
    rejected: list[Rejection] = []

    @property
    def restored(self) -> bool:
        return self.peer is not None


async def restore_from_peers(
    settings: Settings,
    log: Log,
    secret: bytes,
    *,
    before_install: Callable[[], None] = lambda: None,
) -> RestoreReport:
    """Put a verified snapshot of a peer in place of views that are gone (see
    the module's docstring); ``before_install`` runs (in a worker thread)
    once it is verified, just before its files replace the views — a region
    that has its empty views open closes them there. Never raises over a
    peer or a snapshot: the region then rebuilds from sequence 0.

    ``log`` is read only: its streams are the region's to set up, which it
    does in the background when they hold entries (a JetStream server
    copying the streams back answers their setting up slowly: 17.6 s
    measured at 1M entries, before any peer was asked)."""
    if not settings.peers:
        return RestoreReport(skipped="no peers are set")
    if not await asyncio.to_thread(_views_empty, settings.views_path):
        return RestoreReport(skipped="the views are here")
    try:
        last = await log.last_seqs()
    except StormproofError as exc:
        return RestoreReport(skipped=f"the log is unavailable: {exc.message}")
    if sum(last) <= settings.restore_min_entries:
        return RestoreReport(
            skipped=f"the log holds {sum(last)} entries, not more than restore_min_entries "
            f"({settings.restore_min_entries}): rebuilding is as fast"
        )
    folder = settings.data_dir / "tmp" / "snapshot"
    rejected: list[Rejection] = []
    for peer in settings.peers:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        try:
            report = await _restore_from(
                peer.rstrip("/"), settings, log, secret, folder, before_install
            )
            return report.model_copy(update={"rejected": rejected})
        except Rejected as exc:
            reason = exc.message
        except (httpx.HTTPError, httpx.InvalidURL, OSError, sqlite3.Error, StormproofError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        logger.warning("not restoring from %s's snapshot: %s", peer, reason)
        rejected.append(Rejection(peer=peer, reason=reason))
    logger.warning("no peer's snapshot could be used: rebuilding the views from sequence 0")
    return RestoreReport(rejected=rejected)


def _views_empty(path: Path) -> bool:
    """Whether the views file is absent or stands at position zero (then it
    holds nothing a snapshot would lose)."""
    if not path.exists():
        return True
    try:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA query_only=1")
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'positions'"
            ).fetchone()
            return found is None or not any(positions_of(db).values())
        finally:
            db.close()
    except sqlite3.Error:
        return False  # the view store will say what is wrong with it


async def _restore_from(
    peer: str,
    settings: Settings,
    log: Log,
    secret: bytes,
    folder: Path,
    before_install: Callable[[], None],
) -> RestoreReport:
    timeout = httpx.Timeout(settings.snapshot_timeout_s, connect=5.0)
    with httpx.Client(base_url=peer, timeout=timeout, headers=operator_headers(secret)) as client:
        started = time.monotonic()
        manifest = await asyncio.to_thread(_ask, client)
        check_manifest(manifest, await _end_of(log, manifest.position))
        await asyncio.to_thread(_make_room, manifest, folder)
        await asyncio.to_thread(_download_one, client, manifest, VIEWS, folder)
        keys = await _keys_at(log, manifest.position)
        # The views are checked while the checkpoint arrives: the two take
        # seconds each at a million entries, and need different things (the
        # checks a core or two, the download the network and the disk).
        checking = asyncio.create_task(_check_views(manifest, folder, keys))
        try:
            if manifest.file(packed_name(CHECKPOINT)) is not None:
                await asyncio.to_thread(_download_one, client, manifest, CHECKPOINT, folder)
        except BaseException:
            checking.cancel()
            await asyncio.gather(checking, return_exceptions=True)
            raise
    downloaded = time.monotonic()
    await checking
    await asyncio.to_thread(_check_checkpoint, manifest, folder)
    verified = time.monotonic()
    await asyncio.to_thread(before_install)
    await asyncio.to_thread(_install, manifest, folder, settings)
    logger.warning(
        "restored the views from %s's snapshot at %s (engine at %s): %.1f s to download, "
        "%.1f s to verify; replaying the tail",
        manifest.region,
        manifest.position,
        manifest.engine.position if manifest.engine else None,
        downloaded - started,
        verified - downloaded,
    )
    return RestoreReport(
        peer=peer,
        snapshot=manifest.id,
        made_by=manifest.region,
        position=manifest.position,
        engine_position=manifest.engine.position if manifest.engine else None,
        bytes=sum(f.size for f in manifest.files),
        download_s=round(downloaded - started, 3),
        verify_s=round(verified - downloaded, 3),
    )


async def _end_of(log: Log, position: list[int]) -> list[int]:
    """The log's last sequences now (it grew while the peer made the
    snapshot), asked again for a while if they stand below ``position``: the
    replica that answers first may lag (a wiped region's own server does)."""
    deadline = time.monotonic() + _LOG_END_PATIENCE_S
    while True:
        last = await log.last_seqs()
        behind = any(seq > top for seq, top in zip(position, last, strict=False))
        if not behind or time.monotonic() > deadline:
            return last
        await asyncio.sleep(0.1)


def _ask(client: httpx.Client) -> Manifest:
    """Ask the peer for a snapshot: its manifest."""
    with client.stream("POST", "/v1/snapshots") as answer:
        body = _read_bounded(answer, _MAX_MANIFEST_BYTES)
        if answer.status_code != 200:
            raise Rejected(f"the peer answered {answer.status_code}: {_code_of(body)}")
    try:
        return Manifest.model_validate_json(body)
    except ValidationError as exc:
        raise Rejected(f"the peer's manifest does not parse: {exc.errors()[:1]}") from exc


def _make_room(manifest: Manifest, folder: Path) -> None:
    """Make ``folder``, if the disk has room for every file of the snapshot
    (expanded: the packed bytes are expanded as they arrive)."""
    needed = sum(f.raw_size for f in manifest.files)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise Rejected(f"the snapshot takes {needed} bytes, the disk has {free} free")


def _download_one(client: httpx.Client, manifest: Manifest, name: str, folder: Path) -> None:
    """Download one file of the snapshot, packed, and expand it into
    ``folder`` as it arrives, checking its size and SHA-256."""
    expected = manifest.file(packed_name(name))
    if expected is None:
        raise Rejected(f"the snapshot lists no {packed_name(name)}")
    _download(client, f"/v1/snapshots/{manifest.id}/{expected.name}", expected, folder / name)


def _read_bounded(answer: httpx.Response, limit: int) -> bytes:
    body = b""
    for chunk in answer.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise Rejected(f"the peer's answer is longer than {limit} bytes")
    return body


def _code_of(body: bytes) -> str:
    """The error code and message of an error answer, or its start."""
    try:
        found: Any = json.loads(body)
        return f"{found['code']} ({found['message']})"
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


def check_manifest(manifest: Manifest, last: list[int]) -> None:
    """What the manifest says, against what this region is and its log holds."""
    if manifest.format != FORMAT:
        raise Rejected(f"snapshot format {manifest.format}; this region reads {FORMAT}")
    views = all_views()
    if manifest.views_schema != schema_shape(views):
        raise Rejected("the snapshot's views have another schema (another stormproof version)")
    if set(manifest.digests) != {view.name for view in views}:
        raise Rejected("the snapshot digests other views than this region has")
    if manifest.partitions != len(last) or len(manifest.position) != len(last):
        raise Rejected(
            f"the snapshot has {manifest.partitions} partitions; this log has {len(last)}"
        )
    if any(p > top for p, top in zip(manifest.position, last, strict=True)):
        raise Rejected(
            f"the snapshot stands at {manifest.position}, past this log's end {last}: "
            "the peer follows another log, or this one lost entries"
        )
    if not any(manifest.position):
        raise Rejected("the snapshot is empty")
    names = [f.name for f in manifest.files]
    wanted = [packed_name(VIEWS)] + ([packed_name(CHECKPOINT)] if manifest.engine else [])
    if sorted(names) != sorted(wanted):
        raise Rejected(f"the snapshot lists files {names}; expected {wanted}")
    if manifest.engine is not None:
        q = manifest.engine.position
        ours = checkpoint.header_for(EngineConfig(), tuple(q))
        if manifest.engine.model_dump() != ours:
            raise Rejected(
                "the engine checkpoint is of another format, another layout or another "
                "configuration"
            )
        if len(q) != len(last) or any(a > b for a, b in zip(q, manifest.position, strict=True)):
            raise Rejected(
                f"the engine checkpoint ({q}) stands past the views ({manifest.position})"
            )


def _download(client: httpx.Client, url: str, expected: SnapshotFile, path: Path) -> None:
    """The packed file at ``url``, expanded into ``path`` as it arrives."""
    digest = hashlib.sha256()
    size = 0
    with client.stream("GET", url) as answer, path.open("wb") as out:
        if answer.status_code != 200:
            raise Rejected(f"{expected.name}: the peer answered {answer.status_code}")
        unpacker = Unpacker(out, expected.raw_size)
        # A frame that does not expand is told once every byte arrived: if
        # its SHA-256 differs too, the bytes were damaged, which says more.
        broken: UnpackError | None = None
        for chunk in answer.iter_bytes(1024 * 1024):
            size += len(chunk)
            if size > expected.size:
                raise Rejected(
                    f"{expected.name} is longer than the manifest's {expected.size} bytes"
                )
            digest.update(chunk)
            if broken is None:
                try:
                    unpacker.feed(chunk)
                except UnpackError as exc:
                    broken = exc
        if broken is None:
            try:
                unpacker.finish()
            except UnpackError as exc:
                broken = exc
        out.flush()
        os.fsync(out.fileno())
    if size != expected.size:
        raise Rejected(f"{expected.name} has {size} bytes; the manifest says {expected.size}")
    if digest.hexdigest() != expected.sha256:
        raise Rejected(
            f"{expected.name}'s SHA-256 differs from the manifest's: damaged on the peer's disk "
            "or on the way"
        )
    if broken is not None:
        raise Rejected(f"{expected.name}: {broken.message}")
    if unpacker.written != expected.raw_size:
        raise Rejected(
            f"{expected.name} expands to {unpacker.written} bytes; the manifest says "
            f"{expected.raw_size}"
        )


async def _keys_at(log: Log, position: list[int]) -> dict[int, str]:
    """The key of this log's entry at ``position``, in each partition past 0."""
    keys: dict[int, str] = {}
    for partition, seq in enumerate(position):
        if seq:
            entries = await log.read(partition, seq - 1, 1)
            if not entries or entries[0].seq != seq:
                raise Rejected(f"this log holds no entry {seq} in partition {partition}")
            keys[partition] = entries[0].key
    return keys


async def _check_views(manifest: Manifest, folder: Path, keys: dict[int, str]) -> None:
    """The downloaded views file passes :func:`_check_views_file`, and every
    view's digest, recomputed here, is the manifest's."""
    await asyncio.to_thread(_check_views_file, manifest, folder, keys)
    digests = await view_digests(folder / VIEWS, workers=os.cpu_count() or 1)
    if digests != manifest.digests:
        differ = sorted(name for name in digests if digests[name] != manifest.digests.get(name))
        raise Rejected(f"the views' digests differ from the manifest's: {', '.join(differ)}")


def _check_views_file(manifest: Manifest, folder: Path, keys: dict[int, str]) -> None:
    """The downloaded views file is sound, of our shape, at P, and applied
    this log's entries at P (``keys``)."""
    db = open_read_only(folder / VIEWS)
    try:
        checked = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
        if checked != ["ok"]:
            raise Rejected(f"the views file is damaged: {'; '.join(checked[:3])}")
        if shape_of(db) != manifest.views_schema:
            raise Rejected("the views file records another schema than its manifest")
        if positions_of(db) != dict(enumerate(manifest.position)):
            raise Rejected("the views file stands at another position than its manifest")
        for partition, key in keys.items():
            if key not in applied(db, [key]):
                raise Rejected(
                    f"the snapshot's views never saw this log's entry at {manifest.position} "
                    f"(partition {partition}): the peer follows another log"
                )
    finally:
        db.close()


def _check_checkpoint(manifest: Manifest, folder: Path) -> None:
    """The downloaded checkpoint is the one the manifest describes."""
    if manifest.engine is not None:
        found = checkpoint.read_header(folder / CHECKPOINT)
        if found != manifest.engine.model_dump():
            raise Rejected("the engine checkpoint's header differs from the manifest's")


def _install(manifest: Manifest, folder: Path, settings: Settings) -> None:
    """Move the files into place. Checkpoint first, views last: a crash in
    between leaves no views (the next start restores again), never views
    with a checkpoint made against other views. The old views stood at zero
    and are dropped, side files too; an old checkpoint, made with views this
    region no longer has, goes as well."""
    data = settings.data_dir
    settings.checkpoint_path.unlink(missing_ok=True)
    for delta in checkpoint.delta_files(settings.checkpoint_path).values():
        delta.unlink()  # they extend the base just dropped (and would be ignored)
    if manifest.engine is not None:
        (folder / CHECKPOINT).replace(settings.checkpoint_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.views_path}{suffix}").unlink(missing_ok=True)
    fsync_dir(data)
    (folder / VIEWS).replace(settings.views_path)
    fsync_dir(data)
