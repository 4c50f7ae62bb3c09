"""Accounts: sign up, log in, log out, change the password, delete the account,
and turning a bearer token back into a user (ADR 005, ADR 011).

Password hashing is slow on purpose, so it runs in a worker thread, never on
the event loop. Every action that checks a password takes ``passwords`` (the
hasher) so a test can pass a real one and watch it work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import sqlite3
import time
from dataclasses import dataclass

from stormproof.actions import (
    NOW,
    WriteTime,
    Written,
    derived_id,
    event_time,
    key_reused,
    log_key,
    prior,
    write,
)
from stormproof.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from stormproof.events import (
    SYSTEM_ID_PREFIX,
    AccountCreated,
    AccountDeleted,
    PasswordChanged,
    SessionRevoked,
    SessionStarted,
)
from stormproof.passwords import Passwords, passwords_for, salt_for
from stormproof.region import Region
from stormproof.views import accounts

__all__ = [
    "MAX_USERNAME",
    "MIN_PASSWORD",
    "MIN_USERNAME",
    "SYSTEM_PREFIX",
    "USERNAME",
    "Credentials",
    "authenticate",
    "change_password",
    "delete_account",
    "log_in",
    "reserved",
    "revoke_session",
    "sign_up",
    "token_for",
]

MIN_USERNAME, MAX_USERNAME = 3, 30
#: a whole username (``fullmatch``: ``$`` would let a trailing newline through)
USERNAME = re.compile(rf"[a-z0-9_.]{{{MIN_USERNAME},{MAX_USERNAME}}}")
MIN_PASSWORD = 8
#: usernames starting with this belong to the platform's system accounts (its
#: probers, ADR 020): sign-up refuses them
SYSTEM_PREFIX = "probe."


def reserved(username: str) -> bool:
    """Whether a username is kept for the platform's system accounts (ADR 020)."""
    return username.lower().startswith(SYSTEM_PREFIX)


def _passwords(region: Region) -> Passwords:
    settings = region.settings
    return passwords_for(settings.password_cost, settings.password_time_cost)


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(
            f"a password has at least {MIN_PASSWORD} characters", code="weak_password"
        )


async def sign_up(
    region: Region,
    username: str,
    password: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
    passwords: Passwords | None = None,
    system: bool = False,
) -> Written[AccountCreated]:
    """A new account. ``system``: one of the platform's own (a region's
    prober, ADR 020), never offered to the public API: its id begins with
    ``sys_`` (:data:`~stormproof.events.SYSTEM_ID_PREFIX`), so that nothing it
    does counts anywhere."""
    username = username.lower()
    key = log_key("", f"signup:{username}", idempotency_key)
    hasher = passwords or _passwords(region)
    written = await prior(region, key, AccountCreated)
    if written is not None:
        # The same key with another password is another request.
        if not await asyncio.to_thread(hasher.verify, password, written.payload.password_hash):
            raise key_reused()
    else:
        if not USERNAME.fullmatch(username):
            raise Unprocessable(
                f"a username is {MIN_USERNAME}-{MAX_USERNAME} characters: "
                "letters, digits, '_' and '.'",
                code="invalid_username",
            )
        if reserved(username):
            raise Unprocessable(
                f"usernames starting with {SYSTEM_PREFIX!r} are the platform's own",
                code="reserved_username",
            )
        _check_new_password(password)
        # A deleted account's name stays taken: it is never handed to someone else.
        if await region.store.query(lambda db: accounts.account_by_name(db, username)):
            raise Conflict(f"username {username!r} is taken", code="username_taken")
        # The salt derives from the key, so a retry elsewhere writes the same event.
        salt = salt_for(region.secret, key)
        password_hash = await asyncio.to_thread(hasher.hash, password, salt)
        prefix = SYSTEM_ID_PREFIX if system else "u_"
        payload = AccountCreated(
            user_id=derived_id(prefix, key),
            username=username,
            password_hash=password_hash,
            system=system,
        )
        written = await write(region, key, payload, actor="", when=when)
    # If two sign-ups raced for the name, the log decided: the first one won.
    created = written.payload
    owner = await region.store.query(lambda db: accounts.account_by_name(db, username))
    if owner is not None and owner.user_id != created.user_id:
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    return written


def token_for(region: Region, session_id: str) -> str:
    """The bearer token of a session: its id signed with the region secret."""
    mac = hmac.new(region.secret, session_id.encode(), hashlib.sha256).hexdigest()
    return f"{session_id}.{mac}"


async def log_in(
    region: Region,
    username: str,
    password: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
    passwords: Passwords | None = None,
) -> Written[SessionStarted]:
    account = await region.store.query(lambda db: accounts.account_by_name(db, username))
    if account is not None and account.deleted:
        account = None
    # An unknown name is checked against a dummy hash: it takes as long as a
    # wrong password, so the answer's time does not tell which names exist.
    hasher = passwords or _passwords(region)
    stored = account.password_hash if account else None
    valid = await asyncio.to_thread(hasher.verify, password, stored)
    if account is None or not valid:
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    key = log_key(account.user_id, "session", idempotency_key)
    if done := await prior(region, key, SessionStarted):
        return done
    at = event_time(region, when)
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
    #: the session whose token came with the request
    session_id: str


async def authenticate(region: Region, authorization: str | None) -> Credentials:
    """The user a ``Bearer`` token belongs to; 401 when missing, forged,
    expired, ended (log-out, password change) or of a deleted account."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send 'Authorization: Bearer <token>'", code="missing_token")
    token = authorization[7:].strip()
    session_id, _, _ = token.partition(".")
    # compare_digest takes ASCII text only; a token we made is short ASCII.
    if not (token.isascii() and len(token) <= 200):
        raise Unauthorized("this token is not valid", code="invalid_token")
    if not hmac.compare_digest(token_for(region, session_id), token):
        raise Unauthorized("this token is not valid", code="invalid_token")

    def lookup(
        db: sqlite3.Connection,
    ) -> tuple[accounts.Session, bool, accounts.Account | None] | None:
        found = accounts.session(db, session_id)
        if found is None:
            return None
        session, ended = found
        return session, ended, accounts.account_by_id(db, session.user_id)

    found = region.store.read_now(lookup)  # primary-key lookups, on every request
    if found is None:
        raise Unauthorized("this token is not valid", code="invalid_token")
    session, ended, account = found
    if account is None:
        raise Unauthorized("this token is not valid", code="invalid_token")
    if account.deleted:
        raise Unauthorized("this account was deleted", code="account_deleted")
    if ended:
        raise Unauthorized("this session was ended; log in again", code="session_ended")
    if session.expires_at <= time.time() * 1000:
        raise Unauthorized("this token has expired; log in again", code="token_expired")
    return Credentials(user_id=account.user_id, username=account.username, session_id=session_id)


async def revoke_session(
    region: Region,
    caller: Credentials,
    session_id: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[SessionRevoked]:
    """End one of the caller's sessions (their current one included). Anyone
    else's, or one that has ended, is 404: as if it did not exist."""
    key = log_key(caller.user_id, f"revoke:{session_id}", idempotency_key)
    if done := await prior(region, key, SessionRevoked):
        return done
    found = await region.store.query(lambda db: accounts.session(db, session_id))
    if found is None or found[1] or found[0].user_id != caller.user_id:
        raise NotFound("no such session", code="session_not_found")
    return await write(
        region, key, SessionRevoked(session_id=session_id), actor=caller.user_id, when=when
    )


async def _check_own_password(
    region: Region, caller: Credentials, password: str, passwords: Passwords | None
) -> None:
    account = await region.store.query(lambda db: accounts.account_by_id(db, caller.user_id))
    hasher = passwords or _passwords(region)
    stored = account.password_hash if account else None
    if not await asyncio.to_thread(hasher.verify, password, stored):
        raise Forbidden("the password is wrong", code="wrong_password")


async def change_password(
    region: Region,
    caller: Credentials,
    old_password: str,
    new_password: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
    passwords: Passwords | None = None,
) -> Written[PasswordChanged]:
    """Set a new password; every other session of the caller ends, the
    caller's own goes on."""
    key = log_key(caller.user_id, "password", idempotency_key)
    hasher = passwords or _passwords(region)
    # First: after the change, a retry's old password is no longer the password.
    if done := await prior(region, key, PasswordChanged):
        if not await asyncio.to_thread(hasher.verify, new_password, done.payload.password_hash):
            raise key_reused()
        return done
    _check_new_password(new_password)
    await _check_own_password(region, caller, old_password, passwords)
    password_hash = await asyncio.to_thread(hasher.hash, new_password, salt_for(region.secret, key))
    payload = PasswordChanged(password_hash=password_hash, kept_session_id=caller.session_id)
    return await write(region, key, payload, actor=caller.user_id, when=when)


async def delete_account(
    region: Region,
    caller: Credentials,
    password: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
    passwords: Passwords | None = None,
) -> Written[AccountDeleted]:
    """Delete the caller's account (ADR 011): every session ends, videos and
    comments are hidden, the username stays retired."""
    key = log_key(caller.user_id, "delete-account", idempotency_key)
    if done := await prior(region, key, AccountDeleted):
        return done
    await _check_own_password(region, caller, password, passwords)
    return await write(region, key, AccountDeleted(), actor=caller.user_id, when=when)
