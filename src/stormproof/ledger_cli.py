"""``stormproof ledger``: the earnings ledger, for operators (issue 15; ADR 031).

Read a creator's statement of a month, post an adjustment with a reason or
a payout, export every creator's statements of a month as CSV, and list or
set the earnings rate — through the API, signed in as ``--user`` (an
operator's account: see :mod:`stormproof.cli_session`), so the API's rules
and codes (``reason_required``, ``insufficient_balance``,
``payout_conflict``, ``rate_in_the_past``…) are the only ones.

Creators are named by username. Amounts are given in units of the ledger's
currency (``12.50``; at most six decimals) and sent as the millionths the
API takes; a rate is per 1,000 qualified views.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stormproof.cli_session import (
    DataOption,
    JsonOption,
    KeyOption,
    Target,
    UrlOption,
    UserOption,
    print_json,
    segment,
    when,
)
from stormproof.maintenance_cli import MomentHelp, moment

__all__ = ["app", "micros", "units"]

app = typer.Typer(
    help="The earnings ledger (operators): statements, adjustments, payouts, exports, the rate.",
    no_args_is_help=True,
)
console = Console()

CreatorArg = Annotated[str, typer.Argument(help="The creator's username.")]
PeriodArg = Annotated[str, typer.Argument(help="The month, YYYY-MM (in the creator's zone).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: the creator reads it.")]

#: millionths in a unit of the currency
MICROS = 10**6


def micros(text: str) -> int:
    """``12.50`` (units of the currency) as millionths, exactly."""
    try:
        amount = Decimal(text.strip()) * MICROS
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not an amount such as 12.50") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise typer.BadParameter("an amount has at most six decimals")
    return int(amount)


def units(amount_micros: int) -> str:
    """Millionths as units of the currency, without losing a digit."""
    sign = "-" if amount_micros < 0 else ""
    whole, part = divmod(abs(amount_micros), MICROS)
    return f"{sign}{whole:,}.{part:06d}".rstrip("0").rstrip(".") if part else f"{sign}{whole:,}"


def _creator_id(target: Target, username: str) -> str:
    found: dict[str, Any] = target.read(f"/v1/accounts/{segment(username.lower())}")
    return str(found["id"])


@app.command()
def statement(
    creator: CreatorArg,
    period: PeriodArg,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A creator's statement of a month: every entry and why, the balances."""
    target = Target(data, url, user)
    creator_id = _creator_id(target, creator)
    found = target.read(f"/v1/studio/statements/{segment(period)}", {"creator_id": creator_id})
    if as_json:
        print_json(found)
        return
    state = "closed" if found["closed"] else "open"
    console.print(
        f"[bold]{escape(creator)}[/] {found['period']} ({escape(found['time_zone'])}, "
        f"{found['currency']}, {state})",
        soft_wrap=True,
    )
    table = Table("date", "kind", "amount", "why")
    for entry in found["entries"]:
        table.add_row(
            entry["date"], entry["kind"], units(entry["amount_micros"]), escape(entry["reason"])
        )
    console.print(table)
    console.print(
        f"opening {units(found['opening_balance_micros'])} · closing "
        f"{units(found['closing_balance_micros'])}"
        + (
            ""
            if found["provisional_credit_micros"] is None
            else f" · provisional SLA credit {units(found['provisional_credit_micros'])}"
        ),
        soft_wrap=True,
    )


@app.command()
def adjust(
    creator: CreatorArg,
    amount: Annotated[
        int,
        typer.Option(
            "--amount", parser=micros, help="Units of the currency to add (negative: take)."
        ),
    ],
    reason: ReasonOption,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add to (or take from) a creator's balance, saying why."""
    target = Target(data, url, user, writes=True)
    body = {"creator_id": _creator_id(target, creator), "amount_micros": amount, "reason": reason}
    answer = target.write("POST", "/v1/ledger/adjustments", body, key)
    if as_json:
        print_json(answer)
        return
    console.print(
        f"adjusted {escape(creator)} by {units(amount)}: {answer['entry_id']} (seq {answer['seq']})"
    )


@app.command()
def payout(
    creator: CreatorArg,
    amount: Annotated[
        int, typer.Option("--amount", parser=micros, help="Units of the currency paid out.")
    ],
    reference: Annotated[
        str, typer.Option("--reference", help="The transfer's reference, for the creator.")
    ] = "",
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a payout, at most the balance. ``payout_conflict``: another
    payout was posted at the same time; read the balance and run it again."""
    target = Target(data, url, user, writes=True)
    body = {
        "creator_id": _creator_id(target, creator), "amount_micros": amount,
        "reference": reference,
    }  # fmt: skip
    answer = target.write("POST", "/v1/ledger/payouts", body, key)
    if as_json:
        print_json(answer)
        return
    console.print(
        f"paid {escape(creator)} {units(amount)}: {answer['entry_id']} (seq {answer['seq']})"
    )


@app.command()
def export(
    period: PeriodArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the CSV here instead of to stdout.")
    ] = None,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
) -> None:
    """Every creator's statement of a month, one CSV row per entry."""
    text = Target(data, url, user).read_text(
        f"/v1/ledger/statements/{segment(period)}", {"format": "csv"}
    )
    if out is None:
        print(text, end="")
        return
    out.write_text(text)
    rows = max(0, text.count("\n") - 1)
    console.print(f"{rows} entries of {period} in {escape(str(out))}")


@app.command()
def rates(
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The earnings rate in force, and every rate set, per 1,000 qualified views."""
    found = Target(data, url, user).read("/v1/ledger/rates")
    if as_json:
        print_json(found)
        return
    console.print(
        f"in force: {units(found['in_force_micros'])} per 1,000 qualified views "
        f"(before any set: {units(found['default_micros'])})",
        soft_wrap=True,
    )
    for rate in found["rates"]:
        console.print(
            f"  from {when(rate['effective_from'])}: {units(rate['rate_micros'])} — "
            f"{escape(rate['reason'])} [dim](set {when(rate['at'])})",
            soft_wrap=True,
        )


@app.command("set-rate")
def set_rate(
    rate: Annotated[
        int,
        typer.Option(
            "--rate", parser=micros, help="Units of the currency per 1,000 qualified views."
        ),
    ],
    reason: ReasonOption,
    effective: Annotated[str, typer.Option("--from", help="In force from: " + MomentHelp)] = "now",
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the earnings rate from a moment on (never before the write: days
    already counting keep their rate)."""
    # now: the write's own time, as the region takes it
    starts = None if effective == "now" else moment(effective)
    body = {"rate_micros": rate, "effective_from": starts, "reason": reason}
    answer = Target(data, url, user, writes=True).write("POST", "/v1/ledger/rates", body, key)
    if as_json:
        print_json(answer)
        return
    console.print(
        f"rate {units(rate)} per 1,000 from {when(answer['effective_from'])} (seq {answer['seq']})"
    )
