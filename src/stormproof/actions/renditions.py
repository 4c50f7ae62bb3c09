"""The HLS ladder's writes: plan a video's rungs, record one made or failed (ADR 028).

Each write's key is derived from what it is about, never from a client: the
plan's from the video, a rung's outcome from (video, rung). Whichever region
writes one, and however often (a job done twice, every region planning a
video its uploader's region did not), the views apply it once. A plan is a
pure function of the video and the region's ladder settings, dated by the
upload itself, so two regions planning the same video append the same event.
"""

from __future__ import annotations

from stormproof.actions import Written, prior, write
from stormproof.events import PlannedRung, RenditionFailed, RenditionReady, RenditionsPlanned
from stormproof.media.ladder import ladder
from stormproof.region import Region

__all__ = ["plan_renditions", "rendition_failed", "rendition_ready"]


def _plan_key(owner_id: str, video_id: str) -> str:
    return f"{owner_id}:renditions:{video_id}"


def _rung_key(owner_id: str, video_id: str, rung: int) -> str:
    return f"{owner_id}:rendition:{video_id}:{rung}"


async def plan_renditions(
    region: Region, *, video_id: str, owner_id: str, width: int, height: int, at: int
) -> Written[RenditionsPlanned]:
    """Plan the ladder of a ``width`` x ``height`` video uploaded at ``at``."""
    key = _plan_key(owner_id, video_id)
    if done := await prior(region, key, RenditionsPlanned):
        return done
    settings = region.settings
    rungs = ladder(width, height, settings.hls_rungs)
    payload = RenditionsPlanned(
        video_id=video_id,
        segment_ms=round(settings.hls_segment_s * 1000),
        rungs=tuple(
            PlannedRung(rung=r.rung, width=r.width, height=r.height, bitrate=r.bitrate)
            for r in rungs
        ),
    )
    return await write(region, key, payload, actor=owner_id, at=at)


async def rendition_ready(
    region: Region, owner_id: str, payload: RenditionReady
) -> Written[RenditionReady]:
    """Record a rung made; a rung already recorded (made or failed) stays as it was."""
    key = _rung_key(owner_id, payload.video_id, payload.rung)
    if done := await prior(region, key, RenditionReady):
        return done
    return await write(region, key, payload, actor=owner_id)


async def rendition_failed(
    region: Region, owner_id: str, payload: RenditionFailed
) -> Written[RenditionFailed]:
    """Record a rung that will not be made, and why."""
    key = _rung_key(owner_id, payload.video_id, payload.rung)
    if done := await prior(region, key, RenditionFailed):
        return done
    return await write(region, key, payload, actor=owner_id)
