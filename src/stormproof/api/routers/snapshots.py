"""``/v1/snapshots``: a consistent copy of this region's views and engine
checkpoint, for a peer that lost its disks (``stormproof.snapshots``).

For operators only: a snapshot holds every account's data and its making
reads the whole view store.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Request
from fastapi.responses import FileResponse

from stormproof.api.deps import Operator, RegionDep
from stormproof.api.routers import api_router
from stormproof.errors import NotFound, Unavailable
from stormproof.snapshots import Manifest, Snapshots
from stormproof.snapshots.manifest import ID_PATTERN

router = api_router(prefix="/v1/snapshots", tags=["health"])


def _snapshots(request: Request) -> Snapshots:
    snapshots: Snapshots = request.app.state.snapshots
    return snapshots


@router.post("")
async def make_snapshot(region: RegionDep, request: Request, _: Operator) -> Manifest:
    """Make a snapshot of this region's views and For You engine checkpoint
    at the position the views stand at — or hand out the one made less than
    ``snapshot_reuse_s`` ago — and answer its manifest: the position, each
    view's digest there, each packed file's size and SHA-256 and the size
    it expands to (Zstandard, ADR 035). One is made at a time. A region
    that is not ready answers 503 ``not_ready``; one whose disk or database
    failed while copying, 503 ``snapshot_failed``."""
    if not region.ready or region.projector.error is not None:
        raise Unavailable(f"{region.name} is not ready: ask another region", code="not_ready")
    return await _snapshots(request).make_or_reuse()


@router.get(
    "/{snapshot_id}/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"application/zstd": {}}}},
)
async def snapshot_file(
    snapshot_id: Annotated[str, Path(pattern=ID_PATTERN)],
    name: Literal["views.sqlite.zst", "foryou.checkpoint.zst"],
    request: Request,
    _: Operator,
) -> FileResponse:
    """One packed file of a snapshot this region made, as its manifest
    lists it (a Zstandard frame): 404 ``snapshot_not_found`` once it was
    deleted (making a new one keeps only it and the one before)."""
    path = _snapshots(request).file(snapshot_id, name)
    if path is None:
        raise NotFound(f"no snapshot {snapshot_id} with {name} here", code="snapshot_not_found")
    return FileResponse(path, media_type="application/zstd")
