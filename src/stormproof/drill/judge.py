"""Judging a drill: the control and fault windows, For You continuity, and
the verdict — pure functions of what the run recorded, tested without a
cluster (``tests/drill/test_judge.py``)."""

from __future__ import annotations

from typing import Any

from stormproof.drill.ops import Op
from stormproof.drill.people import Recorder
from stormproof.drill.scenario import Scenario

__all__ = [
    "CONTINUITY_BAR",
    "KPI_TARGET",
    "continuity",
    "last_second",
    "mean_relevance",
    "verdict",
    "windows",
]

#: For You continuity below this breaks the promise ("my For You reset")
CONTINUITY_BAR = 0.9
#: the KPI ratio the scenarios without quorum loss are held to
KPI_TARGET = 0.95


def last_second(ops: list[Op], now: float) -> dict[str, tuple[int, int, float]]:
    """Per kind, the ops that ended in the last second: (ok, ended, p99 ms)."""
    out: dict[str, list[Op]] = {}
    for op in reversed(ops[-5000:]):
        if op.outcome != "pending" and now - 1.0 <= op.ended <= now:
            out.setdefault(op.kind, []).append(op)
    stats = {}
    for kind, done in out.items():
        latencies = sorted(op.latency for op in done)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
        stats[kind] = (sum(op.outcome == "ok" for op in done), len(done), p99)
    return stats


def _overlap(a: list[str], b: list[str], k: int = 20) -> float:
    return len(set(a[:k]) & set(b[:k])) / k


def continuity(
    before: dict[str, list[str]], after: dict[str, list[str]], samples: dict[str, tuple[str, ...]]
) -> dict[str, Any]:
    """overlap@20 of each sample's page before and after the blow, and of the
    pages before against a newcomer's (the cold-start contrast)."""
    both = [name for name in samples if name in before and name in after]
    cold = before.get("newcomer") or after.get("newcomer") or []
    if not both:
        return {"samples": 0}
    kept = [_overlap(before[n], after[n]) for n in both]
    contrast = [_overlap(before[n], cold) for n in both]
    return {
        "samples": len(both),
        "continuity_overlap_at_20": round(sum(kept) / len(kept), 3),
        "cold_start_overlap_at_20": round(sum(contrast) / len(contrast), 3),
        "per_sample": dict(zip(both, [round(x, 3) for x in kept], strict=True)),
    }


def windows(scenario: Scenario, duration: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The control (steady load before the first fault, after a short ramp)
    and the fault window (first fault to the end of the last interval)."""
    intervals = scenario.intervals()
    first = min([i.start_s for i in intervals if i.start_s < duration], default=duration)
    last = max((i.end_s for i in intervals), default=duration)
    ramp = min(3.0, first / 3)
    return (ramp, first), (first, min(duration, max(last, first + 1)))


def mean_relevance(recorder: Recorder, window: tuple[float, float]) -> float | None:
    scores = [
        s for second, row in recorder.relevance.items() if window[0] <= second < window[1]
        for s in row
    ]  # fmt: skip
    return round(sum(scores) / len(scores), 3) if scores else None


def verdict(scenario: Scenario, rep: dict[str, Any], stopped_by: str) -> tuple[str, list[str]]:
    """``failed`` when the promise broke (even in a run cut short), else
    ``aborted`` when it was cut short, ``degraded as designed`` when a
    majority was out, ``passed``; with the reasons."""
    reasons: list[str] = []
    broken = False
    undone = [e["label"] for e in rep["timeline"] if e.get("error")]
    if undone:
        reasons.append(f"faults that could not be made: {', '.join(undone)}")
        broken = True
    writes = rep["writes"]
    if writes["lost"]:
        reasons.append(f"{writes['lost']} acknowledged writes lost")
        broken = True
    if writes["duplicated"]:
        reasons.append(f"{writes['duplicated']} writes duplicated")
        broken = True
    if not rep["converged"]:
        left = "; ".join(f"{r}: {why}" for r, why in rep["left_out"].items())
        reasons.append("regions did not converge to equal digests" + (f" ({left})" if left else ""))
        broken = True
    continuity = rep["for_you"].get("continuity_overlap_at_20")
    if continuity is None:
        reasons.append("For You continuity could not be measured")
    elif continuity < CONTINUITY_BAR:
        reasons.append(f"For You continuity {continuity:.2f} below {CONTINUITY_BAR}")
        broken = True
    if any("error" in row for row in rep["recovery_s"]):
        reasons.append("a restored region never came back ready")
        broken = True
    ratio = rep["kpi"].get("ratio")
    if not scenario.quorum_lost() and ratio is not None and ratio < KPI_TARGET:
        reasons.append(f"KPI ratio {ratio:.2f} below the {KPI_TARGET} target")
    if broken:
        return "failed", [*([stopped_by] if stopped_by else []), *reasons]
    if stopped_by:
        return "aborted", [stopped_by, *reasons]
    if scenario.quorum_lost():
        return "degraded as designed", [
            "a majority of regions was out at once: writes were refused while it lasted",
            *reasons,
        ]
    return "passed", reasons or ["nothing acknowledged lost; regions converged"]
