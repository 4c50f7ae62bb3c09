"""The write clock: wall-clock milliseconds that never go backwards.

Every event's ``at`` comes from here. Views that keep the latest of several
events for one thing (a like and an unlike, a follow and an unfollow) compare
``(at, event id)``, so ``at`` must respect the order a user acted in, also
when their next write lands in another region: a client passes the ``at`` of
its last acknowledged write (``Stormproof-After``), and the clock moves past it.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Clock"]


class Clock:
    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def tick(self, after: int = 0) -> int:
        """A time later than every earlier tick and later than ``after``."""
        with self._lock:
            self._last = max(int(time.time() * 1000), self._last + 1, after + 1)
            return self._last
