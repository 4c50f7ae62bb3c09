"""Follow and unfollow creators."""

from __future__ import annotations

from fastapi import Response

from stormproof.actions import social
from stormproof.api.deps import Caller, IdemKey, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack

router = api_router(prefix="/v1/follows", tags=["follows"])


@router.post("/{username}", status_code=201)
async def follow(
    username: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    written = await social.follow(region, caller.user_id, username, idempotency_key=key, when=when)
    return Ack(seq=acknowledge(response, region, written))


@router.delete("/{username}")
async def unfollow(
    username: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    written = await social.unfollow(
        region, caller.user_id, username, idempotency_key=key, when=when
    )
    return Ack(seq=acknowledge(response, region, written))
