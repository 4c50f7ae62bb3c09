"""Rate limits over real HTTP: 429 ``rate_limited`` with ``Retry-After``,
and the buckets behind them stay bounded in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stormproof.api.limits import Buckets
from stormproof.errors import TooManyRequests
from tests.conftest import PASSWORD, LiveServer, health, make_settings, sign_up


def limited(response: httpx.Response) -> bool:
    return (
        response.status_code == 429
        and response.json()["code"] == "rate_limited"
        and int(response.headers["Retry-After"]) >= 1
    )


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[httpx.Client]:
    settings = make_settings(
        tmp_path / "region",
        login_failures_per_account=3,
        logins_per_address=8,
        signups_per_address=4,
        writes_per_s=0.01,
        writes_burst=3,
    )
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            yield client
    finally:
        live.stop()


def test_failed_log_ins_lock_the_account_even_for_the_right_password(
    strict: httpx.Client,
) -> None:
    sign_up(strict, "ann")  # one log-in from this address
    wrong = {"username": "ann", "password": "not the password"}
    for _ in range(3):
        assert strict.post("/v1/sessions", json=wrong).status_code == 401
    locked = strict.post("/v1/sessions", json={"username": "ann", "password": PASSWORD})
    assert limited(locked)
    assert locked.json()["retry_after"] == int(locked.headers["Retry-After"])


def test_log_ins_from_one_address_are_limited(strict: httpx.Client) -> None:
    for n in range(8):  # unknown names: each its own account bucket
        response = strict.post("/v1/sessions", json={"username": f"x{n}", "password": "p"})
        assert response.status_code == 401
    assert limited(strict.post("/v1/sessions", json={"username": "x9", "password": "p"}))


def test_sign_up_flood_from_one_address_is_refused(strict: httpx.Client) -> None:
    answers = [
        strict.post("/v1/accounts", json={"username": f"bot{n}", "password": PASSWORD})
        for n in range(6)
    ]
    assert [a.status_code for a in answers[:4]] == [201] * 4
    assert all(limited(a) for a in answers[4:])
    assert health(strict)["log_seq"] == 4


def test_write_flood_from_one_person_is_refused(strict: httpx.Client) -> None:
    auth = sign_up(strict, "ben")
    sign_up(strict, "cat")
    answers = [strict.post("/v1/follows/cat", headers=auth) for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [201] * 3
    assert all(limited(a) for a in answers[3:])
    assert strict.get("/v1/feed/following", headers=auth).status_code == 200  # reads go on


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buckets_refill_and_say_when() -> None:
    clock = FakeClock()
    buckets = Buckets(2, 0.5, max_keys=10, clock=clock)
    assert buckets.take("k") == buckets.take("k") == 0
    assert buckets.take("k") == pytest.approx(2.0)
    with pytest.raises(TooManyRequests) as refused:
        buckets.check("k", take=True, why="slow down")
    assert refused.value.detail["retry_after"] == 2
    clock.now = 2.0
    assert buckets.take("k") == 0


def test_buckets_forget_idle_keys_and_stay_under_the_cap() -> None:
    clock = FakeClock()
    buckets = Buckets(1, 1.0, max_keys=100, clock=clock)
    for n in range(1000):  # more keys than the cap: the oldest go
        buckets.charge(f"k{n}")
    assert len(buckets) == 100
    clock.now = 10.0  # every bucket is full again: the same as none
    for n in range(60):
        buckets.charge(f"new{n}")
    assert len(buckets) < 100
