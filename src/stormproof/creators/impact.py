"""What an outage cost creators: for a postmortem and a drill's report
(issue 15, items 3 and 5; ADR 031).

The creators affected are those whose uploads the regions' request counts
name as failed or delayed during the incident (the people ``touched``).
For each: the upload minutes the incident cost them (as the SLA counts
them, :mod:`stormproof.creators.sla`), their lost qualified views and
earnings estimated from the same hours of the previous 7 days (or "not
enough history"), and the credit those minutes would earn against a period
beginning with the 10-minute window the incident began in (views are
counted by those windows) — 30 days for a real incident, a few minutes for
a drill (``sla_impact_period_s``) — on what their qualified views over
that period earn at the rate, as if enrolled.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pydantic import BaseModel, Field

from stormproof.creators import sla
from stormproof.creators.sla import DEFAULT_TIERS, MINUTE_MS, Tier, parse_tiers
from stormproof.events import is_system
from stormproof.settings import Settings
from stormproof.views import ledger
from stormproof.views.engagement import WINDOW_MS

__all__ = ["CreatorImpact", "ImpactRates", "creators_touched", "impact_on_creators"]

#: creators listed at most
MAX_CREATORS = 100


@dataclass(frozen=True)
class ImpactRates:
    """What turns an outage's minutes into money, from a region's settings."""

    qualified_ms: int = 5000
    rate_micros: int = 500_000
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    #: the period a credit is computed against: a month of 30 days
    period_ms: int = 30 * 86_400_000

    @classmethod
    def of(cls, settings: Settings) -> ImpactRates:
        return cls(
            qualified_ms=settings.studio_qualified_ms,
            rate_micros=settings.earnings_rate_micros,
            tiers=parse_tiers(settings.sla_tiers),
            period_ms=int(settings.sla_impact_period_s * 1000),
        )


class CreatorImpact(BaseModel):
    creator_id: str
    upload_minutes_down: int = Field(description="minutes of the incident counted against uploads")
    expected_qualified_views: float | None = Field(
        description="their average in the same hours of the previous 7 days; null: not enough "
        "history"
    )
    lost_qualified_views: int | None
    lost_earnings_micros: int | None
    period_minutes: int = Field(description="the period the credit is computed against")
    credit_percent: int
    credit_micros: int = Field(description="the credit the period's uptime earns them")


def creators_touched(db: sqlite3.Connection, since: int, until: int) -> list[str]:
    """People whose uploads failed or were delayed in ``[since, until]``,
    as the rounds' request counts name them (rounds count the time before)."""
    rows = db.execute(
        "SELECT DISTINCT user_id FROM probe_touched WHERE component = 'uploads' "
        "AND round_at > ? AND round_at <= ? + 60000 ORDER BY user_id LIMIT ?",
        (since, until, MAX_CREATORS * 2),
    ).fetchall()
    return [user for (user,) in rows if not is_system(user)][:MAX_CREATORS]


def impact_on_creators(
    db: sqlite3.Connection, since: int, until: int, rates: ImpactRates
) -> list[CreatorImpact]:
    """The creators an incident of ``[since, until)`` touched, and what it cost each."""
    qualified_ms, period_ms = rates.qualified_ms, rates.period_ms
    # the rate in force when the incident began (ADR 031, amendment)
    rate_micros = ledger.rate_at(ledger.rate_schedule(db), rates.rate_micros, since)
    tiers = rates.tiers
    found = []
    # views are counted by 10-minute windows: the period begins with the
    # window the incident began in, so the views of that window count
    start = since - since % WINDOW_MS
    end = start + period_ms
    minutes = max(1, -(-period_ms // MINUTE_MS))
    for creator in creators_touched(db, since, until):
        stretches = sla.upload_down(db, creator, start, end, until)
        down = len(sla.minutes_of(stretches, start, end))
        lost = sla.lost_views(db, creator, since, until, qualified_ms)
        earned = sla.qualified(db, creator, start, end, qualified_ms) * rate_micros // 1000
        tier = sla.credit_percent(minutes, down, tiers)
        percent = tier.credit_percent if tier else 0
        found.append(
            CreatorImpact(
                creator_id=creator,
                upload_minutes_down=down,
                expected_qualified_views=None if lost is None else lost.expected,
                lost_qualified_views=None if lost is None else lost.lost,
                lost_earnings_micros=None if lost is None else lost.lost * rate_micros // 1000,
                period_minutes=minutes,
                credit_percent=percent,
                credit_micros=earned * percent // 100,
            )
        )
    return found
