"""Resumable uploads: the tus 1.0 protocol at ``/v1/uploads`` (ADR 027).

Core protocol plus the creation, creation-with-upload, termination,
expiration and checksum extensions. Every request but OPTIONS is signed in
like any other write (``Authorization: Bearer``), and its errors are JSON
``{code, message}`` as everywhere: tus clients read the status and headers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from stormproof.actions import uploads as actions
from stormproof.api.deps import Caller, IdemKey, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.errors import StormproofError
from stormproof.media import tus
from stormproof.region import Region

router = api_router(prefix="/v1/uploads", tags=["uploads"])


class UnsupportedType(StormproofError):
    status = 415
    code = "bad_content_type"


async def _speaks_tus(
    tus_resumable: Annotated[str | None, Header(alias="Tus-Resumable")] = None,
) -> None:
    tus.check_version(tus_resumable)


#: a request in the tus protocol (412 ``tus_version_unsupported`` otherwise)
Tus = Annotated[None, Depends(_speaks_tus)]


def _tus_headers(response: Response, region: Region, progress: actions.Progress) -> None:
    """What every answer about an upload says: where it stands, until when;
    once it is a video, the video's id and its write's ``Stormproof-Seq``."""
    upload = progress.upload
    response.headers["Tus-Resumable"] = tus.VERSION
    response.headers["Upload-Offset"] = str(progress.offset)
    response.headers["Upload-Length"] = str(upload.length)
    response.headers["Cache-Control"] = "no-store"
    if progress.video is None:
        expires = datetime.fromtimestamp(upload.expires_at / 1000, UTC)
        response.headers["Upload-Expires"] = format_datetime(expires, usegmt=True)
    else:
        response.headers["Stormproof-Video"] = progress.video.payload.video_id
        acknowledge(response, region, progress.video)


def _body_of(request: Request) -> tuple[int | None, bool]:
    """The body's Content-Length (if sent) and whether a body is offered at all."""
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else None
    chunked = "chunked" in request.headers.get("transfer-encoding", "")
    return size, chunked or bool(size)


def _check_type(request: Request) -> None:
    if request.headers.get("content-type") != tus.OFFSET_TYPE:
        raise UnsupportedType(f"a chunk's Content-Type is {tus.OFFSET_TYPE}")


@router.options("", status_code=204, response_class=Response)
async def capabilities(region: RegionDep) -> Response:
    """What this server supports; no token needed."""
    response = Response(status_code=204)
    response.headers["Tus-Resumable"] = tus.VERSION
    response.headers["Tus-Version"] = tus.VERSION
    response.headers["Tus-Extension"] = tus.EXTENSIONS
    response.headers["Tus-Max-Size"] = str(region.settings.max_upload_bytes)
    response.headers["Tus-Checksum-Algorithm"] = ",".join(tus.CHECKSUMS)
    return response


@router.post("", status_code=201, response_class=Response)
async def create(
    request: Request,
    region: RegionDep,
    caller: Caller,
    when: When,
    _: Tus,
    upload_length: Annotated[str | None, Header(alias="Upload-Length")] = None,
    upload_metadata: Annotated[str | None, Header(alias="Upload-Metadata")] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
    key: IdemKey = None,
) -> Response:
    """Begin an upload of ``Upload-Length`` bytes (``Upload-Metadata``:
    ``filename``, ``caption``); a body of type ``application/offset+octet-stream``
    is its first chunk (creation-with-upload)."""
    length = tus.parse_offset(upload_length, "Upload-Length")
    metadata = tus.parse_metadata(upload_metadata)
    declared, has_body = _body_of(request)
    checksum = tus.parse_checksum(upload_checksum)
    if has_body:
        _check_type(request)
    response = Response(status_code=201)
    created = await actions.create_upload(
        region, caller.user_id, length, metadata, idempotency_key=key, when=when
    )
    acknowledge(response, region, created)
    upload_id = created.payload.upload_id
    response.headers["Location"] = f"/v1/uploads/{upload_id}"
    if has_body:
        progress = await actions.store_chunk(
            region, caller.user_id, upload_id, 0, request.stream(),
            declared=declared, checksum=checksum, media=region.media, when=when,
        )  # fmt: skip
    else:
        progress = await actions.progress(region, caller.user_id, upload_id, media=region.media)
    _tus_headers(response, region, progress)
    return response


@router.head("/{upload_id}", status_code=200, response_class=Response)
async def where(upload_id: str, region: RegionDep, caller: Caller, when: When, _: Tus) -> Response:
    """How many bytes of the upload are stored (``Upload-Offset``), in any
    region: resume from there."""
    progress = await actions.progress(
        region, caller.user_id, upload_id, media=region.media, when=when
    )
    response = Response(status_code=200)
    _tus_headers(response, region, progress)
    return response


@router.patch("/{upload_id}", status_code=204, response_class=Response)
async def send(
    upload_id: str,
    request: Request,
    region: RegionDep,
    caller: Caller,
    when: When,
    _: Tus,
    upload_offset: Annotated[str | None, Header(alias="Upload-Offset")] = None,
    upload_checksum: Annotated[str | None, Header(alias="Upload-Checksum")] = None,
) -> Response:
    """Store the body at ``Upload-Offset``: acknowledged once it is durable
    in the replicated blob store and its event is in the log. The last chunk
    makes the video (``Stormproof-Video``), validated as a single upload is."""
    _check_type(request)
    offset = tus.parse_offset(upload_offset, "Upload-Offset")
    checksum = tus.parse_checksum(upload_checksum)
    declared, _has_body = _body_of(request)
    progress = await actions.store_chunk(
        region, caller.user_id, upload_id, offset, request.stream(),
        declared=declared, checksum=checksum, media=region.media, when=when,
    )  # fmt: skip
    response = Response(status_code=204)
    _tus_headers(response, region, progress)
    return response


@router.delete("/{upload_id}", status_code=204, response_class=Response)
async def terminate(
    upload_id: str, region: RegionDep, caller: Caller, when: When, _: Tus
) -> Response:
    """End the upload; its chunks are removed."""
    response = Response(status_code=204)
    ended = await actions.terminate_upload(region, caller.user_id, upload_id, when=when)
    acknowledge(response, region, ended)
    response.headers["Tus-Resumable"] = tus.VERSION
    return response


class UploadOut(BaseModel):
    upload_id: str
    offset: int
    length: int
    video_id: str | None


@router.get("/{upload_id}")
async def describe(upload_id: str, region: RegionDep, caller: Caller) -> UploadOut:
    """The upload as JSON, for clients that are not tus clients."""
    progress = await actions.progress(region, caller.user_id, upload_id, media=region.media)
    video = progress.video.payload.video_id if progress.video is not None else None
    return UploadOut(
        upload_id=upload_id, offset=progress.offset, length=progress.upload.length, video_id=video
    )
