"""The write clock: wall-clock milliseconds that never go backwards.

Every event's ``at`` comes from here. Views that keep the latest of several
events for one thing (a like and an unlike, a follow and an unfollow) compare
``(at, event id)``, so ``at`` must respect the order a user acted in, also
when their next write lands in another region: a client passes the ``at`` of
its last acknowledged write (``Stormproof-After``), and the clock moves past it.

The clock is shared by every request of a region, so no caller may move it
far: a time the client names is accepted only up to ``max_ahead_ms`` past the
wall clock (:data:`MAX_AHEAD_MS` by default). Otherwise one request stamped a
century ahead would make every later write, and every session's expiry, happen
a century ahead.
"""

from __future__ import annotations

import threading
import time

from stormproof.errors import Unprocessable

__all__ = ["MAX_AHEAD_MS", "MAX_BEHIND_MS", "Clock", "ClockSkew", "now_ms"]

#: how far a client's time may run ahead of the server's
MAX_AHEAD_MS = 60_000
#: how far a client's write time may lag behind (a retry long after the first try)
MAX_BEHIND_MS = 24 * 3600 * 1000


class ClockSkew(Unprocessable):
    code = "clock_skew"


def now_ms() -> int:
    return int(time.time() * 1000)


class Clock:
    def __init__(self, max_ahead_ms: int = MAX_AHEAD_MS) -> None:
        self.max_ahead_ms = max_ahead_ms
        self._last = 0
        self._lock = threading.Lock()

    def check(self, client_ms: int, *, what: str) -> int:
        """``client_ms`` if it is no further ahead of the wall clock than allowed."""
        if client_ms > now_ms() + self.max_ahead_ms:
            raise ClockSkew(f"{what} is too far ahead of the server's clock")
        return client_ms

    def tick(self, after: int = 0) -> int:
        """A time later than every earlier tick and later than ``after``;
        ``after`` may not lie further ahead than ``max_ahead_ms``."""
        self.check(after + 1, what="Stormproof-After")
        with self._lock:
            self._last = max(now_ms(), self._last + 1, after + 1)
            return self._last
