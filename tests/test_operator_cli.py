"""``stormproof operator grant`` run as a user runs it, a real process: on a
stopped region's folder it appends through the region itself; with
``--url`` it asks the running region's API with the folder's operator
token. Either way the account may then post incidents (ADR 021)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from stormproof.actions.accounts import sign_up
from stormproof.region import Region
from stormproof.views import accounts, roles
from tests.conftest import PASSWORD, LiveServer, make_settings
from tests.conftest import sign_up as sign_up_over_http
from tests.test_cli import stormproof


def _region_with(data: Path, username: str) -> None:
    """A stopped region whose log holds one account."""

    async def run() -> None:
        region = Region.open(make_settings(data))
        await region.start()
        await region.caught_up()
        await sign_up(region, username, PASSWORD, idempotency_key=None)
        await region.close()

    asyncio.run(run())


def _is_operator(data: Path, username: str) -> bool:
    async def run() -> bool:
        region = Region.open(make_settings(data))
        await region.start()
        await region.caught_up()
        try:

            def read(db: sqlite3.Connection) -> bool:
                account = accounts.account_by_name(db, username)
                assert account is not None
                return roles.has_role(db, account.user_id, "operator")

            return await region.store.query(read)
        finally:
            await region.close()

    return asyncio.run(run())


def test_grant_on_a_stopped_regions_folder_writes_the_role_once(tmp_path: Path) -> None:
    data = tmp_path / "var"
    _region_with(data, "olga")
    granted = stormproof("operator", "grant", "Olga", "--data", str(data))
    assert granted.returncode == 0, granted.stdout + granted.stderr
    assert "olga is an operator now" in granted.stdout
    assert _is_operator(data, "olga")
    again = stormproof("operator", "grant", "olga", "--data", str(data))
    assert again.returncode == 0 and "already" in again.stdout
    unknown = stormproof("operator", "grant", "nobody", "--data", str(data))
    assert unknown.returncode == 1 and "account_not_found" in unknown.stdout
    revoked = stormproof("operator", "revoke", "olga", "--data", str(data))
    assert revoked.returncode == 0 and "olga is not an operator now" in revoked.stdout
    assert not _is_operator(data, "olga")


def test_grant_with_url_asks_the_running_region(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path / "region")).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            auth = sign_up_over_http(client, "olga")
            opening = {"title": "t", "regions": ["test"], "components": ["uploads"],
                       "impact": "minor", "text": "slow"}  # fmt: skip
            before = client.post("/v1/incidents", json=opening, headers=auth)
            assert before.status_code == 403
            data = str(server.settings.data_dir)
            granted = stormproof("operator", "grant", "olga", "--data", data, "--url", server.url)
            assert granted.returncode == 0, granted.stdout + granted.stderr
            after = client.post("/v1/incidents", json=opening, headers=auth)
            assert after.status_code == 201, after.text
    finally:
        server.stop()
