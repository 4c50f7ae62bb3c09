"""The physical timeline of a drill: what happens to which region, and when.

A scenario's faults expand to :class:`Action` s (a grid loss becomes a marker,
then perhaps a cut and a restore). Replaying them in time order puts every
region in a state — powered, on UPS or down; frozen or not; partitioned or not.
The replay refuses an action that cannot happen in the state the earlier ones
left (restoring a region that is up), and yields the :class:`Interval` s a plot
shades.

The replay's rules:

* a power cut ends a freeze (SIGKILL ends stopped processes too; the region
  comes back running), but not a partition (that is the network's state);
* a frozen or down region cannot be frozen again; a down one cannot be cut;
* from a grid loss until its episode ends (the generator starts, the generator
  fails and the UPS runs out, or a late generator brings the power back) the
  region's power is that grid loss's: no other power fault may touch it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Action", "ActionKind", "Interval", "IntervalKind", "check", "intervals", "quorum_lost"]

ActionKind = Literal[
    "power_cut",
    "power_restore",
    "freeze",
    "thaw",
    "partition",
    "heal",
    "wan",
    "grid_loss",  # a marker: the UPS carries the load, nothing physical happens
    "generator_start",  # a marker: the generator took over, no cut
]
#: ``on_ups``: between a grid loss and its cut or its generator starting
IntervalKind = Literal["down", "frozen", "partitioned", "on_ups"]


@dataclass(frozen=True, kw_only=True)
class Action:
    """One thing the runner does (or, for a marker, notes) at ``at_s``."""

    at_s: float
    kind: ActionKind
    region: str | None = None
    #: a power restore only: the region comes back with empty disks
    disks_lost: bool = False
    #: a wan change only: the pair and its new round-trip time
    between: tuple[str, str] | None = None
    rtt_ms: float | None = None
    #: the index of the fault it comes from in ``Scenario.fault`` (from 0)
    fault: int
    #: a short text for people: "us-east: power cut (generator failed)"
    label: str


@dataclass(frozen=True)
class Interval:
    start_s: float
    end_s: float
    region: str
    kind: IntervalKind
    label: str


_LABELS: dict[IntervalKind, str] = {
    "down": "down",
    "frozen": "frozen",
    "partitioned": "partitioned",
    "on_ups": "on UPS",
}


class _Replay:
    """Every region's state after the actions applied so far."""

    def __init__(self, actions: Sequence[Action]) -> None:
        #: each fault's last action: the end of a grid loss's episode
        self.last = {action.fault: action for action in actions}
        self.down: set[str] = set()
        #: region -> the fault whose grid loss holds its power
        self.governed: dict[str, int] = {}
        #: (region, kind) -> when the interval began
        self.open: dict[tuple[str, IntervalKind], float] = {}
        self.closed: list[Interval] = []

    def apply(self, action: Action) -> str | None:
        """Apply ``action``, or say why it cannot happen (nothing applied)."""
        region, t = action.region, action.at_s
        if region is None:  # a wan change: no region's state
            return None
        owner = self.governed.get(region, action.fault)
        if action.kind in ("grid_loss", "power_cut", "power_restore") and owner != action.fault:
            return (
                f"{region} is on the power of fault {owner + 1} (its grid loss) at {t:g} s: "
                "no other power fault may touch it until that one is over"
            )
        match action.kind:
            case "grid_loss":
                if region in self.down:
                    return f"{region} is down at {t:g} s: it has no grid to lose"
                self.governed[region] = action.fault
                self._begin(region, "on_ups", t)
            case "generator_start":
                self._end(region, "on_ups", t)
            case "power_cut":
                if region in self.down:
                    return f"{region} is already down at {t:g} s"
                self.down.add(region)
                self._end(region, "on_ups", t)
                self._end(region, "frozen", t)
                self._begin(region, "down", t)
            case "power_restore":
                if region not in self.down:
                    return f"{region} is not down at {t:g} s: there is nothing to restore"
                self.down.discard(region)
                self._end(region, "down", t)
            case "freeze" | "partition":
                kind: IntervalKind = "frozen" if action.kind == "freeze" else "partitioned"
                if action.kind == "freeze" and region in self.down:
                    return f"{region} is down at {t:g} s: there is nothing to freeze"
                if (region, kind) in self.open:
                    return f"{region} is already {kind} at {t:g} s"
                self._begin(region, kind, t)
            case "thaw" | "heal":
                kind = "frozen" if action.kind == "thaw" else "partitioned"
                if (region, kind) not in self.open:
                    return f"{region} is not {kind} at {t:g} s: there is nothing to {action.kind}"
                self._end(region, kind, t)
        if self.governed.get(region) == action.fault and action is self.last[action.fault]:
            del self.governed[region]
        return None

    def finish(self, end_s: float) -> list[Interval]:
        """Every interval, those still open ending at ``end_s``, by start."""
        for region, kind in list(self.open):
            self._end(region, kind, end_s)
        return sorted(self.closed, key=lambda i: (i.start_s, i.end_s))

    def _begin(self, region: str, kind: IntervalKind, t: float) -> None:
        self.open[region, kind] = t

    def _end(self, region: str, kind: IntervalKind, t: float) -> None:
        start = self.open.pop((region, kind), None)
        if start is not None and t > start:
            self.closed.append(Interval(start, t, region, kind, f"{region}: {_LABELS[kind]}"))


def check(actions: Sequence[Action]) -> tuple[Action, str] | None:
    """The first action (in the given time order) that cannot happen in the
    state the earlier ones left, and why; ``None`` if every one can."""
    replay = _Replay(actions)
    for action in actions:
        reason = replay.apply(action)
        if reason is not None:
            return action, reason
    return None


def intervals(actions: Sequence[Action], end_s: float) -> list[Interval]:
    """The fault intervals of a valid timeline, by start: down (cut to restore
    or end), frozen (freeze to thaw, cut or end), partitioned (partition to heal
    or end), on UPS (grid loss to cut or generator start). Empty ones are left
    out: there is nothing to shade."""
    replay = _Replay(actions)
    for action in actions:
        reason = replay.apply(action)
        assert reason is None, reason
    return replay.finish(end_s)


def quorum_lost(spans: Sequence[Interval], regions: int) -> bool:
    """Whether at some moment fewer than a majority of ``regions`` are healthy:
    the others down, frozen or partitioned (for 3 regions: 2 at once)."""
    impaired = [i for i in spans if i.kind != "on_ups"]
    majority = regions // 2 + 1
    for moment in (i.start_s for i in impaired):
        hit = {i.region for i in impaired if i.start_s <= moment < i.end_s}
        if regions - len(hit) < majority:
            return True
    return False
