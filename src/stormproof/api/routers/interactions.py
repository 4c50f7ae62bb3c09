"""``POST /v1/events``: watch, like, unlike, share, skip, not interested."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, Field

from stormproof.actions import social
from stormproof.api.deps import Caller, IdemKey, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack

router = api_router(prefix="/v1", tags=["interactions"])


class EventsIn(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="1 to `STORMPROOF_EVENTS_BATCH_MAX` (500) interactions: "
        '`{"type": "watch"|"like"|"unlike"|"share"|"skip"|"not_interested", '
        '"video_id": ..., "watched_ms": 0..86400000, "completed": bool, '
        '"source": "for_you"|"following"|"profile"|"shared_link"|"unknown"}` '
        "(`source`: where a watch came from, for its creator's analytics; default unknown)",
        max_length=10_000,
    )


class EventsAck(Ack):
    accepted: int


@router.post("/events", status_code=202)
async def record(
    body: EventsIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> EventsAck:
    """A batch is accepted whole or rejected whole. Each event is
    ``{"type": "watch"|"like"|"unlike"|"share"|"skip"|"not_interested",
    "video_id": ..., "watched_ms": ..., "completed": ...}``."""
    written = await social.record_interactions(
        region, caller.user_id, body.events, idempotency_key=key, when=when
    )
    recorded = written.payload
    return EventsAck(seq=acknowledge(response, region, written), accepted=len(recorded.items))
