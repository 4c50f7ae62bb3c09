"""Blackouts: spans in which no region recorded a probe round — every region
down at once (a country-wide storm), or no region able to write to the log —
found after the fact by the judges and written as one incident that opens
resolved (ADR 021).

While some prober works, its next round begins at most one period after it
wrote the last one: a prober whose round overran its slot (a frozen region
holds every check to its time limit, an upload check runs long) skips to
the next slot, it does not stop. So the time from the last write of any
round to the start of the next round says whether anyone was probing: more
than ``fail_rounds`` periods — as long as it takes the flap guard to call a
component down — and nobody was. Nothing could be recorded during it, by
construction: the incident is written once rounds resume, begins at the
last round before and ended at the first round after, and its duration is
an upper bound on what people saw.

Every judge finds the same blackout, so its incident id derives from the
rounds on either side: each judge writes its opening under a key of its own
and the incidents view shows the earliest, as for any automatic incident.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from stormproof.actions import derived_id
from stormproof.events import COMPONENTS, IncidentOpened
from stormproof.status.postmortem import duration, when
from stormproof.views import incidents, status
from stormproof.views.status import Round

__all__ = ["LOOKBACK_ROUNDS", "Blackout", "find_blackouts", "unrecorded_blackouts"]

#: rounds the judges look back over for a blackout (an hour at 10 s): a
#: region's judge starts once it caught up, and rounds resume with it
LOOKBACK_ROUNDS = 360


@dataclass(frozen=True)
class Blackout:
    """A span with no probe round, between two rounds recorded."""

    #: the last round recorded before it
    began_at: int
    #: the first round recorded after it
    resumed_at: int

    @property
    def incident_id(self) -> str:
        return derived_id("inc_", f"blackout:{self.began_at}:{self.resumed_at}")

    def opening(self, regions: Sequence[str], components: Sequence[str]) -> IncidentOpened:
        """Its incident: every region and component, critical, resolved when
        rounds resumed."""
        return IncidentOpened(
            incident_id=self.incident_id,
            title="Every region down: no probe round recorded",
            regions=tuple(regions),
            components=tuple(c for c in COMPONENTS if c in components),
            impact="critical",
            began_at=self.began_at,
            status="resolved",
            resolved_at=self.resumed_at,
            text=(
                f"No region recorded any probe round from {when(self.began_at)} to "
                f"{when(self.resumed_at)} ({duration(self.resumed_at - self.began_at)}): "
                "every region was down at once, or none could write to the log. Nothing could "
                "be said while it lasted; this was written once rounds resumed. It is counted "
                "from the last round before to the first after, so its duration is an upper "
                "bound on what people saw."
            ),
            automatic=True,
        )


def find_blackouts(rounds: Sequence[Round], fail_rounds: int) -> list[Blackout]:
    """The blackouts between ``rounds`` (oldest first): where the next round
    began more than ``fail_rounds`` periods after any round before it was
    last written."""
    found = []
    written = 0
    for before, after in itertools.pairwise(rounds):
        written = max(written, before.written_at, before.round_at)
        if after.round_at - written > fail_rounds * before.period_ms:
            found.append(Blackout(before.round_at, after.round_at))
    return found


def unrecorded_blackouts(db: sqlite3.Connection, fail_rounds: int) -> list[IncidentOpened]:
    """The openings of the recent blackouts no incident stands for yet."""
    found = find_blackouts(status.recent_rounds(db, LOOKBACK_ROUNDS), fail_rounds)
    missing = [b for b in found if incidents.incident(db, b.incident_id) is None]
    if not missing:
        return []
    pairs = status.judged_pairs(db)
    regions = sorted({r for r, _ in pairs} | {p for p, _ in status.probers(db)})
    components = {c for _, c in pairs} or set(COMPONENTS)
    return [b.opening(regions, sorted(components)) for b in missing]
