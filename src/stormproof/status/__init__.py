"""Status: the platform's health as a view of the log (ADR 020).

Every region's prober (``prober``, its checks in ``checks``) checks every
region the way a person would and records each round as a
``probes.recorded`` event; ``traffic`` counts people's requests for it and
``identity`` names the probe accounts and marks their requests. The status
view (:mod:`stormproof.views.status`) judges each round by majority; this
package turns the verdicts of the last rounds into Statuspage's states, with
a flap guard (``states``), and reads the status page from the view
(``page``, ``uptime``: 90 days a component). ``document`` is the page as
JSON; ``html`` and ``feed`` render it as the page people read and an Atom
feed, ``export`` as a folder to open with no server (ADR 023). ``judge``
opens, updates and resolves incidents with ``figures`` (ADR 021);
``postmortem`` drafts a resolved incident's postmortem from the log and
``postmortem_render`` renders it as Markdown and HTML (ADR 025). Webhooks
come later (issue 13).
"""

from __future__ import annotations

from stormproof.status.page import ComponentStatus, Page, ProberStatus, RegionStatus, read_page
from stormproof.status.prober import Prober
from stormproof.status.states import STATES, State
from stormproof.status.traffic import Traffic

__all__ = [
    "STATES",
    "ComponentStatus",
    "Page",
    "Prober",
    "ProberStatus",
    "RegionStatus",
    "State",
    "Traffic",
    "read_page",
]
