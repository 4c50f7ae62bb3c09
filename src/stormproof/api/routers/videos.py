"""Upload, read, play, thumbnail and delete videos."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import IO, Annotated

from fastapi import File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse

from stormproof.actions import videos as actions
from stormproof.api.deps import Caller, Fresh, IdemKey, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import (
    Ack,
    RenditionOut,
    VideoDetailOut,
    VideoOut,
    Written,
    video_out,
)
from stormproof.errors import NotFound, PayloadTooLarge
from stormproof.region import Region
from stormproof.views import renditions, videos

router = api_router(prefix="/v1/videos", tags=["videos"])


class UploadOut(VideoOut, Written):
    """The new video, and the ``seq`` of its upload."""


_CHUNK = 1 << 20
#: multipart framing and the caption may add this much to the file's size
_ENVELOPE = 64 * 1024


def _spool(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy an upload to a file, refusing it as soon as it passes ``limit``."""
    size = 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"a video is at most {limit} bytes", code="file_too_large")
        target.write(chunk)
    return size


async def _live(region: Region, video_id: str) -> videos.Video:
    found = await region.store.query(lambda db: videos.video(db, video_id))
    if found is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    return found


@router.post("", status_code=201)
async def upload(
    request: Request,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    file: Annotated[UploadFile, File(description="the video: mp4, webm, mov, mkv…")],
    caption: Annotated[str, Form()] = "",
    key: IdemKey = None,
) -> UploadOut:
    limit = region.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _ENVELOPE:
        raise PayloadTooLarge(f"a video is at most {limit} bytes", code="file_too_large")
    spool_dir = region.settings.data_dir / "tmp"
    spool_dir.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=spool_dir, suffix=".upload") as tmp:
        size = await asyncio.to_thread(_spool, file.file, tmp, limit)
        tmp.flush()
        written = await actions.upload_video(
            region,
            caller.user_id,
            Path(tmp.name),
            size,
            caption,
            media=region.media,
            idempotency_key=key,
            when=when,
        )
    seq = acknowledge(response, region, written)
    uploaded = written.payload
    video = videos.Video(
        video_id=uploaded.video_id,
        owner_id=uploaded.owner_id,
        caption=uploaded.caption,
        blob=uploaded.blob,
        size=uploaded.size,
        content_type=uploaded.content_type,
        thumbnail_blob=uploaded.thumbnail_blob,
        duration_ms=uploaded.duration_ms,
        width=uploaded.width,
        height=uploaded.height,
        codec=uploaded.codec,
        created_at=written.event.at,
    )
    out = await region.store.query(lambda db: video_out(db, video))
    return UploadOut(**out.model_dump(), seq=seq)


def with_ladder(
    db: sqlite3.Connection, found: videos.Video
) -> tuple[VideoOut, list[renditions.RungState]]:
    """A video and its rungs, read in one transaction: read apart, a rung
    made ready in between showed "ready" beside a video with no ``hls_url``."""
    db.execute("BEGIN")
    try:
        return video_out(db, found), renditions.rungs_of(db, found.video_id)
    finally:
        db.execute("COMMIT")


@router.get("/{video_id}")
async def get_video(video_id: str, region: RegionDep, _: Fresh) -> VideoDetailOut:
    """The video, and how far its HLS ladder is, rung by rung."""
    found = await _live(region, video_id)
    out, rungs = await region.store.query(lambda db: with_ladder(db, found))
    return VideoDetailOut(
        **out.model_dump(),
        renditions=[
            RenditionOut(
                rung=r.rung, width=r.width, height=r.height, state=r.state, reason=r.reason
            )
            for r in rungs
        ],
    )


@router.get(
    "/{video_id}/file",
    response_class=FileResponse,
    responses={206: {"description": "the requested byte range"}},
)
async def play(video_id: str, region: RegionDep, _: Fresh) -> FileResponse:
    """The video's bytes; honours ``Range`` with 206 Partial Content."""
    found = await _live(region, video_id)
    path = await region.blobs.local_path(found.blob)
    return FileResponse(
        path,
        media_type=found.content_type,
        headers={"ETag": f'"{found.blob}"', "Cache-Control": "public, max-age=31536000"},
    )


@router.get("/{video_id}/thumbnail", response_class=Response)
async def thumbnail(video_id: str, region: RegionDep, _: Fresh) -> Response:
    found = await _live(region, video_id)
    data = await region.blobs.get(found.thumbnail_blob)
    return Response(
        data,
        media_type="image/jpeg",
        headers={"ETag": f'"{found.thumbnail_blob}"', "Cache-Control": "public, max-age=86400"},
    )


@router.delete("/{video_id}")
async def delete(
    video_id: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    written = await actions.delete_video(
        region, caller.user_id, video_id, idempotency_key=key, when=when
    )
    return Ack(seq=acknowledge(response, region, written))
