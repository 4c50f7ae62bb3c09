"""A region's catch-up as an operator watches it: the phase, what is left,
how fast it goes.

``Region.start()`` replays the log in two phases: the For You engine up to
the views' position (``engine``), then the views up to where the log stood
when the region started (``views``). Each phase names the position it moves
(a sequence per partition, read when asked) and the position it ends at;
:class:`CatchUp` counts what is left and what was applied, and measures the
rate over the last few seconds only — a phase that slows down says so at
once, and the rate of the engine's phase says nothing of the views'.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from stormproof.log import Position

__all__ = ["CatchUp", "CatchUpProgress", "Phase"]

#: ``snapshot``: taking a verified snapshot of a peer's views, when this
#: region's are gone (ADR 017); ``engine``: replaying the log into the For
#: You engine; ``views``: applying it to the views
Phase = Literal["snapshot", "engine", "views"]


@dataclass(frozen=True)
class CatchUpProgress:
    """Where a catch-up stands (``/v1/health``'s ``catch_up``)."""

    phase: Phase
    #: log entries this phase still has to apply, summed over partitions
    remaining: int
    #: log entries applied since the catch-up began, every phase together
    applied: int
    #: entries per second over the last few seconds; None until measured
    per_s: float | None
    #: seconds left at that rate; None while no rate (or a rate of 0) is known
    eta_s: float | None


class CatchUp:
    """Counts a catch-up's progress through its phases. ``clock`` gives
    seconds (monotonic); the rate is measured over ``window_s`` of samples,
    taken on every :meth:`progress` and every half second by :meth:`measure`."""

    def __init__(
        self,
        phase: Phase,
        at: Callable[[], Position],
        target: Position,
        *,
        window_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._earlier = 0  # applied in the phases before this one
        self._samples: deque[tuple[float, int]] = deque()
        self._begin(phase, at, target)

    def enter(self, phase: Phase, at: Callable[[], Position], target: Position) -> None:
        """The next phase begins: ``at()`` says where it stands, ``target`` where it ends."""
        self._earlier = self.applied()
        self._begin(phase, at, target)

    def _begin(self, phase: Phase, at: Callable[[], Position], target: Position) -> None:
        self.phase, self._at, self._target = phase, at, target
        self._start = at()
        self._samples.clear()  # the last phase's pace says nothing of this one
        self.sample()

    def remaining(self) -> int:
        return sum(max(0, top - seq) for seq, top in zip(self._at(), self._target, strict=True))

    def applied(self) -> int:
        moved = zip(self._at(), self._start, strict=True)
        return self._earlier + sum(max(0, seq - first) for seq, first in moved)

    def sample(self) -> None:
        """Note how much was applied by now; forget what is older than the window."""
        now = self._clock()
        self._samples.append((now, self.applied()))
        while self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def progress(self) -> CatchUpProgress:
        self.sample()
        (first, done_then), (last, done) = self._samples[0], self._samples[-1]
        per_s = round((done - done_then) / (last - first), 1) if last > first else None
        remaining = self.remaining()
        eta_s = round(remaining / per_s, 1) if per_s else None
        return CatchUpProgress(self.phase, remaining, done, per_s, eta_s)

    async def measure(self, every: float = 0.5) -> None:
        """Sample every ``every`` seconds until cancelled, so that an operator
        who asks once (``cluster status``) still gets a rate."""
        while True:
            await asyncio.sleep(every)
            self.sample()
