"""Probers' rounds made up for tests: who saw which region how, in which round."""

from __future__ import annotations

from collections.abc import Collection

from stormproof.events import (
    Component,
    Event,
    ProbeResult,
    ProbesRecorded,
    RegionSeen,
    RequestsCounted,
    new_event,
)
from stormproof.log import Entry

__all__ = ["PERIOD", "REGIONS", "T0", "entry", "event", "key", "probes", "round_at"]

REGIONS = ("east", "north", "west")
PERIOD = 10_000
#: the first round: 2025-11-24T16:00:00Z
T0 = 1_764_000_000_000


def round_at(n: int) -> int:
    return T0 + n * PERIOD


def probes(
    prober: str,
    n: int,
    *,
    failing: Collection[str] = (),
    unreached: Collection[str] = (),
    components: Collection[Component] = ("sign_in", "for_you"),
    regions: Collection[str] = REGIONS,
) -> ProbesRecorded:
    """``prober``'s round ``n``: each of ``components`` of each region
    passes, but every one of a region in ``failing`` fails, and a region in
    ``unreached`` has no result at all (its health check: unreachable)."""
    results = tuple(
        ProbeResult(
            region=region,
            component=component,
            ok=region not in failing,
            latency_ms=40 + len(region),
            reason="" if region not in failing else "timeout",
        )
        for region in sorted(regions)
        if region not in unreached
        for component in components
    )
    fine = set(regions) - set(failing) - set(unreached)
    seen = tuple(
        RegionSeen(region=region, reachable=region in fine, ready=region in fine)
        for region in sorted(regions)
    )
    return ProbesRecorded(
        prober=prober,
        round_at=round_at(n),
        period_ms=PERIOD,
        results=results,
        regions=seen,
        requests=(RequestsCounted(component="for_you", requests=12, errors=len(failing)),),
        active_people=7,
    )


def event(p: ProbesRecorded) -> Event:
    """The event a prober appends for a round: under its prober's system account."""
    return new_event(
        p, actor=f"sys_{p.prober}", at=p.round_at + 3_000, id=f"probes-{p.prober}-{p.round_at}"
    )


def key(p: ProbesRecorded) -> str:
    return f"probes:{p.prober}:{p.round_at}"


def entry(partition: int, seq: int, p: ProbesRecorded) -> Entry:
    return Entry(partition, seq, key(p), event(p))
