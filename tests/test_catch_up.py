"""A catch-up's progress: what is left per phase, what was applied in all,
and the rate over the last few seconds only (a clock the test turns)."""

from __future__ import annotations

from stormproof.catch_up import CatchUp, CatchUpProgress
from stormproof.log import Position


class Turned:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_remaining_and_applied_through_both_phases() -> None:
    clock = Turned()
    engine: Position = (10, 0)
    views: Position = (40, 5)
    progress = CatchUp("engine", lambda: engine, (40, 5), clock=clock)
    assert progress.progress() == CatchUpProgress("engine", 35, 0, None, None)

    clock.now += 1
    engine = (30, 5)
    assert progress.progress() == CatchUpProgress("engine", 10, 25, 25.0, 0.4)

    progress.enter("views", lambda: views, (100, 25))
    assert progress.progress() == CatchUpProgress("views", 80, 25, None, None)  # a new pace
    clock.now += 2
    views = (60, 25)
    assert progress.progress() == CatchUpProgress("views", 40, 65, 20.0, 2.0)


def test_the_rate_is_the_last_few_seconds_and_a_stall_has_no_eta() -> None:
    clock = Turned()
    seq = 0
    progress = CatchUp("views", lambda: (seq,), (100_000,), window_s=5.0, clock=clock)
    for _ in range(10):  # fast at first: 1000 a second
        clock.now += 1
        seq += 1000
        progress.sample()
    assert progress.progress().per_s == 1000.0
    for _ in range(3):  # then 100 a second: the window still holds some of the fast part
        clock.now += 1
        seq += 100
        progress.sample()
    assert progress.progress().per_s == (2 * 1000 + 3 * 100) / 5
    for _ in range(5):  # the fast part has left the window
        clock.now += 1
        seq += 100
        progress.sample()
    assert progress.progress().per_s == 100.0
    for _ in range(6):  # stalled
        clock.now += 1
        progress.sample()
    stalled = progress.progress()
    assert (stalled.per_s, stalled.eta_s, stalled.remaining) == (0.0, None, 100_000 - seq)
