"""What a component's state is, from the verdicts of its last rounds — pure
functions, with the flap guard (ADR 020).

The states are Atlassian Statuspage's. For one component of one region,
from its verdicts in round order (rounds where nobody checked it do not
count; :mod:`stormproof.views.status` says how a round is judged):

- a *run* is a stretch of consecutive verdicts that all fail or all pass;
- the **guard** is set (down) by a run of ``fail_rounds`` failing verdicts
  and cleared by a run of ``pass_rounds`` passing ones; shorter runs leave
  it as it was. Before any verdict it is clear. So it is the kind of the
  latest run long enough to count (a run of passes from the very first
  verdict on counts, however short: nothing was ever wrong);
- **major_outage** while the guard is set, since the first failing round of
  the run that set it;
- **operational** when it is clear and the latest run is one that cleared
  it (the last ``pass_rounds`` verdicts passed), since that run's first round;
- **degraded_performance** otherwise — it is clear, but a round failed
  since it last cleared: failing, not yet long enough to be down, or
  flapping — since the first failing round after the run that cleared it.

With the defaults (3 and 2): one or two failing rounds are degraded, three
are a major outage; after it, one passing round is not enough, two are (and
read operational at once); a single failure among passes reads degraded for
two rounds. Flapping for good (fail, pass, fail…) reads degraded, steadily.

Across regions, a component is in a **major_outage** when it is down in
every region judged, a **partial_outage** when down in some, else
**degraded_performance** when degraded in some, else operational (worst-of).
The platform's state is the worst of its components'. ``under_maintenance``
is a state maintenance windows will set (a later slice); it ranks just
above operational.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["STATES", "Assessed", "Run", "State", "across_regions", "in_region", "runs_of", "worst"]

State = Literal[
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"
]
#: every state, the least severe first
STATES: tuple[State, ...] = get_args(State)
_SEVERITY = {state: n for n, state in enumerate(STATES)}


@dataclass(frozen=True)
class Run:
    """Consecutive verdicts of one kind."""

    failing: bool
    #: how many (at least: a count may stop once it is past what the guard needs)
    rounds: int
    #: the round the run began
    first_at: int
    #: no verdict came before it: the component's first rounds
    from_start: bool = False


@dataclass(frozen=True)
class Assessed:
    state: State
    #: the round since which it is in that state (unix ms); None: never judged
    since: int | None


def runs_of(verdicts: Sequence[tuple[int, bool]]) -> list[Run]:
    """Runs of (round_at, failing) verdicts given newest first, newest first."""
    runs: list[Run] = []
    for at, failing in verdicts:
        if runs and runs[-1].failing == failing:
            runs[-1] = Run(failing, runs[-1].rounds + 1, at)
        else:
            runs.append(Run(failing, 1, at))
    return runs


def in_region(runs: Sequence[Run], *, fail_rounds: int, pass_rounds: int) -> Assessed:
    """The state of one component of one region from its runs, newest first
    (see the module's docstring). The oldest run given stands for everything
    before it: give it its whole length (or enough of it) and its first round."""
    for n, run in enumerate(runs):
        if run.failing and run.rounds >= fail_rounds:
            return Assessed("major_outage", run.first_at)
        if not run.failing and (run.rounds >= pass_rounds or run.from_start):
            if n == 0:
                return Assessed("operational", run.first_at)
            return Assessed("degraded_performance", runs[n - 1].first_at)
    if not runs:
        return Assessed("operational", None)
    # No run given was long enough to count: failing since the oldest failure given.
    failures = [run for run in runs if run.failing] or list(runs)
    return Assessed("degraded_performance", failures[-1].first_at)


def across_regions(states: Sequence[Assessed]) -> Assessed:
    """A component's state over its regions: all down is a major outage,
    some down a partial one; otherwise the worst. ``since`` is when it began:
    the last region to go down for a major outage, the first for a partial
    one or a degradation, the last to come back when operational."""
    judged = [s for s in states if s.since is not None]
    if not judged:
        return Assessed("operational", None)
    down = [s.since for s in judged if s.state == "major_outage" and s.since is not None]
    if len(down) == len(judged):
        return Assessed("major_outage", max(down))
    if down:
        return Assessed("partial_outage", min(down))
    state = worst(s.state for s in judged)
    matching = [s.since for s in judged if s.state == state and s.since is not None]
    return Assessed(state, max(matching) if state == "operational" else min(matching))


def worst(states: Iterable[State]) -> State:
    """The most severe of ``states`` (operational when there are none)."""
    return max(states, key=_SEVERITY.__getitem__, default="operational")
