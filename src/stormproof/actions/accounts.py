"""Accounts: sign up, log in, and turning a bearer token back into a user."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import sqlite3
import time
from dataclasses import dataclass

from stormproof.actions import Written, derived_id, event_time, log_key, prior, write
from stormproof.errors import Conflict, Unauthorized, Unprocessable
from stormproof.events import AccountCreated, SessionStarted
from stormproof.region import Region
from stormproof.views import accounts

__all__ = ["Credentials", "authenticate", "hash_password", "log_in", "sign_up", "token_for"]

USERNAME = re.compile(r"^[a-z0-9_.]{3,30}$")
MIN_PASSWORD = 8


def hash_password(password: str, cost: int, salt: bytes) -> str:
    """The stored form of a password: scrypt with ``cost`` and ``salt``."""
    key = hashlib.scrypt(password.encode(), salt=salt, n=cost, r=8, p=1, maxmem=2**26)
    return f"scrypt${cost}${salt.hex()}${key.hex()}"


def _check_password(password: str, stored: str) -> bool:
    _, cost, salt, key = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(cost), r=8, p=1, maxmem=2**26
    )
    return hmac.compare_digest(candidate.hex(), key)


async def sign_up(
    region: Region, username: str, password: str, *, idempotency_key: str | None
) -> Written:
    username = username.lower()
    key = log_key("", f"signup:{username}", idempotency_key)
    written = await prior(region, key, AccountCreated.TYPE)
    if written is None:
        if not USERNAME.match(username):
            raise Unprocessable(
                "a username is 3-30 characters: letters, digits, '_' and '.'",
                code="invalid_username",
            )
        if len(password) < MIN_PASSWORD:
            raise Unprocessable(
                f"a password has at least {MIN_PASSWORD} characters", code="weak_password"
            )
        if await region.store.query(lambda db: accounts.account_by_name(db, username)):
            raise Conflict(f"username {username!r} is taken", code="username_taken")
        # The salt derives from the key, so a retry elsewhere writes the same event.
        salt = hashlib.sha256(f"salt:{key}".encode()).digest()[:16]
        password_hash = await asyncio.to_thread(
            hash_password, password, region.settings.password_cost, salt
        )
        payload = AccountCreated(
            user_id=derived_id("u_", key), username=username, password_hash=password_hash
        )
        written = await write(region, key, payload, actor="")
    # If two sign-ups raced for the name, the log decided: the first one won.
    created = written.event.data
    assert isinstance(created, AccountCreated)
    owner = await region.store.query(lambda db: accounts.account_by_name(db, username))
    if owner is not None and owner.user_id != created.user_id:
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    return written


def token_for(region: Region, session_id: str) -> str:
    """The bearer token of a session: its id signed with the region secret."""
    mac = hmac.new(region.secret, session_id.encode(), hashlib.sha256).hexdigest()
    return f"{session_id}.{mac}"


async def log_in(
    region: Region, username: str, password: str, *, idempotency_key: str | None
) -> Written:
    account = await region.store.query(lambda db: accounts.account_by_name(db, username))
    valid = account is not None and await asyncio.to_thread(
        _check_password, password, account.password_hash
    )
    if account is None or not valid:
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    key = log_key(account.user_id, "session", idempotency_key)
    if done := await prior(region, key, SessionStarted.TYPE):
        return done
    at = event_time(region)
    payload = SessionStarted(
        session_id=derived_id("s_", key),
        user_id=account.user_id,
        expires_at=at + region.settings.session_ttl_s * 1000,
    )
    return await write(region, key, payload, actor=account.user_id, at=at)


@dataclass(frozen=True)
class Credentials:
    user_id: str
    username: str


async def authenticate(region: Region, authorization: str | None) -> Credentials:
    """The user a ``Bearer`` token belongs to; 401 when missing, forged or expired."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="missing_token")
    token = authorization[7:].strip()
    session_id, _, _ = token.partition(".")
    if not hmac.compare_digest(token_for(region, session_id), token):
        raise Unauthorized("this token is not valid", code="invalid_token")

    def lookup(db: sqlite3.Connection) -> tuple[int, accounts.Account | None] | None:
        found = accounts.session(db, session_id)
        if found is None:
            return None
        user_id, expires_at = found
        return expires_at, accounts.account_by_id(db, user_id)

    found = region.store.read_now(lookup)  # two primary-key lookups, on every request
    if found is None:
        raise Unauthorized("this token is not valid", code="invalid_token")
    expires_at, account = found
    if account is None:
        raise Unauthorized("this token is not valid", code="invalid_token")
    if expires_at <= time.time() * 1000:
        raise Unauthorized("this token has expired; log in again", code="token_expired")
    return Credentials(user_id=account.user_id, username=account.username)
