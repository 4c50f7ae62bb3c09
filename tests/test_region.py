"""A region's lifecycle: start, resume, and refusing inconsistent state."""

from __future__ import annotations

from pathlib import Path

import pytest

from stormproof.actions import accounts
from stormproof.errors import LogError
from stormproof.region import Region, load_secret
from tests.conftest import make_settings


async def test_restart_resumes_from_the_stored_position(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    await accounts.sign_up(region, "ann", "password1", idempotency_key=None)
    position = region.store.position()
    await region.close()

    again = Region.open(settings)
    await again.start()
    await again.caught_up()
    assert again.store.position() == position == (1,)
    await again.close()


async def test_views_ahead_of_the_log_are_refused_and_the_region_never_ready(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    await accounts.sign_up(region, "ann", "password1", idempotency_key=None)
    await region.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.log_path}{suffix}").unlink(missing_ok=True)

    replaced = Region.open(settings)
    await replaced.start()  # the refusal comes from the catch-up, in the background
    with pytest.raises(LogError) as caught:
        await replaced.caught_up()
    assert caught.value.code == "views_ahead_of_log"
    assert replaced.failure is caught.value and not replaced.ready
    assert replaced.catching_up is None
    await replaced.close()


def test_the_secret_is_created_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    secret = load_secret(path)
    assert len(secret) == 32 and load_secret(path) == secret
    assert path.stat().st_mode & 0o777 == 0o600
