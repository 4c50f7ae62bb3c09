"""Status: the platform's health as a view of the log (ADR 020).

Every region's prober records its rounds in the log; the status view
(:mod:`stormproof.views.status`) judges each round by majority; this package
turns the verdicts of the last rounds into Statuspage's states, with a flap
guard (:mod:`~stormproof.status.states`), and reads the status page from the
view (:mod:`~stormproof.status.page`). Incidents, the page itself, webhooks
and postmortems come later (issue 13).
"""

from __future__ import annotations

from stormproof.status.page import ComponentStatus, Page, ProberStatus, RegionStatus, read_page
from stormproof.status.states import STATES, State

__all__ = [
    "STATES",
    "ComponentStatus",
    "Page",
    "ProberStatus",
    "RegionStatus",
    "State",
    "read_page",
]
