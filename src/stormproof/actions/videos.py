"""Videos: upload (validated for real with PyAV, in the media workers) and delete."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from stormproof.actions import (
    NOW,
    WriteTime,
    Written,
    derived_id,
    key_reused,
    log_key,
    prior,
    write,
)
from stormproof.actions.renditions import plan_renditions
from stormproof.blobs import blob_id_of
from stormproof.errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    StormproofError,
    Unprocessable,
)
from stormproof.events import VideoDeleted, VideoUploaded
from stormproof.media import MediaPool
from stormproof.region import Region
from stormproof.views import videos

__all__ = ["delete_video", "publish_video", "upload_video"]


async def upload_video(
    region: Region,
    owner_id: str,
    path: Path,
    size: int,
    caption: str,
    *,
    media: MediaPool,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[VideoUploaded]:
    """Store a video whose bytes are at ``path``; the upload is acknowledged
    only once its bytes and its event are both durable. ``size`` is the
    byte count the caller received (the API stops reading past the limit).
    ``media`` probes and thumbnails the file (the region's own pool), within
    the limits of ``Settings.media_*``."""
    key = log_key(owner_id, "upload", idempotency_key)
    if done := await prior(region, key, VideoUploaded):
        # The same key with another file or caption is another request.
        sent = await asyncio.to_thread(blob_id_of, path)
        if (done.payload.blob, done.payload.caption) != (sent, caption):
            raise key_reused()
        return done
    return await publish_video(
        region, owner_id, path, size, caption, media=media, key=key, when=when
    )


async def publish_video(
    region: Region,
    owner_id: str,
    path: Path,
    size: int,
    caption: str,
    *,
    media: MediaPool,
    key: str,
    when: WriteTime = NOW,
) -> Written[VideoUploaded]:
    """Validate the video at ``path`` and write it as ``VideoUploaded`` under
    ``key``: the path every upload ends in, the single request's and the
    resumable one's alike, so both refuse the same files with the same codes."""
    settings = region.settings
    if len(caption) > settings.caption_max_chars:
        raise Unprocessable(
            f"a caption has at most {settings.caption_max_chars} characters",
            code="caption_too_long",
        )
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"a video is at most {settings.max_upload_bytes} bytes", code="file_too_large"
        )
    examined = await media.examine(path)
    info = examined.info
    blob = await region.blobs.put_file(path)
    thumb_blob = await region.blobs.put_bytes(examined.thumbnail)
    payload = VideoUploaded(
        video_id=derived_id("v_", key),
        owner_id=owner_id,
        caption=caption,
        blob=blob,
        size=size,
        content_type=info.content_type,
        thumbnail_blob=thumb_blob,
        duration_ms=info.duration_ms,
        width=info.width,
        height=info.height,
        codec=info.codec,
    )
    written = await write(region, key, payload, actor=owner_id, when=when)
    if settings.transcode:  # the HLS ladder (ADR 028); should this fail, any region plans it later
        with contextlib.suppress(StormproofError):
            await plan_renditions(
                region,
                video_id=payload.video_id,
                owner_id=owner_id,
                width=info.width,
                height=info.height,
                at=written.event.at,
            )
    return written


async def delete_video(
    region: Region,
    user_id: str,
    video_id: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[VideoDeleted]:
    key = log_key(user_id, f"delete:{video_id}", idempotency_key)
    if done := await prior(region, key, VideoDeleted):
        return done
    found = await region.store.query(lambda db: videos.video(db, video_id))
    if found is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    if found.owner_id != user_id:
        raise Forbidden("only its owner can delete a video", code="not_owner")
    return await write(region, key, VideoDeleted(video_id=video_id), actor=user_id, when=when)
