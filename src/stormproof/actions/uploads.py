"""Resumable uploads (tus, ADR 027): create, store a chunk, finish, end.

An upload's state is in the log, not in the region that took it: each
acknowledged chunk is a blob stored in a quorum *before* its
``UploadChunkStored`` event is appended, and the offset a client is told is
computed from those events. So when a region loses power mid-upload,
every other region knows the acknowledged offset, and the client resumes
there.

Events that two regions may write for the same thing — a chunk re-sent to
another region after its answer was lost, an expiry that every region's
sweeper sees — are pure functions of their key: the key names the content
(offset, length, blob), and their time is the upload's own (its creation,
its expiry), so both copies are the identical event and apply once.

When the last byte arrives, the bytes are assembled into one file (chunk by
chunk, never in memory) and go through :func:`~stormproof.actions.videos.publish_video`,
the single-request upload's own validation, under a key derived from the
upload id: whichever region finishes it, the video is written once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from stormproof.actions import (
    NOW,
    WriteTime,
    Written,
    derived_id,
    event_time,
    log_key,
    prior,
    write,
)
from stormproof.actions.videos import publish_video
from stormproof.clock import now_ms
from stormproof.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    StormproofError,
    TooManyRequests,
    Unavailable,
    Unprocessable,
)
from stormproof.events import UploadChunkStored, UploadCreated, UploadEnded, VideoUploaded
from stormproof.media import MediaPool
from stormproof.media.tus import Checksum
from stormproof.region import Region
from stormproof.views import uploads
from stormproof.views.uploads import Chunk, Upload

__all__ = [
    "Progress",
    "caught_up",
    "chunk_salt",
    "create_upload",
    "expire_uploads",
    "progress",
    "remove_chunks",
    "store_chunk",
    "sweep_uploads",
    "terminate_upload",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """An upload as a client sees it: how far it got, and its video once done."""

    upload: Upload
    offset: int
    video: Written[VideoUploaded] | None = None


def _video_key(owner_id: str, upload_id: str) -> str:
    """The key of the video an upload becomes: the same in every region."""
    return f"{owner_id}:tus-video:{upload_id}"


async def caught_up(region: Region) -> None:
    """Wait until this region's views applied every entry the log holds now:
    a chunk acknowledged by a region that died an instant later is in the
    log, and the offset answered here must include it. 503 ``stale_view``
    (try another region) if they do not within ``min_seq_wait_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + region.settings.min_seq_wait_s
    for partition, seq in enumerate(await region.log.last_seqs()):
        if not await region.projector.wait_for(partition, seq, max(0.0, deadline - loop.time())):
            raise Unavailable(
                "this region has not caught up with the log yet; retry or try another region",
                code="stale_view",
            )


async def create_upload(
    region: Region,
    owner_id: str,
    length: int,
    metadata: dict[str, str],
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[UploadCreated]:
    """Begin an upload of ``length`` bytes; ``metadata`` is tus's
    ``Upload-Metadata`` (``caption`` and ``filename`` are kept)."""
    settings = region.settings
    caption, filename = metadata.get("caption", ""), metadata.get("filename", "")
    key = log_key(owner_id, "tus", idempotency_key)
    if done := await prior(
        region,
        key,
        UploadCreated,
        lambda p: (p.length, p.caption, p.filename) == (length, caption, filename),
    ):
        return done
    if length > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"a video is at most {settings.max_upload_bytes} bytes", code="file_too_large"
        )
    if length == 0:
        raise BadRequest("an upload has at least one byte", code="invalid_upload_length")
    if len(caption) > settings.caption_max_chars:
        raise Unprocessable(
            f"a caption has at most {settings.caption_max_chars} characters",
            code="caption_too_long",
        )
    if len(filename) > 100:
        raise Unprocessable("a file name has at most 100 characters", code="filename_too_long")
    at = event_time(region, when)
    under_way = await region.store.query(lambda db: uploads.open_uploads_of(db, owner_id, at))
    if under_way >= settings.uploads_open_per_user:
        raise TooManyRequests(
            f"at most {settings.uploads_open_per_user} uploads under way at once",
            code="too_many_uploads",
            retry_after=60,
        )
    upload_id = derived_id("up_", key)
    payload = UploadCreated(
        upload_id=upload_id,
        owner_id=owner_id,
        video_id=derived_id("v_", _video_key(owner_id, upload_id)),
        length=length,
        caption=caption,
        filename=filename,
        expires_at=at + int(settings.upload_expiry_s * 1000),
    )
    return await write(region, key, payload, actor=owner_id, at=at)


async def _open(region: Region, owner_id: str, upload_id: str) -> tuple[Upload, list[Chunk]]:
    """The caller's upload and its stored run of chunks, as the whole log
    knows them. Another person's upload is 404 like one that does not exist:
    its id tells them nothing."""
    await caught_up(region)

    def read(db: sqlite3.Connection) -> tuple[Upload | None, list[Chunk]]:
        found = uploads.upload(db, upload_id)
        return found, ([] if found is None else uploads.chunks(db, found))

    found, run = await region.store.query(read)
    if found is None or found.owner_id != owner_id:
        raise NotFound(f"no upload {upload_id}", code="upload_not_found")
    if found.ended == "rejected":
        raise Unprocessable("this upload's file is not a video we take", code=found.end_code)
    if found.ended is not None:
        raise _Gone(f"this upload was {found.ended}", code=f"upload_{found.ended}")
    if not found.completed and found.expires_at <= now_ms():
        raise _Gone("this upload expired", code="upload_expired")
    return found, run


class _Gone(StormproofError):
    """404's sibling the tus expiration extension asks for: it existed, no more."""

    status = 410


async def progress(
    region: Region, owner_id: str, upload_id: str, *, media: MediaPool, when: WriteTime = NOW
) -> Progress:
    """Where an upload stands (tus HEAD). One whose every byte is stored but
    which is not a video yet — its region died between the last chunk and
    the video — is finished here and now."""
    found, run = await _open(region, owner_id, upload_id)
    offset = uploads.offset_of(run)
    if offset == found.length:
        return Progress(found, offset, await _finish(region, found, run, media=media, when=when))
    return Progress(found, offset)


async def store_chunk(
    region: Region,
    owner_id: str,
    upload_id: str,
    offset: int,
    body: AsyncIterator[bytes],
    *,
    declared: int | None,
    checksum: Checksum | None,
    media: MediaPool,
    when: WriteTime = NOW,
) -> Progress:
    """Store the bytes of ``body`` at ``offset`` (tus PATCH), acknowledged
    once the blob is durable and its event appended; finish the upload if
    they were its last. ``declared`` is the body's Content-Length, if sent."""
    found, run = await _open(region, owner_id, upload_id)
    current = uploads.offset_of(run)
    if offset != current:
        raise Conflict(
            f"this upload is at offset {current}, not {offset}",
            code="offset_mismatch",
            offset=current,
        )
    room = found.length - offset
    limit = region.settings.upload_chunk_max_bytes
    if declared is not None:
        _check_size(declared, room, limit)
    if room and len(run) >= region.settings.upload_max_chunks:
        raise Unprocessable(
            f"an upload has at most {region.settings.upload_max_chunks} chunks: send larger ones",
            code="too_many_chunks",
        )
    spool_dir = region.settings.data_dir / "tmp"
    spool_dir.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool_dir, suffix=".chunk") as tmp:
        tmp.write(chunk_salt(upload_id))
        size = await _spool(body, tmp, room, limit, checksum)
        if size:
            blob = await region.blobs.put_file(Path(tmp.name))
            chunk = UploadChunkStored(upload_id=upload_id, offset=offset, length=size, blob=blob)
            key = f"{owner_id}:tus-chunk:{upload_id}:{offset}:{size}:{blob}"
            await write(region, key, chunk, actor=owner_id, at=found.created_at)
            run = [*run, Chunk(offset, size, blob)]
    if offset + size == found.length:
        video = await _finish(region, found, run, media=media, when=when)
        return Progress(found, found.length, video)
    return Progress(found, offset + size)


def _check_size(size: int, room: int, limit: int) -> None:
    if size > room:
        raise BadRequest(f"this upload has {room} bytes left to receive", code="past_upload_length")
    if size > limit:
        raise PayloadTooLarge(f"a chunk is at most {limit} bytes", code="chunk_too_large")


async def _spool(
    body: AsyncIterator[bytes], target: IO[bytes], room: int, limit: int, checksum: Checksum | None
) -> int:
    """Copy a chunk's body to ``target``, refusing it as soon as it passes
    what the upload has room for or a chunk's limit (nothing is kept: the
    caller's temporary file goes)."""
    size = 0
    async for piece in body:
        size += len(piece)
        _check_size(size, room, limit)
        target.write(piece)
        if checksum is not None:
            checksum.update(piece)
    target.flush()
    if checksum is not None:
        checksum.verify()
    return size


async def _finish(
    region: Region, found: Upload, run: list[Chunk], *, media: MediaPool, when: WriteTime
) -> Written[VideoUploaded]:
    """Assemble the stored chunks and publish them as the upload's video,
    once; a file refused as a video ends the upload as ``rejected``."""
    key = _video_key(found.owner_id, found.upload_id)
    if done := await prior(region, key, VideoUploaded):
        return done
    spool_dir = region.settings.data_dir / "tmp"
    spool_dir.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool_dir, suffix=".upload") as tmp:
        salt = chunk_salt(found.upload_id)
        for chunk in run:
            path = await region.blobs.local_path(chunk.blob)
            await asyncio.to_thread(_append_file, path, tmp, salt)
        tmp.flush()
        try:
            return await publish_video(
                region,
                found.owner_id,
                Path(tmp.name),
                found.length,
                found.caption,
                media=media,
                key=key,
                when=when,
            )
        except (Unprocessable, PayloadTooLarge) as refused:
            await _end(region, found, "rejected", code=refused.code, at=found.created_at)
            raise


def chunk_salt(upload_id: str) -> bytes:
    """What every chunk blob of an upload begins with, before the chunk's
    bytes: the same bytes sent in two uploads are two blobs, so the chunks
    of an upload that ended can be deleted without touching another's
    (content-addressed blobs are otherwise shared). Chunks stored before
    salting (none begin with it) are read whole."""
    return hashlib.sha256(f"stormproof tus chunk {upload_id}".encode()).digest()


def _append_file(source: Path, target: IO[bytes], salt: bytes) -> None:
    with source.open("rb") as f:
        if f.read(len(salt)) != salt:
            f.seek(0)
        shutil.copyfileobj(f, target, 1 << 20)


def _salted(path: Path, salt: bytes) -> bool:
    with path.open("rb") as f:
        return f.read(len(salt)) == salt


async def _end(
    region: Region, found: Upload, reason: str, *, code: str = "", at: int
) -> Written[UploadEnded]:
    key = f"{found.owner_id}:tus-end:{found.upload_id}:{reason}"
    ended = UploadEnded(upload_id=found.upload_id, reason=reason, code=code)  # type: ignore[arg-type]
    return await write(region, key, ended, actor=found.owner_id, at=at)


async def terminate_upload(
    region: Region, owner_id: str, upload_id: str, *, when: WriteTime = NOW
) -> Written[UploadEnded]:
    """End an upload at its owner's request (tus DELETE); its chunks go."""
    key = f"{owner_id}:tus-end:{upload_id}:terminated"
    if done := await prior(region, key, UploadEnded):
        return done
    found, _ = await _open(region, owner_id, upload_id)
    if found.completed:
        raise Conflict("this upload is a video now: delete the video", code="upload_completed")
    return await _end(region, found, "terminated", at=event_time(region, when))


async def expire_uploads(region: Region, limit: int = 100) -> int:
    """End up to ``limit`` uploads past their expiry; how many. Every region
    may run this for the same upload: the event is the same (its time is the
    expiry), so it applies once."""
    due = await region.store.query(lambda db: uploads.expired_uploads(db, now_ms(), limit))
    for found in due:
        await _end(region, found, "expired", at=found.expires_at)
    return len(due)


async def remove_chunks(region: Region, upload: Upload) -> int:
    """Delete the chunk blobs of an upload that ended (terminated, expired,
    rejected) or became a video: those salted with its id, which no other
    upload or video holds. Every region may do it, any number of times; how many it deleted."""
    salt = chunk_salt(upload.upload_id)
    blobs = await region.store.query(lambda db: uploads.chunk_blobs(db, upload.upload_id))
    removed = 0
    for blob in blobs:
        try:
            path = await region.blobs.local_path(blob)
        except NotFound:
            continue  # deleted already
        if await asyncio.to_thread(_salted, path, salt):
            await region.blobs.delete(blob)
            removed += 1
    return removed


async def sweep_uploads(region: Region, caught_up: Callable[[], Awaitable[None]]) -> None:
    """Once the region caught up, end expired uploads every
    ``upload_sweep_every_s`` and delete the chunks of uploads that ended,
    or became a video ``upload_chunks_kept_s`` ago, for as long as the
    region runs (each once per process)."""
    await caught_up()
    swept: set[str] = set()
    while True:
        try:
            while await expire_uploads(region):
                pass
            now = now_ms()
            ended = await region.store.query(partial(uploads.ended_uploads, now=now))
            kept = int(region.settings.upload_chunks_kept_s * 1000)
            finished = await region.store.query(
                partial(uploads.finished_uploads, before=now - kept, now=now)
            )
            for found in [*ended, *finished]:
                if found.upload_id not in swept:
                    await remove_chunks(region, found)
                    swept.add(found.upload_id)
        except StormproofError as exc:  # the log or the blob store is unreachable: next round
            log.warning("cannot sweep uploads: %s", exc.message)
        await asyncio.sleep(region.settings.upload_sweep_every_s)
