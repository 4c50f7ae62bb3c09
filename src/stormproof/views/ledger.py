"""The ledger's written entries: operators' adjustments, payouts, and the
SLA credits posted when a creator's month closed (issue 15; ADR 031).

Accruals are not here: a day's earnings are a function of the studio's
views and the creator's settings, computed when read
(:mod:`stormproof.creators.ledger`). What is here was decided once, by a
person or by a region's closer, and must not move afterwards.

A credit for a (creator, month) may be written by every region's closer,
each under a key of its own; all copies are kept and the earliest by
``(at, event id)`` is the one that counts, so every region shows the same
one whatever order they arrived in (as the judges' incidents, ADR 021).
Adjustments and payouts have ids derived from their keys: one row each.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stormproof.events import CreditPosted, EarningsRateSet, LedgerAdjusted, PayoutSent
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "LedgerView",
    "Posted",
    "RateSet",
    "creators_with_entries",
    "credit",
    "credits",
    "payout_count",
    "payout_of_request",
    "posted",
    "posted_total",
    "rate_at",
    "rate_schedule",
]


class LedgerView(View):
    name = "ledger"
    tables = ("ledger_posted", "sla_credits", "payout_requests", "earnings_rates")
    schema = """
    CREATE TABLE IF NOT EXISTS ledger_posted (
        creator_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        amount_micros INTEGER NOT NULL,
        text TEXT NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (creator_id, kind, entry_id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sla_credits (
        creator_id TEXT NOT NULL,
        period TEXT NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        credit_micros INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (creator_id, period, at, eid)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS payout_requests (
        request_id TEXT PRIMARY KEY,
        creator_id TEXT NOT NULL,
        slot INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS earnings_rates (
        effective_from INTEGER NOT NULL,
        at INTEGER NOT NULL,
        eid TEXT NOT NULL,
        rate_micros INTEGER NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        PRIMARY KEY (effective_from, at, eid)
    ) WITHOUT ROWID;
    """

    def on_ledger_adjusted(self, db: sqlite3.Connection, entry: Entry, p: LedgerAdjusted) -> None:
        _post(db, entry, p.creator_id, "adjustment", p.adjustment_id, p.amount_micros, p.reason)

    def on_ledger_paid_out(self, db: sqlite3.Connection, entry: Entry, p: PayoutSent) -> None:
        _post(db, entry, p.creator_id, "payout", p.payout_id, -p.amount_micros, p.reference)
        if p.request_id is not None and p.slot is not None:
            db.execute(
                "INSERT INTO payout_requests VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (p.request_id, p.creator_id, p.slot),
            )

    def on_earnings_rate_set(
        self, db: sqlite3.Connection, entry: Entry, p: EarningsRateSet
    ) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO earnings_rates VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.effective_from, event.at, event.id, p.rate_micros, p.reason, event.actor),
        )

    def on_sla_credit_posted(self, db: sqlite3.Connection, entry: Entry, p: CreditPosted) -> None:
        event = entry.event
        db.execute(
            "INSERT INTO sla_credits VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (p.creator_id, p.period, event.at, event.id, p.credit_micros, p.model_dump_json()),
        )


def _post(
    db: sqlite3.Connection, entry: Entry, creator: str, kind: str, entry_id: str, amount: int,
    text: str,
) -> None:  # fmt: skip
    """One row per id; should two events ever carry one id, the earliest by
    (at, event id) stands, whatever order they came in."""
    event = entry.event
    db.execute(
        "INSERT INTO ledger_posted VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO UPDATE SET at = excluded.at, eid = excluded.eid, "
        "amount_micros = excluded.amount_micros, text = excluded.text, actor = excluded.actor "
        "WHERE (excluded.at, excluded.eid) < (at, eid)",
        (creator, kind, entry_id, event.at, event.id, amount, text, event.actor),
    )


@dataclass(frozen=True)
class Posted:
    """An adjustment (amount signed as posted) or a payout (negative)."""

    kind: str
    entry_id: str
    at: int
    amount_micros: int
    text: str
    actor: str


def posted(db: sqlite3.Connection, creator_id: str, since: int, until: int) -> list[Posted]:
    """``creator_id``'s adjustments and payouts made in ``[since, until)``, in order."""
    rows = db.execute(
        "SELECT kind, entry_id, at, amount_micros, text, actor FROM ledger_posted "
        "WHERE creator_id = ? AND at >= ? AND at < ? ORDER BY at, eid",
        (creator_id, since, until),
    ).fetchall()
    return [Posted(*row) for row in rows]


def posted_total(db: sqlite3.Connection, creator_id: str) -> int:
    """The sum of every adjustment, payout and credit of ``creator_id`` (the
    balance's written part, summed by SQL rather than entry by entry)."""
    moved = db.execute(
        "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger_posted WHERE creator_id = ?",
        (creator_id,),
    ).fetchone()[0]
    credited = db.execute(
        "SELECT COALESCE(SUM(credit_micros), 0) FROM sla_credits c WHERE creator_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM sla_credits d WHERE d.creator_id = c.creator_id "
        "AND d.period = c.period AND (d.at, d.eid) < (c.at, c.eid))",
        (creator_id,),
    ).fetchone()[0]
    return int(moved) + int(credited)


def credit(db: sqlite3.Connection, creator_id: str, period: str) -> CreditPosted | None:
    """The credit that counts for ``creator_id``'s month ``period``, if posted."""
    row = db.execute(
        "SELECT body FROM sla_credits WHERE creator_id = ? AND period = ? ORDER BY at, eid LIMIT 1",
        (creator_id, period),
    ).fetchone()
    return CreditPosted.model_validate_json(row[0]) if row else None


def credits(db: sqlite3.Connection, creator_id: str) -> list[tuple[int, CreditPosted]]:
    """Every month's credit that counts for ``creator_id`` with when it was
    posted, by period."""
    rows = db.execute(
        "SELECT at, body FROM sla_credits c WHERE creator_id = ? AND NOT EXISTS ("
        "SELECT 1 FROM sla_credits d WHERE d.creator_id = c.creator_id "
        "AND d.period = c.period AND (d.at, d.eid) < (c.at, c.eid)) ORDER BY period",
        (creator_id,),
    ).fetchall()
    return [(at, CreditPosted.model_validate_json(body)) for at, body in rows]


def creators_with_entries(db: sqlite3.Connection) -> list[str]:
    """Everyone with an adjustment, a payout or a credit, by id."""
    rows = db.execute(
        "SELECT creator_id FROM ledger_posted UNION SELECT creator_id FROM sla_credits ORDER BY 1"
    ).fetchall()
    return [creator for (creator,) in rows]


def payout_count(db: sqlite3.Connection, creator_id: str) -> int:
    """How many payouts of ``creator_id`` were applied here: the next
    payout's slot (ADR 031, amendment)."""
    row = db.execute(
        "SELECT COUNT(*) FROM ledger_posted WHERE creator_id = ? AND kind = 'payout'",
        (creator_id,),
    ).fetchone()
    return int(row[0])


def payout_of_request(db: sqlite3.Connection, request_id: str) -> tuple[str, int] | None:
    """(creator, slot) of the payout a request made, if it was applied here."""
    row = db.execute(
        "SELECT creator_id, slot FROM payout_requests WHERE request_id = ?", (request_id,)
    ).fetchone()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class RateSet:
    """A rate in force from ``effective_from`` (the latest set for that
    instant by ``(at, event id)``), who set it, when and why."""

    effective_from: int
    rate_micros: int
    at: int
    actor: str
    reason: str


def rate_schedule(db: sqlite3.Connection) -> list[RateSet]:
    """The earnings rates operators set, by the instant each is in force
    from; for one instant the latest set holds (ADR 031, amendment)."""
    rows = db.execute(
        "SELECT effective_from, rate_micros, at, actor, reason FROM earnings_rates r "
        "WHERE NOT EXISTS (SELECT 1 FROM earnings_rates s WHERE s.effective_from = "
        "r.effective_from AND (s.at, s.eid) > (r.at, r.eid)) ORDER BY effective_from"
    ).fetchall()
    return [RateSet(*row) for row in rows]


def rate_at(schedule: list[RateSet], default: int, at: int) -> int:
    """The rate in force at ``at``: the last set from ``at`` or before, or
    ``default`` (the setting) before the first."""
    found = default
    for rate in schedule:
        if rate.effective_from > at:
            break
        found = rate.rate_micros
    return found
