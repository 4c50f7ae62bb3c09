"""A creator's earnings ledger and monthly statements, computed when read
(issue 15; ADR 031).

The ledger is a sequence of entries, each with its reason:

- **accrual**, one per day (in the creator's time zone) with qualified views
  of their videos while they were enrolled: ``qualified * rate // 1,000``,
  in millionths of the currency, rounded down per day. Computed from the
  studio's views, like the analytics (ADR 030): a function of the log, the
  same in every region, exactly once whatever retries and failovers did;
- **credit**, one per closed month, as posted (``sla.credit_posted``), with
  its arithmetic; while the month is open a provisional figure is shown
  beside the entries, never in the balance;
- **adjustment**, by an operator, with a reason; **payout**, negative.

The balance is the sum of every entry; :func:`balance` computes it apart
from the statements (accruals over the whole history at once, the written
part summed by SQL), and a test holds the two equal.
"""

from __future__ import annotations

import bisect
import itertools
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from stormproof.creators.offsets import day_shift, offset_spans
from stormproof.creators.sla import Tier, credit_lines, parse_tiers
from stormproof.events import CreditLine, CreditPosted
from stormproof.settings import Settings
from stormproof.views import creator_settings, ledger, studio
from stormproof.views.engagement import WINDOW_MS

__all__ = [
    "Entry",
    "Rates",
    "Schedule",
    "Statement",
    "accruals",
    "balance",
    "month_bounds",
    "previous_month",
    "provisional_credit",
    "rate_in_force",
    "rates_of",
    "statement",
    "this_month",
    "zone_of",
]

EntryKind = Literal["accrual", "credit", "adjustment", "payout"]


@dataclass(frozen=True)
class Rates:
    """What turns views into money, from a region's settings (give every
    region the same, ADR 031)."""

    #: millionths of the currency per 1,000 qualified views, before the
    #: first rate an operator set (``earnings.rate_set``, ADR 031 amendment)
    rate_micros: int
    qualified_ms: int
    currency: str
    tiers: tuple[Tier, ...]


class Entry(BaseModel):
    """One line of a ledger."""

    kind: EntryKind
    #: unix ms: a day's start, a credit's posting, an adjustment's or payout's time
    at: int
    #: the day (YYYY-MM-DD, creator's zone) of an accrual; the month of a credit
    date: str
    amount_micros: int
    #: why: the figures behind an accrual, an operator's reason, a payout's reference
    reason: str
    qualified_views: int | None = None
    credit_lines: list[CreditLine] | None = None
    entry_id: str | None = None
    actor: str | None = None


class Statement(BaseModel):
    """A creator's month: every entry and why, and the balance before and after."""

    creator_id: str
    period: str = Field(description="YYYY-MM, in the creator's time zone")
    time_zone: str
    currency: str
    rate_micros_per_1000: int = Field(
        description="the rate in force at the month's end (now, while it is open); each "
        "accrual says the rates it was counted at"
    )
    since: int
    until: int
    closed: bool = Field(description="the month ended and its credit was posted")
    opening_balance_micros: int
    entries: list[Entry]
    closing_balance_micros: int
    #: while the month is open: the credit it would earn if it closed now
    provisional_credit_micros: int | None
    provisional_lines: list[CreditLine] | None


def zone_of(db: sqlite3.Connection, user_id: str) -> ZoneInfo:
    """The creator's zone; UTC when this region's tz database lacks it."""
    try:
        return ZoneInfo(creator_settings.time_zone(db, user_id))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), zone).timestamp() * 1000)


def month_bounds(period: str, zone: ZoneInfo) -> tuple[int, int]:
    """``[since, until)`` of the month ``YYYY-MM`` in ``zone``, unix ms."""
    year, month = int(period[:4]), int(period[5:7])
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    return _ms(first, zone), _ms(after, zone)


def _day_of(at: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(at / 1000, UTC).astimezone(zone).date()


class Schedule:
    """The earnings rate in force at any instant: the operators' rates
    (``earnings.rate_set``) over the setting's default (ADR 031, amendment)."""

    def __init__(self, db: sqlite3.Connection, default: int) -> None:
        self.rates = ledger.rate_schedule(db)
        self.default = default

    def at(self, instant: int) -> int:
        return ledger.rate_at(self.rates, self.default, instant)

    def by_rate(self, parts: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int, int]]]:
        """``parts`` (window ranges with their day shifts) cut where a rate
        comes in force, grouped by the rate their windows earn at: a
        window's rate is the one in force at its start."""
        cuts = sorted({-(-rate.effective_from // WINDOW_MS) for rate in self.rates})
        grouped: dict[int, list[tuple[int, int, int]]] = {}
        for first, end, shift in parts:
            inside = bisect.bisect_right(cuts, first), bisect.bisect_left(cuts, end)
            points = [first, *cuts[inside[0] : inside[1]], end]
            for low, high in itertools.pairwise(points):
                grouped.setdefault(self.at(low * WINDOW_MS), []).append((low, high, shift))
        return grouped


def rate_in_force(db: sqlite3.Connection, rates: Rates, at: int) -> int:
    """The rate a window beginning at ``at`` earns at."""
    return Schedule(db, rates.rate_micros).at(at)


def _reason(by_rate: Counter[int]) -> str:
    count = sum(by_rate.values())
    if len(by_rate) == 1:
        (rate,) = by_rate
        return f"{count} qualified views at {rate} per 1,000"
    parts = ", ".join(f"{n} at {rate}" for rate, n in sorted(by_rate.items()))
    return f"{count} qualified views: {parts} per 1,000"


def _amount(by_rate: Counter[int]) -> int:
    """A day's accrual: its views at their rates, rounded down once."""
    return sum(n * rate for rate, n in by_rate.items()) // 1000


def _enrolled_windows(
    spans: list[tuple[int, int | None]], low: int, high: int
) -> list[tuple[int, int]]:
    """The windows numbered ``[low, high)`` whose views earn, as merged
    ranges: a view earns when its creator was enrolled at some time of its
    window, so a span ``[a, b)`` covers the windows ``a // WINDOW_MS`` up to
    the one before the first starting at or after ``b``."""
    ranges: list[tuple[int, int]] = []
    for a, b in spans:
        first = max(low, a // WINDOW_MS)
        end = high if b is None else min(high, -(-b // WINDOW_MS))
        if first >= end:
            continue
        if ranges and first <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(end, ranges[-1][1]))
        else:
            ranges.append((first, end))
    return ranges


def _day_parts(ranges: list[tuple[int, int]], zone: ZoneInfo) -> list[tuple[int, int, int]]:
    """``ranges`` of windows cut where ``zone``'s offset changes, each with
    the shift that puts its windows on their local days (creators/offsets.py)."""
    return [
        (first, end, day_shift(offset))
        for low, high in ranges
        for first, end, offset in offset_spans(zone, low, high)
    ]


def _qualified_days(
    db: sqlite3.Connection, creator: str, since: int, until: int, rates: Rates
) -> list[tuple[date, int, Counter[int]]]:
    """(day, its start, qualified views by the rate they earn at) of
    ``creator``'s days in ``[since, until)`` with qualified views while
    enrolled, in order, counted by day in SQLite."""
    spans = creator_settings.enrolled_spans(db, creator)
    if not spans:
        return []
    zone = zone_of(db, creator)
    start = max(since, spans[0][0] - WINDOW_MS)
    ranges = _enrolled_windows(spans, -(-start // WINDOW_MS), -(-until // WINDOW_MS))
    by_day: dict[int, Counter[int]] = {}
    schedule = Schedule(db, rates.rate_micros)
    for rate, parts in schedule.by_rate(_day_parts(ranges, zone)).items():
        counted = studio.qualified_by_day(db, creator, parts, rates.qualified_ms)
        for ordinal, count in counted.items():
            if count:
                by_day.setdefault(ordinal, Counter())[rate] += count
    days = [(date.fromordinal(ordinal), rated) for ordinal, rated in sorted(by_day.items())]
    return [(day, at, rated) for day, rated in days if since <= (at := _ms(day, zone)) < until]


def accruals(
    db: sqlite3.Connection, creator: str, since: int, until: int, rates: Rates
) -> list[Entry]:
    """One accrual a day for ``creator`` over ``[since, until)`` — which
    must begin and end on their days' boundaries — for the days with
    qualified views while enrolled. A window's views earn at the rate in
    force at its start; a day's amount is rounded down once."""
    return [
        Entry(
            kind="accrual",
            at=at,
            date=day.isoformat(),
            amount_micros=_amount(by_rate),
            reason=_reason(by_rate),
            qualified_views=sum(by_rate.values()),
        )
        for day, at, by_rate in _qualified_days(db, creator, since, until, rates)
    ]


def _posted(db: sqlite3.Connection, creator: str, since: int, until: int) -> list[Entry]:
    zone = zone_of(db, creator)
    return [
        Entry(
            kind="adjustment" if p.kind == "adjustment" else "payout",
            at=p.at,
            date=_day_of(p.at, zone).isoformat(),
            amount_micros=p.amount_micros,
            reason=p.text,
            entry_id=p.entry_id,
            actor=p.actor,
        )
        for p in ledger.posted(db, creator, since, until)
    ]


def _credit_entry(at: int, posted: CreditPosted) -> Entry:
    percent = max(line.credit_percent for line in posted.lines)
    return Entry(
        kind="credit",
        at=at,
        date=posted.period,
        amount_micros=posted.credit_micros,
        reason=f"SLA credit for {posted.period}: {percent} % of {posted.base_micros}",
        credit_lines=list(posted.lines),
        entry_id=f"{posted.creator_id}:{posted.period}",
        actor=posted.region,
    )


def balance(db: sqlite3.Connection, creator: str, rates: Rates, now: int) -> int:
    """The sum of every entry up to ``now``: accruals over the whole history
    at once, the written entries summed by SQL."""
    days = _qualified_days(db, creator, 0, now + 86_400_000, rates)
    accrued = sum(_amount(by_rate) for _, _, by_rate in days)
    return accrued + ledger.posted_total(db, creator)


def _base(db: sqlite3.Connection, creator: str, since: int, until: int, rates: Rates) -> int:
    return sum(e.amount_micros for e in accruals(db, creator, since, until, rates))


def provisional_credit(
    db: sqlite3.Connection, creator: str, since: int, until: int, now: int, rates: Rates
) -> tuple[int, int, list[CreditLine]]:
    """(base, credit, lines) of ``creator``'s period as it stands at ``now``."""
    lines = credit_lines(db, creator, since, until, now, rates.tiers)
    base = _base(db, creator, since, until, rates)
    return base, base * max(line.credit_percent for line in lines) // 100, lines


def statement(
    db: sqlite3.Connection, creator: str, period: str, rates: Rates, now: int
) -> Statement:
    """``creator``'s month ``period`` (YYYY-MM, in their zone). Credits
    belong to the month they are for, whenever they were posted."""
    zone = zone_of(db, creator)
    since, until = month_bounds(period, zone)
    accrued = accruals(db, creator, 0, until, rates)  # one read, split at the month
    credits = [(at, c) for at, c in ledger.credits(db, creator) if c.period <= period]
    entries = [e for e in accrued if e.at >= since] + _posted(db, creator, since, until)
    entries += [_credit_entry(at, c) for at, c in credits if c.period == period]
    entries.sort(key=lambda e: (e.at, e.kind))
    opening = (
        sum(e.amount_micros for e in accrued if e.at < since)
        + sum(e.amount_micros for e in _posted(db, creator, 0, since))
        + sum(c.credit_micros for _, c in credits if c.period < period)
    )
    closed = any(e.kind == "credit" for e in entries)
    lines = None if closed else credit_lines(db, creator, since, until, now, rates.tiers)
    base = sum(e.amount_micros for e in entries if e.kind == "accrual")
    return Statement(
        creator_id=creator,
        period=period,
        time_zone=zone.key,
        currency=rates.currency,
        rate_micros_per_1000=rate_in_force(db, rates, min(until, now) - 1),
        since=since,
        until=until,
        closed=closed,
        opening_balance_micros=opening,
        entries=entries,
        closing_balance_micros=opening + sum(e.amount_micros for e in entries),
        provisional_credit_micros=(
            None if lines is None else base * max(x.credit_percent for x in lines) // 100
        ),
        provisional_lines=lines,
    )


def this_month(at: int, zone: ZoneInfo) -> str:
    """The month ``at`` falls in, in ``zone``, YYYY-MM."""
    return _day_of(at, zone).isoformat()[:7]


def previous_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    day = date(year, month, 1) - timedelta(days=1)
    return day.isoformat()[:7]


def rates_of(settings: Settings) -> Rates:
    """The ledger's rates as a region's settings give them."""
    return Rates(
        rate_micros=settings.earnings_rate_micros,
        qualified_ms=settings.studio_qualified_ms,
        currency=settings.ledger_currency,
        tiers=parse_tiers(settings.sla_tiers),
    )
