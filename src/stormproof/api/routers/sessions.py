"""Your sessions and your account: list and end sessions, change the
password, delete the account (ADR 011). Log-in itself is ``POST /v1/sessions``
in the accounts router."""

from __future__ import annotations

import sqlite3
import time
from typing import Annotated

from fastapi import Path, Response
from pydantic import BaseModel, Field

from stormproof.actions import accounts as actions
from stormproof.api.deps import Caller, Fresh, IdemKey, RegionDep, When, acknowledge
from stormproof.api.limits import Limits
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack
from stormproof.views import accounts

router = api_router(prefix="/v1", tags=["sessions"])


class SessionInfo(BaseModel):
    id: str
    created_at: int
    expires_at: int
    #: the session of the token this request came with
    current: bool


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=1000)
    new_password: str = Field(
        max_length=1000, json_schema_extra={"minLength": actions.MIN_PASSWORD}
    )


class AccountDeletion(BaseModel):
    password: str = Field(max_length=1000)


@router.get("/sessions")
async def list_sessions(region: RegionDep, caller: Caller, _: Fresh) -> list[SessionInfo]:
    """Your sessions that have not ended or expired, newest first."""
    now = int(time.time() * 1000)

    def read(db: sqlite3.Connection) -> list[SessionInfo]:
        return [
            SessionInfo(
                id=s.session_id,
                created_at=s.started_at,
                expires_at=s.expires_at,
                current=s.session_id == caller.session_id,
            )
            for s in accounts.sessions_of(db, caller.user_id, now=now)
        ]

    return await region.store.query(read)


@router.delete("/sessions")
async def log_out(
    region: RegionDep, caller: Caller, response: Response, when: When, key: IdemKey = None
) -> Ack:
    """End the session of this request's token, in every region."""
    written = await actions.revoke_session(
        region, caller, caller.session_id, idempotency_key=key, when=when
    )
    return Ack(seq=acknowledge(response, region, written))


@router.delete("/sessions/{session_id}")
async def end_session(
    session_id: Annotated[str, Path(max_length=100)],
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    key: IdemKey = None,
) -> Ack:
    """End one of your sessions. Anyone else's is 404, as if it did not exist."""
    written = await actions.revoke_session(
        region, caller, session_id, idempotency_key=key, when=when
    )
    return Ack(seq=acknowledge(response, region, written))


@router.post("/account/password")
async def change_password(
    body: PasswordChange,
    region: RegionDep,
    caller: Caller,
    response: Response,
    limits: Limits,
    when: When,
    key: IdemKey = None,
) -> Ack:
    """Every other session ends; this one goes on. A wrong ``old_password``
    is 403 ``wrong_password`` and counts as a failed log-in."""
    with limits.password_attempt(caller.username):
        written = await actions.change_password(
            region, caller, body.old_password, body.new_password, idempotency_key=key, when=when
        )
    return Ack(seq=acknowledge(response, region, written))


@router.delete("/account")
async def delete_account(
    body: AccountDeletion,
    region: RegionDep,
    caller: Caller,
    response: Response,
    limits: Limits,
    when: When,
    key: IdemKey = None,
) -> Ack:
    """Delete your account: every session ends, your videos and comments
    disappear, your messages stay with the people you wrote to (sent by
    ``[deleted]``), and your username is never given to anyone else."""
    with limits.password_attempt(caller.username):
        written = await actions.delete_account(
            region, caller, body.password, idempotency_key=key, when=when
        )
    return Ack(seq=acknowledge(response, region, written))
