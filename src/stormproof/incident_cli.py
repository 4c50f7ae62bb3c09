"""``stormproof incident``: read incidents, and post them as an operator.

Anyone may list and show incidents, as anyone may read ``/v1/incidents``;
opening, updating, correcting and resolving are an operator's account's
(ADR 021), signed in as ``--user`` (see :mod:`stormproof.cli_session`).
The commands pass what they are given to the API unchanged, so the API's
rules — and its codes, such as ``unknown_component`` — are the only ones.
"""

from __future__ import annotations

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
from stormproof.vocabulary import COMPONENTS, IMPACTS, INCIDENT_STATUSES

app = typer.Typer(
    help="Incidents: list and show them; operators open, update, correct and resolve them.",
    no_args_is_help=True,
)
console = Console()

IdArg = Annotated[str, typer.Argument(help="The incident's id (inc_…).")]
TextOption = Annotated[str, typer.Option("--text", help="What people are told.")]
ImpactHelp = f"One of {', '.join(IMPACTS)}."
ComponentHelp = f"One of {', '.join(COMPONENTS)}; repeat for several."


def _say(line: str) -> None:
    """A line that wraps in a narrow terminal, never cut short."""
    console.print(line, soft_wrap=True)


def _headline(incident: dict[str, Any]) -> str:
    where = ", ".join(incident["regions"]) + ": " + ", ".join(incident["components"])
    return (
        f"{incident['status']} · impact {incident['impact']} · {escape(incident['title'])}"
        f" · {where}"
    )


def _print_written(verb: str, answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
        return
    incident = answer["incident"]
    last = incident["updates"][-1]["id"]
    update = "" if last == incident["id"] else f"; update {last}"
    _say(
        f"{verb} {incident['id']}: {escape(incident['title'])} — {incident['status']}, "
        f"impact {incident['impact']}{update} (seq {answer['seq']})"
    )


@app.command("list")
def list_(
    only_open: Annotated[bool, typer.Option("--open", help="Only those not resolved.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, the latest first.")] = 20,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open and recent incidents, the latest first, each with its last update."""
    params = {"limit": limit, "open": only_open}
    page = Target(data, url, None).read("/v1/incidents", params)
    if as_json:
        print_json(page["items"])
        return
    if not page["items"]:
        console.print("no incidents")
        return
    for incident in page["items"]:
        last = incident["updates"][-1] if incident["updates"] else None
        _say(f"[bold]{incident['id']}[/]  {_headline(incident)}")
        if last:
            _say(f"  last update {when(last['at'])}: {escape(last['text'])}")


@app.command()
def show(
    incident_id: IdArg,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """An incident with every update, oldest first."""
    incident = Target(data, url, None).read(f"/v1/incidents/{segment(incident_id)}")
    if as_json:
        print_json(incident)
        return
    how = "automatic" if incident["automatic"] else "opened by an operator"
    _say(f"[bold]{incident['id']}[/]  {_headline(incident)}")
    resolved = incident["resolved_at"]
    _say(
        f"  {how}, {when(incident['opened_at'])}"
        + (f"; resolved {when(resolved)}" if resolved else "")
    )
    for update in incident["updates"]:
        _say(f"[bold]{when(update['at'])}[/]  {update['status']}  [dim]{update['id']}")
        _say(f"  {escape(update['text'])}")
        if update["corrected"]:
            _say(f"  [dim](corrected; it said: {escape(update['original_text'] or '')})")


@app.command("open")
def open_(
    title: Annotated[str, typer.Option("--title", help="What is wrong, in a few words.")],
    region: Annotated[list[str], typer.Option("--region", help="A region hit; repeat.")],
    component: Annotated[list[str], typer.Option("--component", help=ComponentHelp)],
    impact: Annotated[str, typer.Option("--impact", help=ImpactHelp)],
    text: TextOption,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open an incident by hand (operators), status investigating."""
    body = {
        "title": title, "regions": region, "components": component, "impact": impact,
        "text": text,
    }  # fmt: skip
    answer = Target(data, url, user, writes=True).write("POST", "/v1/incidents", body, key)
    _print_written("opened", answer, as_json)


@app.command()
def update(
    incident_id: IdArg,
    status: Annotated[
        str, typer.Option("--status", help=f"One of {', '.join(INCIDENT_STATUSES)}.")
    ],
    text: TextOption,
    impact: Annotated[str | None, typer.Option("--impact", help=ImpactHelp)] = None,
    component: Annotated[
        list[str] | None, typer.Option("--component", help="Also affected: " + ComponentHelp)
    ] = None,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Post an update (operators): a status, what people are told, maybe a new impact."""
    body = {"status": status, "text": text, "impact": impact, "components": component or []}
    _post_update(incident_id, body, Target(data, url, user, writes=True), key, as_json)


@app.command()
def resolve(
    incident_id: IdArg,
    text: TextOption,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an incident (operators), for good: an update with status resolved."""
    body = {"status": "resolved", "text": text}
    _post_update(incident_id, body, Target(data, url, user, writes=True), key, as_json)


def _post_update(
    incident_id: str, body: dict[str, Any], target: Target, key: str | None, as_json: bool
) -> None:
    answer = target.write("POST", f"/v1/incidents/{segment(incident_id)}/updates", body, key)
    _print_written("updated", answer, as_json)


@app.command()
def correct(
    incident_id: IdArg,
    update_id: Annotated[str, typer.Argument(help="The update's id (`incident show` lists it).")],
    text: Annotated[str, typer.Option("--text", help="What the update should have said.")],
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Correct what an update said (operators); the first text stays visible."""
    path = f"/v1/incidents/{segment(incident_id)}/updates/{segment(update_id)}/correction"
    answer = Target(data, url, user, writes=True).write("POST", path, {"text": text}, key)
    if as_json:
        print_json(answer)
        return
    _say(f"corrected {update_id} of {answer['incident']['id']} (seq {answer['seq']})")
