"""Block and unblock people, and list whom you block."""

from __future__ import annotations

import sqlite3

from fastapi import Response

from stormproof.actions import safety
from stormproof.api.deps import Caller, Fresh, IdemKey, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack, UserRef
from stormproof.views import accounts, blocks

router = api_router(prefix="/v1/blocks", tags=["blocks"])


@router.post("/{username}", status_code=201)
async def block(
    username: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    """From now on neither of you can message or follow the other (a follow
    either way ends), and neither sees the other's videos in their feeds."""
    written = await safety.block(region, caller.user_id, username, idempotency_key=key, when=when)
    return Ack(seq=acknowledge(response, region, written))


@router.delete("/{username}")
async def unblock(
    username: str,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    """Follows the block ended stay ended."""
    written = await safety.unblock(region, caller.user_id, username, idempotency_key=key, when=when)
    return Ack(seq=acknowledge(response, region, written))


@router.get("")
async def blocked(region: RegionDep, caller: Caller, _: Fresh) -> list[UserRef]:
    """Whom you block."""

    def read(db: sqlite3.Connection) -> list[UserRef]:
        ids = blocks.blocked_ids(db, caller.user_id)
        names = accounts.usernames(db, ids)
        return [UserRef(id=i, username=names.get(i, "")) for i in ids]

    return await region.store.query(read)
