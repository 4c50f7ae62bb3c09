"""Roles: make an account an operator, or no longer one (ADR 021).

Granting is for whoever holds the region's data folder — the ``stormproof
operator grant`` command, or the operator token that folder's secret gives —
never for people through their sessions: the API's grant route is behind the
operator token. A grant's key counts the account's earlier changes of that
role, so running the same command again while nothing changed is the same
write, and granting again after a revocation is a new one.
"""

from __future__ import annotations

import sqlite3

from stormproof.actions import NOW, WriteTime, Written, prior, write
from stormproof.errors import Forbidden, NotFound, Unprocessable
from stormproof.events import ROLES, RoleGranted, RoleRevoked
from stormproof.region import Region
from stormproof.views import accounts, roles

__all__ = ["grant_role", "require_role", "revoke_role"]


async def require_role(region: Region, user_id: str, role: str = "operator") -> None:
    """403 ``not_an_operator`` unless ``user_id`` holds ``role``."""
    if not await region.store.query(lambda db: roles.has_role(db, user_id, role)):
        raise Forbidden(f"this is for accounts with the {role} role", code=f"not_an_{role}")


def _changes(db: sqlite3.Connection, user_id: str, role: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM role_changes WHERE user_id = ? AND role = ?", (user_id, role)
    ).fetchone()
    return int(row[0])


async def _account_and_state(
    region: Region, username: str, role: str
) -> tuple[accounts.Account, bool, int]:
    """The account ``username`` names, whether it holds ``role``, and how
    many changes of that role it had; refuses what cannot hold a role."""
    if role not in ROLES:
        raise Unprocessable(f"roles are {', '.join(ROLES)}", code="unknown_role")

    def read(db: sqlite3.Connection) -> tuple[accounts.Account | None, bool, int]:
        account = accounts.account_by_name(db, username)
        if account is None:
            return None, False, 0
        return (
            account,
            roles.has_role(db, account.user_id, role),
            _changes(db, account.user_id, role),
        )

    account, holds, changes = await region.store.query(read)
    if account is None or account.deleted:
        raise NotFound(f"no account named {username!r}", code="account_not_found")
    if account.system:
        raise Forbidden("a system account holds no role", code="system_account")
    return account, holds, changes


async def grant_role(
    region: Region, username: str, role: str = "operator", *, actor: str = "", when: WriteTime = NOW
) -> Written[RoleGranted] | None:
    """Give ``username`` the role; None when it already holds it (nothing
    written). Its time is the caller's (``when``): a client that sent the same
    grant to two regions writes the same event twice, not two events."""
    account, holds, changes = await _account_and_state(region, username, role)
    key = f"role:{role}:{account.user_id}:{changes}"
    if done := await prior(region, key, RoleGranted):
        return done
    if holds:
        return None
    payload = RoleGranted(user_id=account.user_id, role="operator")
    return await write(region, key, payload, actor=actor, when=when)


async def revoke_role(
    region: Region, username: str, role: str = "operator", *, actor: str = "", when: WriteTime = NOW
) -> Written[RoleRevoked] | None:
    """Take the role from ``username``; None when it does not hold it."""
    account, holds, changes = await _account_and_state(region, username, role)
    key = f"role:{role}:{account.user_id}:{changes}"
    if done := await prior(region, key, RoleRevoked):
        return done
    if not holds:
        return None
    payload = RoleRevoked(user_id=account.user_id, role="operator")
    return await write(region, key, payload, actor=actor, when=when)
