"""``/v1/studio`` earnings, statements and SLA: a creator's own, or any
creator's for an operator (issue 15; ADR 031). Operators' writes are in
``ledger.py``."""

from __future__ import annotations

import csv
import html
import io
import sqlite3
import time
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from stormproof.actions import ledger as actions
from stormproof.api.deps import (
    Caller,
    Fresh,
    IdemKey,
    RegionDep,
    When,
    acknowledge,
)
from stormproof.api.routers import api_router
from stormproof.creators import sla
from stormproof.creators.ledger import (
    Rates,
    Statement,
    balance,
    month_bounds,
    provisional_credit,
    rate_in_force,
    rates_of,
    statement,
    this_month,
    zone_of,
)
from stormproof.errors import Forbidden, Unprocessable
from stormproof.events import ID_PATTERN, CreditLine
from stormproof.region import Region
from stormproof.views import creator_settings, roles

__all__ = ["CSV_RESPONSES", "PeriodPath", "csv_of", "now_ms", "period_of", "router", "sla_of"]

router = api_router(tags=["earnings"])

PeriodPath = Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")]
Format = Annotated[Literal["json", "csv", "html"], Query(description="json, csv or html")]
CreatorQuery = Annotated[
    str | None,
    Query(pattern=f"^{ID_PATTERN}$", description="whose (operators only; default: yours)"),
]


def now_ms() -> int:
    return int(time.time() * 1000)


def period_of(text: str) -> str:
    year, month = int(text[:4]), int(text[5:7])
    if not 1 <= month <= 12 or not 1970 <= year <= 9998:
        raise Unprocessable("a period is a month, YYYY-MM, 1970-9998", code="invalid_period")
    return text


async def _whose(region: Region, caller_id: str, creator_id: str | None) -> str:
    """The creator a request is about: the caller's own, or anyone's for an
    operator (403 ``not_your_statement`` otherwise)."""
    if creator_id is None or creator_id == caller_id:
        return caller_id
    if not await region.store.query(lambda db: roles.has_role(db, caller_id, "operator")):
        raise Forbidden("only its creator and operators see this", code="not_your_statement")
    await actions.require_creator(region, creator_id)
    return creator_id


class Earnings(BaseModel):
    creator_id: str
    enrolled: bool
    time_zone: str
    currency: str
    rate_micros_per_1000: int = Field(description="the rate in force now")
    qualified_after_ms: int
    balance_micros: int = Field(description="the sum of every entry of the ledger")
    period: str = Field(description="this month, YYYY-MM, in your time zone")
    period_earned_micros: int
    provisional_credit_micros: int = Field(description="the SLA credit if the month closed now")


@router.get("/v1/studio/earnings")
async def earnings(
    region: RegionDep, caller: Caller, _: Fresh, creator_id: CreatorQuery = None
) -> Earnings:
    """Your balance, whether you earn, and this month so far."""
    who = await _whose(region, caller.user_id, creator_id)
    rates, now = rates_of(region.settings), now_ms()

    def read(db: sqlite3.Connection) -> Earnings:
        zone = zone_of(db, who)
        period = this_month(now, zone)
        since, until = month_bounds(period, zone)
        base, credit, _ = provisional_credit(db, who, since, until, now, rates)
        spans = creator_settings.enrolled_spans(db, who)
        return Earnings(
            creator_id=who,
            enrolled=bool(spans) and spans[-1][1] is None,
            time_zone=zone.key,
            currency=rates.currency,
            rate_micros_per_1000=rate_in_force(db, rates, now),
            qualified_after_ms=rates.qualified_ms,
            balance_micros=balance(db, who, rates, now),
            period=period,
            period_earned_micros=base,
            provisional_credit_micros=credit,
        )

    return await region.store.query(read)


class EnrollmentIn(BaseModel):
    enrolled: bool


class Written(BaseModel):
    seq: int


@router.put("/v1/studio/earnings/enrollment")
async def enroll(
    body: EnrollmentIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> Written:
    """Opt in to earnings (or out): qualified views earn while you are in."""
    written = await actions.set_enrollment(
        region, caller.user_id, body.enrolled, idempotency_key=idempotency_key, when=when
    )
    return Written(seq=acknowledge(response, region, written))


class TimeZoneIn(BaseModel):
    zone: str = Field(max_length=64, description="an IANA name, as Europe/Paris")


@router.put("/v1/studio/time-zone")
async def set_time_zone(
    body: TimeZoneIn,
    region: RegionDep,
    caller: Caller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> Written:
    """Count your studio's days and statements' months in this zone (422
    ``unknown_time_zone`` for a name the tz database lacks)."""
    written = await actions.set_time_zone(
        region, caller.user_id, body.zone, idempotency_key=idempotency_key, when=when
    )
    return Written(seq=acknowledge(response, region, written))


async def _statement(region: Region, creator: str, period: str) -> Statement:
    rates, now = rates_of(region.settings), now_ms()
    return await region.store.query(lambda db: statement(db, creator, period, rates, now))


CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}, "text/html": {}},
        "description": "JSON, CSV or HTML",
    }
}
_COLUMNS = ("creator_id", "period", "kind", "date", "at", "amount_micros", "reason", "entry_id")


def _rows(found: Statement) -> list[list[object]]:
    return [
        [found.creator_id, found.period, e.kind, e.date, e.at, e.amount_micros, e.reason,
         e.entry_id or ""]
        for e in found.entries
    ]  # fmt: skip


def csv_of(statements: list[Statement]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for found in statements:
        writer.writerows(_rows(found))
    return Response(out.getvalue(), media_type="text/csv")


def _line(line: CreditLine) -> str:
    up = (line.minutes - line.minutes_down) / line.minutes * 100
    tier = (
        f"below {line.below_milli_percent / 1000:g} %: {line.credit_percent} %"
        if line.credit_percent
        else "no tier crossed"
    )
    return (
        f"{line.sli}: {line.minutes_down} of {line.minutes} minutes down, uptime {up:.3f} %, {tier}"
    )


def _html(found: Statement) -> HTMLResponse:
    e = html.escape
    money = f"{found.currency} millionths"
    rows = "".join(
        f"<tr><td>{e(x.date)}</td><td>{e(x.kind)}</td><td>{x.amount_micros}</td>"
        f"<td>{e(x.reason)}"
        + "".join(f"<br>{e(_line(line))}" for line in x.credit_lines or ())
        + "</td></tr>"
        for x in found.entries
    )
    provisional = ""
    if found.provisional_credit_micros is not None:
        lines = "".join(f"<li>{e(_line(line))}</li>" for line in found.provisional_lines or ())
        provisional = (
            f"<h2>SLA credit (provisional)</h2><p>{found.provisional_credit_micros} {money} "
            f"if the month closed now</p><ul>{lines}</ul>"
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Statement {e(found.period)}</title></head><body>"
        f"<h1>Statement {e(found.period)}</h1>"
        f"<p>{e(found.creator_id)}, {e(found.time_zone)}, amounts in {money}; "
        f"{'closed' if found.closed else 'open'}</p>"
        f"<p>Opening balance: {found.opening_balance_micros}</p>"
        "<table><thead><tr><th>Date</th><th>Entry</th><th>Amount</th><th>Why</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p>Closing balance: {found.closing_balance_micros}</p>{provisional}</body></html>"
    )
    return HTMLResponse(page)


def _answer(found: Statement, fmt: str) -> Statement | Response:
    if fmt == "csv":
        return csv_of([found])
    if fmt == "html":
        return _html(found)
    return found


@router.get("/v1/studio/statements/{period}", response_model=Statement, responses=CSV_RESPONSES)
async def studio_statement(
    period: PeriodPath,
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    creator_id: CreatorQuery = None,
    format: Format = "json",
) -> Statement | Response:
    """A month's statement: every entry and why, the balances before and
    after, and the SLA credit (posted, or provisional while the month is
    open). Yours; any creator's for an operator."""
    who = await _whose(region, caller.user_id, creator_id)
    return _answer(await _statement(region, who, period_of(period)), format)


class Incurred(BaseModel):
    """An incident that cost the creator minutes, and what it likely cost
    in views: None is "not enough history"."""

    incident_id: str
    title: str
    began_at: int
    resolved_at: int | None
    expected_qualified_views: float | None
    lost_qualified_views: int | None
    lost_earnings_micros: int | None


class Sla(BaseModel):
    creator_id: str
    period: str
    since: int
    until: int
    closed: bool
    base_micros: int
    credit_micros: int
    lines: list[CreditLine]
    incidents: list[Incurred]


@router.get("/v1/studio/sla")
async def studio_sla(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    period: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")] = None,
    creator_id: CreatorQuery = None,
) -> Sla:
    """Your upload and distribution availability for a month (default: this
    one), the credit it earns with its arithmetic, and each incident that
    cost you minutes with its estimated lost views."""
    who = await _whose(region, caller.user_id, creator_id)
    rates, now = rates_of(region.settings), now_ms()

    def read(db: sqlite3.Connection) -> Sla:
        zone = zone_of(db, who)
        month = period_of(period) if period else this_month(now, zone)
        since, until = month_bounds(month, zone)
        return sla_of(db, who, month, since, until, now, rates)

    return await region.store.query(read)


def sla_of(
    db: sqlite3.Connection, who: str, month: str, since: int, until: int, now: int, rates: Rates
) -> Sla:
    """A creator's SLA over ``[since, until)`` as it stands at ``now``."""
    base, credit, lines = provisional_credit(db, who, since, until, now, rates)
    met = []
    for incident in sla.met_incidents(db, who, since, until, now):
        end = incident.resolved_at if incident.resolved_at is not None else now
        lost = sla.lost_views(db, who, incident.began_at, end, rates.qualified_ms)
        met.append(
            Incurred(
                incident_id=incident.incident_id,
                title=incident.title,
                began_at=incident.began_at,
                resolved_at=incident.resolved_at,
                expected_qualified_views=None if lost is None else lost.expected,
                lost_qualified_views=None if lost is None else lost.lost,
                lost_earnings_micros=(
                    None
                    if lost is None
                    else lost.lost * rate_in_force(db, rates, incident.began_at) // 1000
                ),
            )
        )
    return Sla(
        creator_id=who,
        period=month,
        since=since,
        until=until,
        closed=now >= until,
        base_micros=base,
        credit_micros=credit,
        lines=lines,
        incidents=met,
    )
