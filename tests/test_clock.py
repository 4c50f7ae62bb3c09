"""The write clock never goes backwards, and no client can move it far ahead
(finding 1 of issue 9: one header a century ahead moved every later write)."""

from __future__ import annotations

import time

import httpx
import pytest

from stormproof.clock import MAX_AHEAD_MS, Clock, ClockSkew, now_ms
from tests.conftest import PASSWORD, health, sign_up

CENTURY_MS = 100 * 365 * 24 * 3600 * 1000


def test_ticks_grow_and_follow_a_recent_after() -> None:
    clock = Clock()
    first = clock.tick()
    assert clock.tick() > first
    soon = now_ms() + 5_000
    assert clock.tick(after=soon) == soon + 1


def test_the_clock_refuses_an_after_past_the_allowed_skew() -> None:
    clock = Clock(max_ahead_ms=1_000)
    with pytest.raises(ClockSkew):
        clock.tick(after=now_ms() + 10_000)
    assert clock.tick() < now_ms() + 1_000


def _at(response: httpx.Response) -> int:
    assert response.status_code in (200, 201), response.text
    return int(response.headers["Stormproof-At"])


def test_stormproof_after_a_century_ahead_is_refused_and_moves_nothing(
    client: httpx.Client,
) -> None:
    auth = sign_up(client, "clocky")
    ahead = client.post(
        "/v1/feed/for-you/reset",
        headers={**auth, "Stormproof-After": str(now_ms() + CENTURY_MS)},
    )
    assert ahead.status_code == 422 and ahead.json()["code"] == "clock_skew"
    later = _at(client.post("/v1/feed/for-you/reset", headers=auth))
    assert later <= now_ms() + MAX_AHEAD_MS
    # Sessions did not jump a century either.
    session = client.post("/v1/sessions", json={"username": "clocky", "password": PASSWORD})
    assert session.json()["expires_at"] < now_ms() + 365 * 24 * 3600 * 1000


def test_stormproof_after_at_int64_max_on_a_sign_up_stores_nothing(
    client: httpx.Client,
) -> None:
    refused = client.post(
        "/v1/accounts",
        json={"username": "poison", "password": PASSWORD},
        headers={"Stormproof-After": str(2**63 - 1)},
    )
    assert refused.status_code == 422, refused.text
    details = health(client)
    assert details["ready"] and details["log_seq"] == 0


def test_write_at_bound_cannot_be_bypassed_through_after(client: httpx.Client) -> None:
    auth = sign_up(client, "bypass")
    now = now_ms()
    refused = client.post(
        "/v1/feed/for-you/reset",
        headers={
            **auth,
            "Stormproof-Write-At": str(now),
            "Stormproof-After": str(now + 10 * MAX_AHEAD_MS),
        },
    )
    assert refused.status_code == 422 and refused.json()["code"] == "clock_skew"
    within = client.post(
        "/v1/feed/for-you/reset",
        headers={**auth, "Stormproof-Write-At": str(now), "Stormproof-After": str(now + 1000)},
    )
    assert _at(within) == now + 1001


def test_a_write_at_more_than_a_day_old_is_refused(client: httpx.Client) -> None:
    auth = sign_up(client, "laggard")
    old = int(time.time() * 1000) - 2 * 24 * 3600 * 1000
    refused = client.post(
        "/v1/feed/for-you/reset", headers={**auth, "Stormproof-Write-At": str(old)}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "clock_skew"
