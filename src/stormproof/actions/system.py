"""Writes the platform makes itself: its system accounts and its probes'
results (ADR 020). They go through the same steps as people's actions
(``actions/__init__.py``): a key that makes a retry the same write, checks,
one append, the local views waited for.
"""

from __future__ import annotations

import asyncio

from stormproof.actions import Written, derived_id, prior, write
from stormproof.actions.accounts import USERNAME, reserved
from stormproof.errors import Conflict, Unprocessable
from stormproof.events import SYSTEM_ID_PREFIX, AccountCreated, ProbesRecorded
from stormproof.passwords import Passwords, passwords_for, salt_for
from stormproof.region import Region
from stormproof.views import accounts

__all__ = ["SYSTEM_PASSWORDS", "create_system_account", "probes_key", "record_probes"]

#: how system accounts' passwords are hashed: Argon2id at its lowest cost.
#: Their passwords are 256-bit secrets derived from the cluster's (no guess
#: finds one), so a slow hash protects nothing; it would cost each region
#: ~0.3 s of CPU per prober and round, as every probe signs in every round.
SYSTEM_PASSWORDS = passwords_for(64, 1)


async def create_system_account(
    region: Region, username: str, password: str, *, passwords: Passwords | None = None
) -> Written[AccountCreated]:
    """Create a system account once: every later call (from any region, the
    secret being shared) is the same write. Only reserved names are system
    accounts'; one a person took before it was reserved is 409. ``password``
    must be a secret no one can guess (``status.identity.system_password``):
    it is hashed with :data:`SYSTEM_PASSWORDS`, cheap to check."""
    key = f"system-account:{username}"
    if done := await prior(region, key, AccountCreated, lambda p: p.system):
        return done
    if not (USERNAME.fullmatch(username) and reserved(username)):
        raise Unprocessable(f"{username!r} is not a system account's name", code="invalid_username")
    if await region.store.query(lambda db: accounts.account_by_name(db, username)):
        raise Conflict(f"username {username!r} is taken", code="username_taken")
    hasher = passwords or SYSTEM_PASSWORDS
    password_hash = await asyncio.to_thread(hasher.hash, password, salt_for(region.secret, key))
    payload = AccountCreated(
        user_id=derived_id(SYSTEM_ID_PREFIX, key),
        username=username,
        password_hash=password_hash,
        system=True,
    )
    return await write(region, key, payload, actor="")


def probes_key(prober: str, round_at: int) -> str:
    """The log key of one prober's round: a retried round is the same write."""
    return f"probes:{prober}:{round_at}"


async def record_probes(
    region: Region, payload: ProbesRecorded, *, actor: str
) -> Written[ProbesRecorded]:
    """Append this region's round of probes, checked again first: it
    replicates to every region, whose status view must be able to hold it."""
    # The model refuses a round off its period's grid and duplicate results
    # or regions; validating again catches a payload built around it.
    checked = ProbesRecorded.model_validate(payload.model_dump())
    if checked.prober != region.name:
        raise Unprocessable("a region records its own probes only", code="not_this_prober")
    key = probes_key(checked.prober, checked.round_at)
    if done := await prior(region, key, ProbesRecorded):
        return done
    return await write(region, key, checked, actor=actor)
