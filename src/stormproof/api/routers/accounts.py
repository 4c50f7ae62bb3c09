"""Sign up, log in, profiles."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field

from stormproof.actions import accounts as actions
from stormproof.api.deps import (
    Fresh,
    IdemKey,
    MaybeCaller,
    RegionDep,
    When,
    acknowledge,
    decode_cursor,
)
from stormproof.api.limits import Limits, client_address
from stormproof.api.routers import api_router
from stormproof.api.schemas import AccountOut, VideoOut, videos_out
from stormproof.errors import NotFound
from stormproof.views import accounts, follows, videos

router = api_router(prefix="/v1", tags=["accounts"])


class Credentials(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class SignUp(BaseModel):
    """The schema states the rules; the server checks them itself so that a
    breach answers 422 with ``invalid_username``, ``reserved_username`` or
    ``weak_password``."""

    username: str = Field(
        max_length=100,
        description="Letters, digits, '_' and '.'; stored lower-cased. Names starting with "
        f"'{actions.SYSTEM_PREFIX}' are the platform's own (`reserved_username`).",
        json_schema_extra={
            "pattern": f"^[A-Za-z0-9_.]{{{actions.MIN_USERNAME},{actions.MAX_USERNAME}}}$",
            "minLength": actions.MIN_USERNAME,
            "maxLength": actions.MAX_USERNAME,
        },
    )
    password: str = Field(max_length=1000, json_schema_extra={"minLength": actions.MIN_PASSWORD})


class SessionOut(BaseModel):
    token: str
    expires_at: int
    user_id: str
    seq: int


class ProfileOut(BaseModel):
    id: str
    username: str
    followers: int
    following: int
    videos: int
    created_at: int
    #: whether the caller follows this person (null when asked without a token)
    followed_by_you: bool | None = None


@router.post("/accounts", status_code=201)
async def sign_up(
    body: SignUp,
    region: RegionDep,
    request: Request,
    response: Response,
    limits: Limits,
    when: When,
    key: IdemKey = None,
) -> AccountOut:
    address = client_address(request)
    limits.signups.check(address, take=True, why="too many sign-ups from this address")
    written = await actions.sign_up(
        region, body.username, body.password, idempotency_key=key, when=when
    )
    created = written.payload
    seq = acknowledge(response, region, written)
    return AccountOut(id=created.user_id, username=created.username, seq=seq)


@router.post("/sessions", status_code=201)
async def log_in(
    body: Credentials,
    region: RegionDep,
    request: Request,
    response: Response,
    limits: Limits,
    _: Fresh,
    when: When,
    key: IdemKey = None,
) -> SessionOut:
    """Per client address every attempt counts; per username every wrong
    password, and a name with too many is refused — right password or not —
    until its window refills (429 with ``Retry-After``)."""
    address = client_address(request)
    limits.logins.check(address, take=True, why="too many log-ins from this address")
    with limits.password_attempt(body.username):
        written = await actions.log_in(
            region, body.username, body.password, idempotency_key=key, when=when
        )
    started = written.payload
    return SessionOut(
        token=actions.token_for(region, started.session_id),
        expires_at=started.expires_at,
        user_id=started.user_id,
        seq=acknowledge(response, region, written),
    )


@router.get("/accounts/{username}")
async def profile(username: str, region: RegionDep, _: Fresh, caller: MaybeCaller) -> ProfileOut:
    def read(db: sqlite3.Connection) -> ProfileOut | None:
        account = accounts.account_by_name(db, username)
        if account is None or account.deleted:
            return None
        followers, following = follows.counts(db, account.user_id)
        return ProfileOut(
            id=account.user_id,
            username=account.username,
            followers=followers,
            following=following,
            videos=videos.count_by_owner(db, account.user_id),
            created_at=account.created_at,
            followed_by_you=None
            if caller is None
            else follows.is_following(db, caller.user_id, account.user_id),
        )

    found = await region.store.query(read)
    if found is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return found


@router.get("/accounts/{username}/videos")
async def videos_of(
    username: str,
    region: RegionDep,
    _: Fresh,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> list[VideoOut]:
    """A creator's videos, newest first. For the next page pass
    ``cursor=<created_at>:<id>`` of the last video you got."""
    before = decode_cursor(cursor)

    def read(db: sqlite3.Connection) -> list[VideoOut] | None:
        account = accounts.account_by_name(db, username)
        if account is None or account.deleted:
            return None
        found = videos.videos_by_owners(db, [account.user_id], before=before, limit=limit)
        return videos_out(db, found)

    page = await region.store.query(read)
    if page is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return page
