"""The replay of a timeline: states, intervals, quorum."""

from __future__ import annotations

from stormproof.drill.timeline import Action, Interval, check, intervals, quorum_lost


def act(at_s: float, kind: str, region: str, fault: int = 0) -> Action:
    return Action(at_s=at_s, kind=kind, region=region, fault=fault, label="")  # type: ignore[arg-type]


def test_a_freeze_ends_with_a_cut_and_a_thaw_then_has_nothing_to_do() -> None:
    actions = [act(1, "freeze", "a"), act(2, "power_cut", "a", 1), act(3, "thaw", "a", 2)]
    assert check(actions) == (actions[2], "a is not frozen at 3 s: there is nothing to thaw")
    assert intervals(actions[:2], 10) == [
        Interval(1, 2, "a", "frozen", "a: frozen"),
        Interval(2, 10, "a", "down", "a: down"),
    ]


def test_a_partition_outlives_a_cut() -> None:
    actions = [act(1, "partition", "a"), act(2, "power_cut", "a", 1), act(3, "heal", "a", 2)]
    assert check(actions) is None


def test_quorum_needs_a_majority_healthy() -> None:
    def span(region: str, start: float, end: float, kind: str = "down") -> Interval:
        return Interval(start, end, region, kind, "")  # type: ignore[arg-type]

    two_apart = [span("a", 0, 5), span("b", 5, 9)]  # never at once
    assert not quorum_lost(two_apart, 3)
    assert quorum_lost([span("a", 0, 5), span("b", 4, 9, "partitioned")], 3)
    assert not quorum_lost([span("a", 0, 5), span("b", 0, 5, "on_ups")], 3)  # UPS still runs
    assert not quorum_lost([span("a", 0, 5), span("b", 0, 5)], 5)
    assert quorum_lost([span("a", 0, 5), span("b", 0, 5), span("c", 2, 3, "frozen")], 5)
    assert quorum_lost([span("a", 0, 5)], 2)  # one of two is no majority
