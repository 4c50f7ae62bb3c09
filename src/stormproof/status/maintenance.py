"""Maintenance on the status page: a component of a region that a window in
progress holds reads "under maintenance", whatever its probes say (ADR 021).

Applied when read, like the flap guard: whether a window is in progress
depends on the time of the reading, and a view never reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from stormproof.status.page import ComponentStatus, Page
from stormproof.status.states import Assessed, across_regions, worst
from stormproof.views.incidents import Window

__all__ = ["under_maintenance"]


def under_maintenance(page: Page, windows: Sequence[Window], now: int) -> Page:
    """``page`` with every component of a region that a window in progress
    at ``now`` holds marked ``under_maintenance`` since the window began."""
    held = [w for w in windows if w.state(now) == "in_progress"]
    if not held:
        return page
    components = []
    for c in page.components:
        regions = []
        for r in c.regions:
            starts = [w.starts_at for w in held if w.covers(r.region, c.component, now)]
            regions.append(
                replace(r, state="under_maintenance", since=min(starts)) if starts else r
            )
        overall = across_regions([Assessed(r.state, r.since) for r in regions])
        components.append(ComponentStatus(c.component, overall.state, overall.since, regions))
    return replace(page, state=worst(c.state for c in components), components=components)
