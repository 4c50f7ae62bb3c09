"""A system account (a region's prober, ADR 020) signs in and acts through
the public API like a person, and nothing it does shows: in no count, in no
one's For You, in no follower list."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from stormproof.events import AccountCreated, new_event
from stormproof.log.sqlite import SqliteLog
from stormproof.passwords import passwords_for
from stormproof.settings import Settings
from tests.conftest import PASSWORD, sign_up, upload


def _system_account(settings: Settings, client: httpx.Client, username: str) -> dict[str, str]:
    """Create a system account as a region's prober will (an event of its
    own region, not a public sign-up), log in through the API, and return
    the Authorization header."""
    hasher = passwords_for(settings.password_cost, settings.password_time_cost)
    created = AccountCreated(
        user_id=f"sys_{username}",
        username=username,
        password_hash=hasher.hash(PASSWORD, b"0123456789abcdef"),
        system=True,
    )

    async def append() -> int:
        log = SqliteLog(settings.log_path)
        try:
            return (await log.append(f"signup:{username}", new_event(created, actor=""))).seq
        finally:
            await log.close()

    seq = asyncio.run(append())
    profile = client.get(f"/v1/accounts/{username}", params={"min_seq": seq})
    assert profile.status_code == 200, profile.text
    session = client.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert session.status_code == 201, session.text
    assert session.json()["user_id"] == f"sys_{username}"
    return {"Authorization": f"Bearer {session.json()['token']}"}


def _act(client: httpx.Client, auth: dict[str, str], *events: dict[str, object]) -> None:
    answer = client.post("/v1/events", json={"events": list(events)}, headers=auth)
    assert answer.status_code == 202, answer.text


def test_what_a_system_account_does_counts_nowhere_and_a_persons_does(
    settings: Settings, client: httpx.Client, video_file: Path
) -> None:
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    probe = _system_account(settings, client, "probe_east")
    liked = upload(client, ann, video_file, "liked").json()["id"]
    other = upload(client, ann, video_file, "other").json()["id"]
    probes_own = upload(client, probe, video_file, "a probe's clip")
    assert probes_own.status_code == 201, probes_own.text
    probes_own_id = probes_own.json()["id"]

    everything = [
        {"type": "watch", "video_id": liked, "watched_ms": 2000, "completed": True},
        {"type": "like", "video_id": liked},
        {"type": "share", "video_id": liked},
    ]
    _act(client, probe, *everything)
    _act(client, probe, {"type": "watch", "video_id": probes_own_id, "watched_ms": 900})
    assert client.post("/v1/follows/ann", headers=probe).status_code == 201
    nobody = {"views": 0, "likes": 0, "comments": 0, "shares": 0, "completions": 0}
    assert client.get(f"/v1/videos/{liked}").json()["counts"] == nobody
    assert client.get("/v1/accounts/ann").json()["followers"] == 0
    assert client.get("/v1/accounts/probe_east").json()["following"] == 0
    assert client.get("/v1/account/history", headers=probe).json()["items"] == []

    _act(client, bob, *everything)
    assert client.post("/v1/follows/ann", headers=bob).status_code == 201
    once = {"views": 1, "likes": 1, "comments": 0, "shares": 1, "completions": 1}
    assert client.get(f"/v1/videos/{liked}").json()["counts"] == once
    assert client.get("/v1/accounts/ann").json()["followers"] == 1
    assert len(client.get("/v1/account/history", headers=bob).json()["items"]) == 1

    # Nobody follows a system account, and its clip is nobody's For You.
    refused = client.post("/v1/follows/probe_east", headers=bob)
    assert (refused.status_code, refused.json()["code"]) == (422, "cannot_follow_system")
    cat = sign_up(client, "cat")
    for viewer in (ann, bob, cat):
        page = client.get("/v1/feed/for-you", params={"limit": 50}, headers=viewer).json()
        assert probes_own_id not in {item["video"]["id"] for item in page["items"]}
    cats = client.get("/v1/feed/for-you", params={"limit": 50}, headers=cat).json()
    assert {item["video"]["id"] for item in cats["items"]} == {liked, other}
