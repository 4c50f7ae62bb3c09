"""States from verdicts: the flap guard, and worst-of across regions."""

from __future__ import annotations

import pytest

from stormproof.status.states import (
    Assessed,
    Run,
    across_regions,
    in_region,
    runs_of,
    worst,
)


def assess(history: str, *, fail_rounds: int = 3, pass_rounds: int = 2) -> Assessed:
    """The state after ``history``, oldest first: 'F' a failing round, 'P' a
    passing one; round n is at n (so ``since`` reads as the round's number)."""
    verdicts = [(at, mark == "F") for at, mark in enumerate(history)]
    runs = runs_of(verdicts[::-1])
    if runs:
        oldest = runs[-1]
        runs[-1] = Run(oldest.failing, oldest.rounds, oldest.first_at, from_start=True)
    return in_region(runs, fail_rounds=fail_rounds, pass_rounds=pass_rounds)


@pytest.mark.parametrize(
    ("history", "state", "since"),
    [
        ("", "operational", None),
        ("P", "operational", 0),
        ("PPPP", "operational", 0),
        # one and two failing rounds open nothing; three do
        ("PPF", "degraded_performance", 2),
        ("PPFF", "degraded_performance", 2),
        ("PPFFF", "major_outage", 2),
        ("FFF", "major_outage", 0),
        ("PPFFFFFF", "major_outage", 2),
        # one passing round does not recover; two do, and read operational at once
        ("PPFFFP", "major_outage", 2),
        ("PPFFFPP", "operational", 5),
        ("PPFFFPFP", "major_outage", 2),
        ("PPFFFPFPP", "operational", 7),
        # after a short failure, operational again once two rounds passed
        ("PPFP", "degraded_performance", 2),
        ("PPFPP", "operational", 3),
        # flapping reads degraded, steadily, from its first failure
        ("PPFPFPFPF", "degraded_performance", 2),
        ("PPFPFPFP", "degraded_performance", 2),
        ("F", "degraded_performance", 0),
        ("FPFP", "degraded_performance", 0),
        ("PF", "degraded_performance", 1),
    ],
)
def test_the_flap_guard(history: str, state: str, since: int | None) -> None:
    assert assess(history) == Assessed(state, since)  # type: ignore[arg-type]


def test_the_guard_follows_its_settings() -> None:
    assert assess("PFF", fail_rounds=2).state == "major_outage"
    assert assess("PFFFP", fail_rounds=2, pass_rounds=1) == Assessed("operational", 4)
    assert assess("PFFFPP", pass_rounds=3).state == "major_outage"


def test_an_oldest_run_counts_with_all_it_held_before_the_window() -> None:
    # The window saw two failing rounds of a run that began long before.
    runs = [Run(False, 1, 90), Run(True, 2 + 1, 50)]
    assert in_region(runs, fail_rounds=3, pass_rounds=2) == Assessed("major_outage", 50)
    # A whole window of passes after a failure long ago: operational since they began.
    assert in_region([Run(False, 2, 40)], fail_rounds=3, pass_rounds=2) == Assessed(
        "operational", 40
    )


def down(since: int) -> Assessed:
    return Assessed("major_outage", since)


@pytest.mark.parametrize(
    ("regions", "overall"),
    [
        ([], Assessed("operational", None)),
        ([Assessed("operational", 1), Assessed("operational", 4)], Assessed("operational", 4)),
        ([Assessed("operational", 1), down(7), down(5)], Assessed("partial_outage", 5)),
        ([down(7), down(5)], Assessed("major_outage", 7)),
        (
            [Assessed("degraded_performance", 8), Assessed("degraded_performance", 6)],
            Assessed("degraded_performance", 6),
        ),
        ([Assessed("degraded_performance", 8), down(9)], Assessed("partial_outage", 9)),
    ],
)
def test_a_component_across_regions(regions: list[Assessed], overall: Assessed) -> None:
    assert across_regions(regions) == overall


def test_the_worst_state_wins() -> None:
    assert worst([]) == "operational"
    assert worst(["operational", "partial_outage", "degraded_performance"]) == "partial_outage"
    assert worst(["under_maintenance", "operational"]) == "under_maintenance"
