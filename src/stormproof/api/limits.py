"""Rate limits: token buckets in this region's memory (ADR 012).

Each limit is a set of token buckets by key — a username, a client address,
a person. A bucket holds up to ``capacity`` tokens and refills at ``rate``
per second; an attempt takes one, and an empty bucket answers 429
``rate_limited`` with ``Retry-After``.

Nothing here is replicated: a failed log-in is not worth an event in the
log. A client that fails over to another region starts with full buckets
there, so it gets at most the limit times the number of regions — still
bounded. Memory is bounded too: a bucket that has refilled is the same as no
bucket and is forgotten, and past ``max_keys`` the least recently used key
is dropped (which only forgives it).

The client address is the TCP peer (``request.client.host``). Behind a
reverse proxy that is the proxy: a trusted-proxy setting that reads
``X-Forwarded-For`` would be needed first, and is not built.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from stormproof.errors import StormproofError, TooManyRequests
from stormproof.settings import Settings

__all__ = ["Buckets", "Limits", "RateLimits", "client_address", "limits_of"]

#: methods that read: every other one is a write for the per-person limit
READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the errors that mean "wrong password": each one costs the account a token
WRONG_PASSWORD = frozenset({"invalid_credentials", "wrong_password"})
#: idle keys looked at per access, so forgetting them costs O(1) each time
_SWEEP = 2


class Buckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``rate`` per second."""

    def __init__(
        self,
        capacity: float,
        rate: float,
        *,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now). Takes nothing."""
        return max(0.0, (1 - self._level(key, self.clock())) / self.rate)

    def take(self, key: str) -> float:
        """Take a token if there is one and return 0; else take nothing and
        return the seconds until there is one."""
        now = self.clock()
        level = self._level(key, now)
        if level < 1:
            return (1 - level) / self.rate
        self._store(key, level - 1, now)
        return 0.0

    def charge(self, key: str) -> None:
        """Take a token whether or not there is one (the bucket stays at or above 0)."""
        now = self.clock()
        self._store(key, max(0.0, self._level(key, now) - 1), now)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        for _ in range(_SWEEP):  # the least recently used keys: forget them once full
            oldest = next(iter(self._buckets))
            if oldest == key or self._level(oldest, now) < self.capacity:
                break
            del self._buckets[oldest]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def check(self, key: str, *, take: bool, why: str) -> None:
        """Raise 429 when ``key`` has no token; take one if ``take``."""
        seconds = self.take(key) if take else self.wait(key)
        if seconds > 0:
            retry_after = max(1, math.ceil(seconds))
            raise TooManyRequests(
                f"{why}; try again in {retry_after} s",
                code="rate_limited",
                retry_after=retry_after,
            )


@dataclass(frozen=True)
class RateLimits:
    """Every limit of one region's API."""

    #: failed password checks per username (unknown names too: a 429 must not
    #: tell which exist)
    login_failures: Buckets
    #: log-in attempts per client address
    logins: Buckets
    #: sign-up attempts per client address
    signups: Buckets
    #: writes per person
    writes: Buckets

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        def per_window(count: int, window_s: float) -> Buckets:
            keys = settings.rate_limit_keys
            return Buckets(count, count / window_s, max_keys=keys, clock=clock)

        return cls(
            login_failures=per_window(
                settings.login_failures_per_account, settings.login_failures_window_s
            ),
            logins=per_window(settings.logins_per_address, settings.logins_window_s),
            signups=per_window(settings.signups_per_address, settings.signups_window_s),
            writes=Buckets(
                settings.writes_burst,
                settings.writes_per_s,
                max_keys=settings.rate_limit_keys,
                clock=clock,
            ),
        )

    @contextmanager
    def password_attempt(self, username: str) -> Iterator[None]:
        """Around a password check for ``username``: refused while the name
        is locked (even with the right password), and a wrong password costs a token."""
        name = username.lower()
        self.login_failures.check(name, take=False, why="too many wrong passwords for this account")
        try:
            yield
        except StormproofError as exc:
            if exc.code in WRONG_PASSWORD:
                self.login_failures.charge(name)
            raise

    def check_write(self, method: str, user_id: str) -> None:
        if method not in READS:
            self.writes.check(user_id, take=True, why="too many writes")


def client_address(request: Request) -> str:
    """The peer's address (see the module docstring about proxies)."""
    return request.client.host if request.client else ""


def limits_of(request: Request) -> RateLimits:
    """This region's limits (``create_app`` keeps them in the app's state)."""
    limits: RateLimits = request.app.state.limits
    return limits


Limits = Annotated[RateLimits, Depends(limits_of)]
