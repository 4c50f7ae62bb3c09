"""Creators' settings and the earnings ledger's written entries (issue 15;
ADR 031): a time zone, opting in to earnings, an operator's adjustment or
payout, and a month's SLA credit posted by a region's closer.

Each validates against the views and the event models before it appends,
so bad input is a 4xx with a code and nothing reaches the log."""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import zoneinfo
from dataclasses import dataclass

from pydantic import ValidationError

from stormproof.actions import (
    NOW,
    WriteTime,
    Written,
    derived_id,
    event_time,
    log_key,
    prior,
    write,
)
from stormproof.actions.roles import require_role
from stormproof.clock import now_ms
from stormproof.creators.ledger import Rates, balance, month_bounds, provisional_credit, zone_of
from stormproof.errors import Conflict, Forbidden, NotFound, Unprocessable
from stormproof.events import (
    MAX_UPDATE_CHARS,
    CreditPosted,
    EarningsEnrolled,
    EarningsRateSet,
    LedgerAdjusted,
    PayoutSent,
    TimeZoneSet,
    is_system,
)
from stormproof.region import Region
from stormproof.views import accounts, ledger
from stormproof.views.engagement import WINDOW_MS

__all__ = [
    "MAX_AMOUNT_MICROS",
    "MAX_RATE_AHEAD_MS",
    "MAX_RATE_MICROS",
    "PayoutPlan",
    "adjust_balance",
    "close_month",
    "commit_payout",
    "ledger_partition",
    "pay_out",
    "payout_conflict",
    "plan_payout",
    "require_creator",
    "set_enrollment",
    "set_rate",
    "set_time_zone",
    "slot_key",
]

#: no adjustment or payout moves more than this, in millionths (a billion units)
MAX_AMOUNT_MICROS = 10**15


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


async def set_time_zone(
    region: Region, user_id: str, zone: str, *, idempotency_key: str | None, when: WriteTime = NOW
) -> Written[TimeZoneSet]:
    """Count ``user_id``'s days in ``zone`` (an IANA name) from now on."""
    key = log_key(user_id, "time-zone", idempotency_key)
    if done := await prior(region, key, TimeZoneSet, lambda p: p.zone == zone):
        return done
    if zone not in _zones():
        raise Unprocessable(f"{zone[:64]!r} is no IANA time zone", code="unknown_time_zone")
    try:
        payload = TimeZoneSet(zone=zone)
    except ValidationError as exc:  # a name of this tz database that no event may carry
        raise Unprocessable(exc.errors()[0]["msg"], code="unknown_time_zone") from exc
    return await write(region, key, payload, actor=user_id, when=when)


async def set_enrollment(
    region: Region, user_id: str, enrolled: bool, *, idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[EarningsEnrolled]:  # fmt: skip
    """Opt ``user_id`` in to earnings (or out)."""
    key = log_key(user_id, "earnings", idempotency_key)
    if done := await prior(region, key, EarningsEnrolled, lambda p: p.enrolled == enrolled):
        return done
    if is_system(user_id):
        raise Forbidden("a system account earns nothing", code="system_account")
    return await write(region, key, EarningsEnrolled(enrolled=enrolled), actor=user_id, when=when)


async def require_creator(region: Region, creator_id: str) -> accounts.Account:
    """The person ``creator_id`` names, or 404 ``creator_not_found``."""
    found = await region.store.query(lambda db: accounts.account_by_id(db, creator_id))
    if found is None or found.system:
        raise NotFound(f"no creator {creator_id!r}", code="creator_not_found")
    return found


def _amount(amount_micros: int, *, positive: bool) -> int:
    if not -MAX_AMOUNT_MICROS <= amount_micros <= MAX_AMOUNT_MICROS:
        raise Unprocessable("an amount is at most 10^15 millionths", code="amount_out_of_range")
    if amount_micros == 0 or (positive and amount_micros < 0):
        raise Unprocessable(
            "a payout is more than 0" if positive else "an adjustment moves money",
            code="invalid_amount",
        )
    return amount_micros


async def adjust_balance(
    region: Region, operator_id: str, creator_id: str, amount_micros: int, reason: str, *,
    idempotency_key: str | None, when: WriteTime = NOW,
) -> Written[LedgerAdjusted]:  # fmt: skip
    """An operator adds ``amount_micros`` (negative: takes) to a creator's
    balance, saying why: 403 ``not_an_operator`` for anyone else, 422
    ``reason_required`` without a reason."""
    await require_role(region, operator_id, "operator")
    key = log_key(operator_id, "adjust", idempotency_key)
    same = (creator_id, amount_micros, reason.strip())
    if done := await prior(
        region, key, LedgerAdjusted, lambda p: (p.creator_id, p.amount_micros, p.reason) == same
    ):
        return done
    _amount(amount_micros, positive=False)
    if not reason.strip():
        raise Unprocessable("an adjustment says why", code="reason_required")
    if len(reason) > MAX_UPDATE_CHARS:
        raise Unprocessable(f"a reason has at most {MAX_UPDATE_CHARS} characters", code="too_long")
    await require_creator(region, creator_id)
    try:
        payload = LedgerAdjusted(
            adjustment_id=derived_id("adj_", key),
            creator_id=creator_id,
            amount_micros=amount_micros,
            reason=reason.strip(),
        )
    except ValidationError as exc:
        raise Unprocessable(exc.errors()[0]["msg"], code="invalid_adjustment") from exc
    return await write(region, key, payload, actor=operator_id, when=when)


def ledger_partition(creator_id: str, partitions: int) -> int:
    """The partition every region appends ``creator_id``'s payouts to: one
    stream, so two regions' payouts under one key meet in it (ADR 031,
    amendment)."""
    digest = hashlib.sha256(creator_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % partitions


def slot_key(creator_id: str, slot: int) -> str:
    """The log key of ``creator_id``'s payout number ``slot``: the same for
    every payout checked against one balance, whoever posts it, wherever."""
    return f"ledger:{creator_id}:payout:{slot}"


@dataclass(frozen=True)
class PayoutPlan:
    """A payout checked against the balance, not yet appended: the slot it
    claims and the event that claims it."""

    key: str
    partition: int
    payload: PayoutSent
    replay: Written[PayoutSent] | None = None


async def plan_payout(
    region: Region, operator_id: str, creator_id: str, amount_micros: int, reference: str,
    rates: Rates, now: int, *, idempotency_key: str | None,
) -> PayoutPlan:  # fmt: skip
    """Check a payout against the creator's balance as this region's views
    hold it once they caught up with the creator's ledger partition: 403
    ``not_an_operator``, 422 ``invalid_amount``, 404 ``creator_not_found``,
    409 ``insufficient_balance``. A request already applied comes back as
    its replay."""
    await require_role(region, operator_id, "operator")
    request_id = derived_id("req_", log_key(operator_id, "payout", idempotency_key))
    home = ledger_partition(creator_id, region.log.partitions)
    # Read-your-writes for the whole ledger partition: the slot counts every
    # payout the log held when we asked (a write since then collides on its key).
    heads = await region.log.last_seqs()
    await region.projector.wait_for(home, heads[home], region.settings.min_seq_wait_s)

    def read(db: sqlite3.Connection) -> tuple[tuple[str, int] | None, int, int]:
        made = ledger.payout_of_request(db, request_id)
        return made, ledger.payout_count(db, creator_id), balance(db, creator_id, rates, now)

    made, slot, held = await region.store.query(read)
    if made is not None:
        same = (creator_id, amount_micros, reference, request_id)
        done = await prior(
            region, slot_key(*made), PayoutSent,
            lambda p: (p.creator_id, p.amount_micros, p.reference, p.request_id) == same,
        )  # fmt: skip
        if done is not None:
            return PayoutPlan(slot_key(*made), home, done.payload, replay=done)
    _amount(amount_micros, positive=True)
    await require_creator(region, creator_id)
    if amount_micros > held:
        raise Conflict(f"the balance is {held}", code="insufficient_balance")
    key = slot_key(creator_id, slot)
    try:
        payload = PayoutSent(
            payout_id=derived_id("pay_", key),
            creator_id=creator_id,
            amount_micros=amount_micros,
            reference=reference,
            slot=slot,
            request_id=request_id,
        )
    except ValidationError as exc:
        raise Unprocessable(exc.errors()[0]["msg"], code="invalid_payout") from exc
    return PayoutPlan(key, home, payload)


def payout_conflict() -> Conflict:
    """The answer to a payout that another one, checked against the same
    balance, beat to its slot: nothing of it was stored."""
    return Conflict(
        "another payout to this creator was posted at the same time; read the balance "
        "and try again",
        code="payout_conflict",
    )


async def commit_payout(
    region: Region, operator_id: str, plan: PayoutPlan, *, when: WriteTime = NOW
) -> Written[PayoutSent]:
    """Append a planned payout under its slot's key, in its creator's ledger
    partition: 409 ``payout_conflict`` when another request holds the slot."""
    if plan.replay is not None:
        return plan.replay
    mine = plan.payload.request_id
    written = await write(
        region, plan.key, plan.payload, actor=operator_id, when=when, partition=plan.partition
    )
    if written.payload.request_id != mine:  # the log already held the slot
        raise payout_conflict()
    # Past the log's duplicate window a second copy of a key is stored, and
    # the views keep the first: ask them which one holds the slot.
    held = await prior(region, plan.key, PayoutSent)
    if held is not None and held.payload.request_id != mine:
        raise payout_conflict()
    return written


async def pay_out(
    region: Region, operator_id: str, creator_id: str, amount_micros: int, reference: str,
    rates: Rates, now: int, *, idempotency_key: str | None, when: WriteTime = NOW,
) -> Written[PayoutSent]:  # fmt: skip
    """An operator records a payout to a creator, at most their balance
    (409 ``insufficient_balance``). Two payouts checked against one balance
    claim one slot; the one the log took first is written, the other is 409
    ``payout_conflict`` and stores nothing (ADR 031, amendment)."""
    plan = await plan_payout(
        region, operator_id, creator_id, amount_micros, reference, rates, now,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    return await commit_payout(region, operator_id, plan, when=when)


#: the highest rate per 1,000 qualified views, in millionths (as the setting)
MAX_RATE_MICROS = 10**12
#: how far ahead a rate may be set
MAX_RATE_AHEAD_MS = 366 * 86_400_000
#: how far behind this region's clock a rate may take effect: a retry of the
#: same write arriving a while later still validates
RATE_GRACE_MS = WINDOW_MS


async def set_rate(
    region: Region, operator_id: str, rate_micros: int, effective_from: int | None,
    reason: str, *, idempotency_key: str | None, when: WriteTime = NOW,
) -> Written[EarningsRateSet]:  # fmt: skip
    """An operator sets the earnings rate from ``effective_from`` (unix ms;
    None: the write's own time) on: 403 ``not_an_operator``; 422 ``rate_out_of_range``,
    ``reason_required``, ``rate_in_the_past`` (days already counting keep
    their rate: a correction is an adjustment), ``effective_from_out_of_range``
    (more than a year ahead). (ADR 031, amendment.)"""
    await require_role(region, operator_id, "operator")
    key = log_key(operator_id, "earnings-rate", idempotency_key)
    same = (rate_micros, reason.strip())
    if done := await prior(
        region, key, EarningsRateSet,
        lambda p: (p.rate_micros, p.reason) == same
        and effective_from in (None, p.effective_from),
    ):  # fmt: skip
        return done
    if not 0 <= rate_micros <= MAX_RATE_MICROS:
        raise Unprocessable(
            f"a rate is 0 to {MAX_RATE_MICROS} millionths per 1,000", code="rate_out_of_range"
        )
    if not reason.strip():
        raise Unprocessable("a rate change says why", code="reason_required")
    if len(reason) > MAX_UPDATE_CHARS:
        raise Unprocessable(f"a reason has at most {MAX_UPDATE_CHARS} characters", code="too_long")
    at = event_time(region, when)
    if effective_from is None:
        effective_from = at
    # from the write's own time (alike in every region), and never more than
    # a window back from this region's clock (a Write-At may lag a day)
    if effective_from < max(at, now_ms() - RATE_GRACE_MS):
        raise Unprocessable(
            "a rate applies from now on; days already counting keep their rate "
            "(correct them with an adjustment)",
            code="rate_in_the_past",
        )
    if effective_from > at + MAX_RATE_AHEAD_MS:
        raise Unprocessable(
            "a rate is set at most a year ahead", code="effective_from_out_of_range"
        )
    try:
        payload = EarningsRateSet(
            rate_micros=rate_micros, effective_from=effective_from, reason=reason.strip()
        )
    except ValidationError as exc:
        raise Unprocessable(exc.errors()[0]["msg"], code="invalid_rate") from exc
    return await write(region, key, payload, actor=operator_id, at=at)


async def close_month(
    region: Region, creator_id: str, period: str, rates: Rates, now: int
) -> Written[CreditPosted] | None:
    """Post ``creator_id``'s credit for ``period`` once the month ended (its
    credit may be 0: the month is closed all the same); None when it is
    still open or was posted already.
    Written under this region's own key (ADR 031): every closer may write
    one; the earliest counts."""

    def read(db: sqlite3.Connection) -> CreditPosted | None:
        since, until = month_bounds(period, zone_of(db, creator_id))
        if now < until or ledger.credit(db, creator_id, period) is not None:
            return None
        base, credit, lines = provisional_credit(db, creator_id, since, until, now, rates)
        return CreditPosted(
            creator_id=creator_id,
            period=period,
            since=since,
            until=until,
            base_micros=base,
            lines=tuple(lines),
            credit_micros=credit,
            region=region.name,
        )

    payload = await region.store.query(read)
    if payload is None:
        return None
    key = f"sla:{creator_id}:{period}:by:{region.name}"
    if done := await prior(region, key, CreditPosted):
        return done
    return await write(region, key, payload, actor="", at=max(now, payload.until))
