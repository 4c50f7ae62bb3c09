"""``stormproof maintenance``: list maintenance windows, and plan them as an
operator (ADR 021): while a window is in progress its components read
"under maintenance" and their failing probes open no incident.

Moments are given as an operator thinks of them — ``now``, ``+30m``,
``+2h``, ``+1d``, or an ISO 8601 time (UTC unless it names an offset) —
and sent as the unix milliseconds the API takes.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

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
from stormproof.vocabulary import COMPONENTS

app = typer.Typer(
    help="Scheduled maintenance: list it; operators schedule and complete it.",
    no_args_is_help=True,
)
console = Console()

_RELATIVE = re.compile(r"\+(\d{1,6})([mhd])")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def moment(text: str) -> int:
    """``now``, ``+90m``/``+2h``/``+1d`` from now, or an ISO 8601 time (UTC
    unless it says otherwise), as unix ms."""
    now = int(time.time() * 1000)
    if text == "now":
        return now
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now + int(relative[1]) * _UNIT_MS[relative[2]]
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "a moment is now, +30m, +2h, +1d or an ISO 8601 time (2026-12-03T14:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


MomentHelp = "now, +30m, +2h, +1d, or an ISO 8601 time (UTC unless it names an offset)."


@app.command("list")
def list_(
    days: Annotated[int, typer.Option(help="Also those that ended this many days ago.")] = 7,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Maintenance scheduled, in progress, and recently completed."""
    page = Target(data, url, None).read("/v1/maintenance", {"days": days})
    if as_json:
        print_json(page["items"])
        return
    if not page["items"]:
        console.print("no maintenance")
        return
    for window in page["items"]:
        where = ", ".join(window["regions"]) + ": " + ", ".join(window["components"])
        console.print(
            f"[bold]{window['id']}[/]  {window['state']} · {escape(window['title'])} · {where}\n"
            f"  {when(window['starts_at'])} to {when(window['ends_at'])}",
            soft_wrap=True,
        )


def _print_written(verb: str, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
        return
    window = answer["maintenance"]
    console.print(
        f"{verb} {window['id']}: {escape(window['title'])} — {window['state']}, "
        f"{when(window['starts_at'])} to {when(window['ends_at'])} (seq {answer['seq']})",
        soft_wrap=True,
    )


@app.command()
def schedule(
    title: Annotated[str, typer.Option("--title", help="The work, in a few words.")],
    region: Annotated[list[str], typer.Option("--region", help="A region it holds; repeat.")],
    component: Annotated[
        list[str],
        typer.Option("--component", help=f"One of {', '.join(COMPONENTS)}; repeat for several."),
    ],
    starts: Annotated[
        int, typer.Option("--starts", parser=moment, help="When it starts: " + MomentHelp)
    ],
    ends: Annotated[int, typer.Option("--ends", parser=moment, help="When it ends: " + MomentHelp)],
    text: Annotated[str, typer.Option("--text", help="What people are told.")],
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Schedule maintenance (operators): a window of at most 7 days."""
    body = {
        "title": title, "regions": region, "components": component,
        "starts_at": starts, "ends_at": ends, "text": text,
    }  # fmt: skip
    answer = Target(data, url, user, writes=True).write("POST", "/v1/maintenance", body, key)
    _print_written("scheduled", answer, as_json)


@app.command()
def complete(
    maintenance_id: Annotated[str, typer.Argument(help="The window's id (`maintenance list`).")],
    text: Annotated[str, typer.Option("--text", help="How it went.")] = "",
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a window now (operators): the work is done, or called off."""
    path = f"/v1/maintenance/{segment(maintenance_id)}/complete"
    answer = Target(data, url, user, writes=True).write("POST", path, {"text": text}, key)
    _print_written("completed", answer, as_json)
