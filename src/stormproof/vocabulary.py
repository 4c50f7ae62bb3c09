"""The closed sets of words events share with the command line: what a
prober exercises, how bad an incident is, where it stands.

Kept apart from :mod:`stormproof.events` so that a command offering these
words in its help (``stormproof incident``, ``stormproof maintenance``) need
not build every event's validator to start.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "COMPONENTS",
    "IMPACTS",
    "INCIDENT_STATUSES",
    "Component",
    "Impact",
    "IncidentStatus",
]

#: what a prober exercises in each region, the way a person would
Component = Literal["sign_in", "for_you", "playback", "interactions", "messages", "uploads"]
COMPONENTS: tuple[Component, ...] = get_args(Component)
#: how bad an incident is for people (Statuspage's impact levels)
Impact = Literal["none", "minor", "major", "critical"]
IMPACTS: tuple[Impact, ...] = get_args(Impact)
#: an incident's lifecycle (Statuspage's); resolved is final
IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
INCIDENT_STATUSES: tuple[IncidentStatus, ...] = get_args(IncidentStatus)
