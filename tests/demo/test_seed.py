"""The demo, seeded into a fresh region as ``stormproof serve`` does, shows
what For You does: a first page that is personal and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stormproof.actions import accounts
from stormproof.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from stormproof.region import Region
from stormproof.testing import LiveServer
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = make_settings(tmp_path_factory.mktemp("demo") / "region")
    server = LiveServer(settings, on_ready=seed_demo).start(timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def _log_in(client: httpx.Client, username: str) -> dict[str, str]:
    login = client.post("/v1/sessions", json={"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 201, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def test_alices_first_page_is_collaborative_and_ranked(demo: httpx.Client) -> None:
    """Guards issue 10: each demo person had one interaction, so no
    collaborative pick appeared and most of a page tied at one score."""
    page = demo.get("/v1/feed/for-you?explain=1", headers=_log_in(demo, "alice")).json()
    items = page["items"]
    assert len(items) == 10
    explained = [item["explain"] for item in items]
    collaborative = [e for e in explained if "collaborative" in e["sources"]]
    assert collaborative, [e["sources"] for e in explained]
    assert all(e["because_of"] for e in collaborative)
    scores = [e["score"] for e in explained]
    assert len(set(scores)) == len(scores), scores
    # Personal: alice likes cooking and cats, and the top of her page shows it.
    top = [item["video"]["caption"] for item in items[:3]]
    assert all("#cooking" in c or "#cats" in c for c in top), top


def test_every_demo_person_has_a_history(demo: httpx.Client) -> None:
    for username in DEMO_USERS[:5]:
        auth = _log_in(demo, username)
        history = demo.get("/v1/account/history", headers=auth)
        assert history.status_code == 200, history.text
        assert len(history.json()["items"]) >= 5, username
    assert demo.get("/v1/conversations", headers=_log_in(demo, "alice")).json()


async def test_only_an_empty_log_is_seeded(tmp_path: Path) -> None:
    """A restart of ``serve`` keeps what its data folder holds."""
    region = Region.open(make_settings(tmp_path / "region"))
    await region.start()
    await region.caught_up()
    try:
        await accounts.sign_up(region, "someone", "password1", idempotency_key="k")
        before = await region.log.last_seqs()
        assert await seed_demo(region) is None
        assert await region.log.last_seqs() == before
    finally:
        await region.close()
