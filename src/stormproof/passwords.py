"""Password hashes: Argon2id for every new one, scrypt ones from older logs
still verify (ADR 011).

A hash is part of an event (``account.created``, ``password.changed``), so a
sign-up retried in another region must compute the very same hash: its salt
is not random but ``HMAC-SHA256(cluster secret, "salt:" + log key)[:16]``
(:func:`salt_for`) — unpredictable without the secret, unique per write,
identical for every retry of that write.

Checking a password costs one hash whether or not the account exists: an
unknown username is checked against a dummy hash of the current parameters
(:meth:`Passwords.verify` with ``stored=None``), so log-in time does not tell
which usernames exist.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = ["SALT_BYTES", "Passwords", "hash_password", "passwords_for", "salt_for"]

SALT_BYTES = 16
#: pwdlib's recommended Argon2id parameters (argon2-cffi's defaults, RFC 9106 "low memory")
TIME_COST = 3
MEMORY_KIB = 64 * 1024


def salt_for(secret: bytes, key: str) -> bytes:
    """The salt of the hash a write with log key ``key`` makes."""
    return hmac.new(secret, f"salt:{key}".encode(), hashlib.sha256).digest()[:SALT_BYTES]


def _check_scrypt(password: str, stored: str) -> bool:
    """Hashes written before Argon2: ``scrypt$N$salt$key`` (r=8, p=1)."""
    try:
        _, cost, salt, key = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(cost), r=8, p=1, maxmem=2**26
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), key)


class Passwords:
    """Hash and check passwords with one Argon2id hasher (pwdlib's)."""

    def __init__(self, hasher: Argon2Hasher) -> None:
        self.hasher = hasher
        # What an unknown username is checked against: the same work as a real check.
        self._dummy = hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def argon2id(cls, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST) -> Passwords:
        return cls(Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost))

    def hash(self, password: str, salt: bytes) -> str:
        """The stored form of a password (PHC string ``$argon2id$v=19$m=…``)."""
        return self.hasher.hash(password, salt=salt)

    def verify(self, password: str, stored: str | None) -> bool:
        """Whether ``password`` matches ``stored``; ``None`` (no such account)
        costs the same as a wrong password and is always False. Slow on
        purpose: call it off the event loop."""
        if stored is None:
            self.hasher.verify(password, self._dummy)
            return False
        if stored.startswith("scrypt$"):
            return _check_scrypt(password, stored)
        return self.hasher.verify(password, stored)


@functools.cache
def passwords_for(memory_kib: int, time_cost: int) -> Passwords:
    """One shared :class:`Passwords` per parameter set (its dummy hash is made once)."""
    return Passwords.argon2id(memory_kib, time_cost)


def hash_password(password: str, memory_kib: int, salt: bytes) -> str:
    """A hash with the given memory cost (for seeding benchmarks and tests)."""
    return passwords_for(memory_kib, TIME_COST).hash(password, salt)
