"""``/v1/operators``: who holds the operator role, granted and revoked with
the operator token — whoever holds the region's data folder (ADR 021).

``stormproof operator grant USERNAME --data DIR`` calls this when the region
runs (a cluster's regions always do); the role lets an account post
incidents and maintenance through its own session.
"""

from __future__ import annotations

import sqlite3

from fastapi import Response
from pydantic import BaseModel, Field

from stormproof.actions import roles as actions
from stormproof.api.deps import Operator, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.views import accounts, roles

router = api_router(prefix="/v1/operators", tags=["incidents"])


class RoleChange(BaseModel):
    username: str
    operator: bool = Field(description="whether the account holds the role now")
    changed: bool = Field(description="false when it already stood so: nothing was written")
    seq: int | None = Field(description="the write's seq, when there was one")


class OperatorIn(BaseModel):
    username: str = Field(max_length=100)


@router.get("")
async def list_operators(region: RegionDep, _: Operator) -> list[str]:
    """The usernames of every account holding the operator role."""

    def read(db: sqlite3.Connection) -> list[str]:
        ids = roles.holders(db, "operator")
        return sorted(accounts.usernames(db, ids).values()) if ids else []

    return await region.store.query(read)


@router.post("", status_code=201)
async def grant(
    body: OperatorIn, region: RegionDep, _: Operator, when: When, response: Response
) -> RoleChange:
    """Give an account the operator role (operator token only)."""
    written = await actions.grant_role(region, body.username.lower(), when=when)
    seq = None if written is None else acknowledge(response, region, written)
    return RoleChange(
        username=body.username.lower(), operator=True, changed=seq is not None, seq=seq
    )


@router.delete("/{username}")
async def revoke(
    username: str, region: RegionDep, _: Operator, when: When, response: Response
) -> RoleChange:
    """Take the operator role from an account (operator token only)."""
    written = await actions.revoke_role(region, username.lower(), when=when)
    seq = None if written is None else acknowledge(response, region, written)
    return RoleChange(username=username.lower(), operator=False, changed=seq is not None, seq=seq)
