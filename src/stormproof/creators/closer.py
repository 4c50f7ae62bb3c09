"""Every region's closer: posts each creator's SLA credit once their month
ended (ADR 031).

Like the judges (ADR 021), every region runs one and none asks the others:
each looks, every ``sla_close_every_s``, for creators enrolled in a month
that ended ``sla_close_after_s`` ago (plus a minute per region index, so the
first region usually writes and the others find it done) and posts what
is missing, under a key of its own. When two regions both posted, the view
counts the earliest; a region that is down posts nothing and loses nothing:
whoever is up closes the month.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable

from stormproof.actions.ledger import close_month
from stormproof.creators.ledger import (
    month_bounds,
    previous_month,
    rates_of,
    this_month,
    zone_of,
)
from stormproof.errors import StormproofError
from stormproof.events import CreditPosted
from stormproof.periodic import every
from stormproof.region import Region
from stormproof.views import creator_settings, ledger

__all__ = ["MONTHS_BACK", "Closer"]

logger = logging.getLogger(__name__)

#: months looked back at for one still to close
MONTHS_BACK = 12
#: how much later than the first region each next one closes
_STAGGER_MS = 60_000


class Closer:
    def __init__(self, region: Region) -> None:
        self.region = region
        self.settings = region.settings

    def _due(self, db: sqlite3.Connection, now: int) -> list[tuple[str, str]]:
        """(creator, month) pairs ended long enough ago and not yet credited."""
        settings = self.settings
        closed_before = (
            now - int(settings.sla_close_after_s * 1000) - settings.region_index * _STAGGER_MS
        )
        due = []
        for creator in creator_settings.enrolled_creators(db):
            spans = creator_settings.enrolled_spans(db, creator)
            zone = zone_of(db, creator)
            first = this_month(spans[0][0], zone)
            month = previous_month(this_month(closed_before, zone))
            for _ in range(MONTHS_BACK):
                if month < first:
                    break
                since, until = month_bounds(month, zone)
                enrolled = any(a < until and (b is None or since < b) for a, b in spans)
                if enrolled and ledger.credit(db, creator, month) is None:
                    due.append((creator, month))
                month = previous_month(month)
        return due

    async def tick(self, now: int | None = None) -> list[CreditPosted]:
        """Close every month due at ``now``; what this region posted."""
        now = now if now is not None else int(time.time() * 1000)
        due = await self.region.store.query(lambda db: self._due(db, now))
        rates = rates_of(self.settings)
        posted = []
        for creator, month in due:
            written = await close_month(self.region, creator, month, rates, now)
            if written is not None and not written.replayed:
                posted.append(written.payload)
        return posted

    async def run(self, ready: Callable[[], Awaitable[None]]) -> None:
        try:
            await ready()
        except StormproofError:
            return
        await every(
            self.settings.sla_close_every_s,
            self.tick,
            logger=logger,
            refused=f"{self.region.name} closer",
            failed=f"{self.region.name}: closing months failed",
        )
