"""Password hashes: Argon2id salted by the cluster secret, old scrypt hashes
still verify, and an unknown username costs a real hash."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from stormproof.actions import accounts
from stormproof.errors import Unauthorized
from stormproof.events import AccountCreated, encode, new_event
from stormproof.log import event_id_for
from stormproof.passwords import Passwords, salt_for
from stormproof.region import Region
from tests.conftest import PASSWORD, TEST_PASSWORD_COST, make_settings


class CountingHasher(Argon2Hasher):
    """pwdlib's real Argon2id hasher, counting its checks."""

    def __init__(self) -> None:
        super().__init__(memory_cost=TEST_PASSWORD_COST)
        self.verified = 0

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.verified += 1
        return super().verify(password, hash)


@pytest.fixture
async def region(tmp_path: Path) -> AsyncIterator[Region]:
    region = Region.open(make_settings(tmp_path / "region"))
    await region.start()
    await region.caught_up()
    yield region
    await region.close()


async def test_unknown_user_log_in_runs_the_hasher(region: Region) -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher)
    await accounts.sign_up(region, "ann", PASSWORD, idempotency_key=None, passwords=passwords)
    for name in ("ann", "nobody"):  # a wrong password, an unknown name: one check each
        with pytest.raises(Unauthorized):
            await accounts.log_in(
                region, name, "wrong-password", idempotency_key=None, passwords=passwords
            )
    assert hasher.verified == 2


async def test_new_hashes_are_argon2id_with_a_salt_from_the_secret(region: Region) -> None:
    written = await accounts.sign_up(region, "ben", PASSWORD, idempotency_key="k")
    created = written.event.data
    assert isinstance(created, AccountCreated)
    assert created.password_hash.startswith(f"$argon2id$v=19$m={TEST_PASSWORD_COST},t=3,p=4$")
    salt = salt_for(region.secret, "anon:signup:ben:k")
    expected = Passwords.argon2id(TEST_PASSWORD_COST).hash(PASSWORD, salt)
    assert created.password_hash == expected  # the same for a retry in another region
    assert salt_for(b"another secret".ljust(32), "anon:signup:ben:k") != salt


async def test_old_scrypt_hashes_still_verify(region: Region) -> None:
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**8, r=8, p=1, maxmem=2**26)
    old_hash = f"scrypt${2**8}${salt.hex()}${key.hex()}"
    created = AccountCreated(user_id="u_old", username="old", password_hash=old_hash)
    event = new_event(created, actor="").model_copy(update={"id": event_id_for("old")})
    entry = await region.log.append("anon:signup:old:legacy", event, partition=0)
    assert encode(event)
    await region.projector.wait_for(entry.partition, entry.seq, 5.0)
    written = await accounts.log_in(region, "old", PASSWORD, idempotency_key=None)
    assert written.event.actor == "u_old"
    with pytest.raises(Unauthorized):
        await accounts.log_in(region, "old", "wrong-password", idempotency_key=None)
