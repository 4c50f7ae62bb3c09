"""``/v1/ledger``, for operators: adjustments with a reason, payouts, the
earnings rate, and every creator's statement of a month (issue 15; ADR 031)."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

from fastapi import Query, Response
from pydantic import BaseModel, Field

from stormproof.actions import ledger as actions
from stormproof.api.deps import Fresh, IdemKey, OperatorCaller, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.routers.earnings import CSV_RESPONSES, PeriodPath, csv_of, now_ms, period_of
from stormproof.creators.ledger import Statement, rates_of, statement
from stormproof.events import MAX_UPDATE_CHARS
from stormproof.views import accounts, creator_settings, ledger

router = api_router(tags=["ledger"])


class AdjustmentIn(BaseModel):
    """422 ``invalid_amount`` for 0, ``reason_required`` without a reason;
    404 ``creator_not_found``."""

    creator_id: str = Field(max_length=64)
    amount_micros: int = Field(description="millionths of the currency; negative takes")
    reason: str = Field(max_length=MAX_UPDATE_CHARS)


class PayoutIn(BaseModel):
    """409 ``insufficient_balance`` above the balance; 409 ``payout_conflict``
    (nothing stored: read the balance and try again) when another payout
    checked against the same balance was written first (ADR 031, amendment)."""

    creator_id: str = Field(max_length=64)
    amount_micros: int
    reference: str = Field("", max_length=200)


class Posted(BaseModel):
    seq: int
    entry_id: str


@router.post("/v1/ledger/adjustments", status_code=201)
async def post_adjustment(
    body: AdjustmentIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> Posted:
    """Add to or take from a creator's balance, with a reason (operators only)."""
    written = await actions.adjust_balance(
        region, caller.user_id, body.creator_id, body.amount_micros, body.reason,
        idempotency_key=idempotency_key, when=when,
    )  # fmt: skip
    seq = acknowledge(response, region, written)
    return Posted(seq=seq, entry_id=written.payload.adjustment_id)


@router.post("/v1/ledger/payouts", status_code=201)
async def post_payout(
    body: PayoutIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> Posted:
    """Record a payout to a creator, at most their balance (operators only)."""
    written = await actions.pay_out(
        region, caller.user_id, body.creator_id, body.amount_micros, body.reference,
        rates_of(region.settings), now_ms(), idempotency_key=idempotency_key, when=when,
    )  # fmt: skip
    seq = acknowledge(response, region, written)
    return Posted(seq=seq, entry_id=written.payload.payout_id)


class RateIn(BaseModel):
    """422 ``rate_out_of_range``, ``reason_required``, ``rate_in_the_past``,
    ``effective_from_out_of_range`` (ADR 031, amendment)."""

    rate_micros: int = Field(description="millionths of the currency per 1,000 qualified views")
    effective_from: int | None = Field(
        None, description="unix ms: windows from this instant on earn at it (default: now)"
    )
    reason: str = Field(max_length=MAX_UPDATE_CHARS)


class RateOut(BaseModel):
    seq: int
    rate_micros: int
    effective_from: int


class RateSetOut(BaseModel):
    effective_from: int
    rate_micros: int
    at: int
    actor: str
    reason: str


class RatesOut(BaseModel):
    default_micros: int = Field(description="the setting: the rate before the first one set")
    in_force_micros: int
    rates: list[RateSetOut]


@router.post("/v1/ledger/rates", status_code=201)
async def set_rate(
    body: RateIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> RateOut:
    """Set what creators earn per 1,000 qualified views from an instant on
    (operators only)."""
    written = await actions.set_rate(
        region, caller.user_id, body.rate_micros, body.effective_from, body.reason,
        idempotency_key=idempotency_key, when=when,
    )  # fmt: skip
    seq = acknowledge(response, region, written)
    made = written.payload
    return RateOut(seq=seq, rate_micros=made.rate_micros, effective_from=made.effective_from)


@router.get("/v1/ledger/rates")
async def rates(region: RegionDep, caller: OperatorCaller, _: Fresh) -> RatesOut:
    """Every rate set, by the instant it is in force from (operators only)."""
    default, now = region.settings.earnings_rate_micros, now_ms()

    def read(db: sqlite3.Connection) -> RatesOut:
        schedule = ledger.rate_schedule(db)
        return RatesOut(
            default_micros=default,
            in_force_micros=ledger.rate_at(schedule, default, now),
            rates=[RateSetOut(**vars(r)) for r in schedule],
        )

    return await region.store.query(read)


class Statements(BaseModel):
    period: str
    statements: list[Statement]


@router.get("/v1/ledger/statements/{period}", response_model=Statements, responses=CSV_RESPONSES)
async def all_statements(
    period: PeriodPath,
    region: RegionDep,
    caller: OperatorCaller,
    _: Fresh,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Statements | Response:
    """Every creator's statement of a month: those who ever enrolled or have
    an entry (operators only)."""
    month = period_of(period)
    rates, now = rates_of(region.settings), now_ms()

    def read(db: sqlite3.Connection) -> list[Statement]:
        who = sorted(
            set(creator_settings.enrolled_creators(db)) | set(ledger.creators_with_entries(db))
        )
        people = [c for c in who if (a := accounts.account_by_id(db, c)) and not a.system]
        return [statement(db, c, month, rates, now) for c in people]

    found = await region.store.query(read)
    if format == "csv":
        return csv_of(found)
    return Statements(period=month, statements=found)
