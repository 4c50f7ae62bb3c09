"""What the drill's people experienced, second by second and per kind.

:func:`aggregate` turns the drill's :class:`~stormproof.drill.ops.Op` records
into a :class:`Series`: for each whole second ``t`` of the drill (the ops whose
time falls in ``[t, t + 1)``) and each kind of operation, how many were
attempted (counted by the second they started in), how many came out ok,
failed or unknown (counted by the second they ended in), and the p50 / p99
latency of those that ended then. Ops outside ``[0, duration)`` are left out
of the seconds but kept in the totals; a ``pending`` op counts as attempted
and nothing else.

Latencies are those of every op that ended — ok, failed or unknown alike: a
person waits as long for an error as for an answer. Percentiles are
nearest-rank (the smallest latency with at least p % of them at or below
it), so each is a latency someone actually had.

:func:`kpi` is the user-facing measure of a drill in the manner of Netflix's
ChAP: successful actions per second while the faults hold, over the same in
the steady window before them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stormproof.drill.ops import KINDS, Op

__all__ = ["KindSeries", "KindTotals", "Series", "aggregate", "kpi", "ops_table", "percentile"]


@dataclass(frozen=True)
class KindSeries:
    """One kind's counts and latencies, one entry per second."""

    attempted: list[int]
    ok: list[int]
    failed: list[int]
    unknown: list[int]
    #: None in a second when no op of the kind ended in it
    p50_ms: list[float | None]
    p99_ms: list[float | None]

    def success_rate(self) -> list[float | None]:
        """ok over every op that ended, per second; None when none did."""
        return [
            ok / ended if (ended := ok + failed + unknown) else None
            for ok, failed, unknown in zip(self.ok, self.failed, self.unknown, strict=True)
        ]


@dataclass(frozen=True)
class KindTotals:
    """One kind over the whole drill."""

    attempted: int
    ok: int
    failed: int
    unknown: int
    p50_ms: float | None
    p99_ms: float | None
    #: the longest any one person waited to get this kind of operation done:
    #: see :func:`longest_wait`
    longest_wait_s: float


@dataclass(frozen=True)
class Series:
    """A drill's ops, second by second (index ``t`` is second ``[t, t + 1)``)."""

    duration_s: int
    #: every kind of :data:`~stormproof.drill.ops.KINDS` in report order, then
    #: any other kind seen, alphabetically
    kinds: dict[str, KindSeries]
    totals: dict[str, KindTotals]
    #: ops of any kind that ended ok in each second: the user-facing KPI
    successes_per_s: list[int]
    #: those over every op that ended in the second; None when none did
    success_ratio: list[float | None]

    def as_dict(self) -> dict[str, Any]:
        """The per-second series as plain JSON values (totals: :func:`ops_table`)."""
        return {
            "duration_s": self.duration_s,
            "kinds": {kind: asdict(s) for kind, s in self.kinds.items()},
            "successes_per_s": self.successes_per_s,
            "success_ratio": self.success_ratio,
        }


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def longest_wait(ops: Iterable[Op]) -> float:
    """The longest one person waited to get one kind of operation done.

    ``ops`` are one person's ops of one kind. The wait is the longer of

    - the longest single op (``ended - started``, whatever its outcome), and
    - the longest run of attempts that did not succeed (failed or unknown,
      in the order they started) together with the success that ended it:
      from the first attempt's start to the success's end. A run the drill
      ended before any success is counted to the last end among its
      attempts — what we saw, not what the person would have waited.

    Pending ops are left out: they have no end.
    """
    done = sorted((op for op in ops if op.outcome != "pending"), key=lambda op: op.started)
    wait = max((op.latency for op in done), default=0.0)
    run_start: float | None = None
    run_end = 0.0
    for op in done:
        if run_start is None:
            run_start, run_end = op.started, op.ended
        if op.outcome == "ok":
            wait = max(wait, op.ended - run_start)
            run_start = None
        else:
            run_end = max(run_end, op.ended)
    if run_start is not None:
        wait = max(wait, run_end - run_start)
    return max(wait, 0.0)


def aggregate(ops: Sequence[Op], duration_s: float) -> Series:
    """Count ``ops`` per second of a drill of ``duration_s`` seconds and per kind."""
    if duration_s < 0:
        raise ValueError(f"a drill cannot last {duration_s} s")
    n = math.ceil(duration_s)
    kinds = list(KINDS) + sorted({op.kind for op in ops} - set(KINDS))
    counts = {k: {o: [0] * n for o in ("attempted", "ok", "failed", "unknown")} for k in kinds}
    second_latencies = {k: [list[float]() for _ in range(n)] for k in kinds}
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    outcomes: dict[str, Counter[str]] = {k: Counter() for k in kinds}
    by_person: dict[tuple[str, str], list[Op]] = defaultdict(list)
    successes = [0] * n
    ended = [0] * n

    for op in ops:
        by_person[op.kind, op.person].append(op)
        outcomes[op.kind][op.outcome] += 1
        if 0 <= op.started < n:
            counts[op.kind]["attempted"][int(op.started)] += 1
        if op.outcome == "pending":
            continue
        latencies[op.kind].append(op.latency)
        if 0 <= op.ended < n:
            t = int(op.ended)
            counts[op.kind][op.outcome][t] += 1
            second_latencies[op.kind][t].append(op.latency)
            ended[t] += 1
            successes[t] += op.outcome == "ok"

    waits: dict[str, float] = defaultdict(float)
    for (kind, _), theirs in by_person.items():
        waits[kind] = max(waits[kind], longest_wait(theirs))

    series = {
        k: KindSeries(
            **counts[k],
            p50_ms=[_ms(percentile(lat, 50)) for lat in second_latencies[k]],
            p99_ms=[_ms(percentile(lat, 99)) for lat in second_latencies[k]],
        )
        for k in kinds
    }
    totals = {
        k: KindTotals(
            attempted=outcomes[k].total(),
            ok=outcomes[k]["ok"],
            failed=outcomes[k]["failed"],
            unknown=outcomes[k]["unknown"],
            p50_ms=_ms(percentile(latencies[k], 50)),
            p99_ms=_ms(percentile(latencies[k], 99)),
            longest_wait_s=round(waits[k], 3),
        )
        for k in kinds
    }
    return Series(
        duration_s=n,
        kinds=series,
        totals=totals,
        successes_per_s=successes,
        success_ratio=[s / e if e else None for s, e in zip(successes, ended, strict=True)],
    )


def ops_table(series: Series) -> dict[str, dict[str, Any]]:
    """The report's ``ops`` section: each kind's totals, in report order."""
    return {kind: asdict(totals) for kind, totals in series.totals.items()}


def _mean_over(values: Sequence[int], window: tuple[float, float]) -> float | None:
    """The mean of the seconds lying wholly inside ``window``; None if none do."""
    first, last = max(0, math.ceil(window[0])), min(len(values), math.floor(window[1]))
    inside = values[first:last]
    return sum(inside) / len(inside) if inside else None


def kpi(
    series: Series, control: tuple[float, float], fault_window: tuple[float, float]
) -> dict[str, Any]:
    """Successful actions per second in ``fault_window`` against ``control``.

    Both windows are ``(start_s, end_s)``; a window counts the whole seconds
    that lie inside it. ``ratio`` is ``fault_window_per_s / control_per_s``,
    None when either is unknown or the control saw no success. The windows
    themselves come back too (``control_s``, ``fault_window_s``) so the
    report can draw the means where they were measured.
    """
    control_per_s = _mean_over(series.successes_per_s, control)
    fault_per_s = _mean_over(series.successes_per_s, fault_window)
    ratio = fault_per_s / control_per_s if control_per_s and fault_per_s is not None else None
    return {
        "control_per_s": control_per_s,
        "fault_window_per_s": fault_per_s,
        "ratio": ratio,
        "control_s": list(control),
        "fault_window_s": list(fault_window),
    }
