"""HLS playback: a video's master playlist, and the immutable files it leads to (ADR 028).

The master playlist lists the rungs ready now, so it changes while the
ladder is made and is revalidated on every use (``no-cache`` with an ETag).
Media playlists, init segments, media segments and posters are blobs named
by their SHA-256: served by every region from the replicated blob store,
cached for a year as immutable, with ``Range`` requests answered 206. A
blob is served here only as a file of a ready rung of a live video.
"""

from __future__ import annotations

import hashlib
import re

from fastapi import Request, Response
from fastapi.responses import FileResponse

from stormproof.api.deps import Fresh, RegionDep
from stormproof.api.routers import api_router
from stormproof.errors import NotFound
from stormproof.media.ladder import Rendition, master_playlist
from stormproof.views import renditions, videos

router = api_router(tags=["videos"])

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_TYPES = {
    "m3u8": PLAYLIST_TYPE,
    "mp4": "video/mp4",
    "m4s": "video/iso.segment",
    "jpg": "image/jpeg",
}
_FILE = re.compile(r"([0-9a-f]{64})\.(m3u8|mp4|m4s|jpg)")
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get("/v1/videos/{video_id}/hls.m3u8", response_class=Response)
async def master(video_id: str, request: Request, region: RegionDep, _: Fresh) -> Response:
    """The master playlist of the video's ready rungs (404 ``hls_not_ready`` before the first)."""

    found = await region.store.query(lambda db: videos.video(db, video_id))
    if found is None:
        raise NotFound(f"no video {video_id}", code="video_not_found")
    rungs = await region.store.query(lambda db: renditions.rungs_of(db, video_id))
    ready = [
        Rendition(
            rung=r.rung,
            width=r.width,
            height=r.height,
            bandwidth=r.bandwidth,
            average_bandwidth=r.average_bandwidth,
            codecs=r.codecs,
            playlist=r.playlist,
        )
        for r in rungs
        if r.state == "ready"
    ]
    if not ready:
        raise NotFound(f"video {video_id} has no HLS rung ready yet", code="hls_not_ready")
    body = master_playlist(ready).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=PLAYLIST_TYPE, headers=headers)


@router.get(
    "/v1/hls/{name}",
    response_class=FileResponse,
    responses={206: {"description": "the requested byte range"}},
)
async def hls_file(name: str, region: RegionDep, _: Fresh) -> FileResponse:
    """A media playlist (``.m3u8``), init segment (``.mp4``), media segment
    (``.m4s``) or poster (``.jpg``), named by its blob id."""
    matched = _FILE.fullmatch(name)
    if matched is None:
        raise NotFound(f"no HLS file {name!r}", code="hls_file_not_found")
    blob_id, kind = matched.groups()
    served = await region.store.query(lambda db: renditions.hls_blob_of_live_video(db, blob_id))
    if not served:
        raise NotFound(f"no HLS file {name!r}", code="hls_file_not_found")
    path = await region.blobs.local_path(blob_id)
    return FileResponse(
        path, media_type=_TYPES[kind], headers={"ETag": f'"{blob_id}"', "Cache-Control": IMMUTABLE}
    )
