"""``stormproof postmortem``: read a resolved incident's postmortem, and
fill it in and publish it as an operator (ADR 025).

A draft is an operator's to read (sign in with ``--user``); once published
anyone may. Editing changes only the fields given, as ``PATCH`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stormproof.cli_session import (
    DataOption,
    JsonOption,
    KeyOption,
    Target,
    UrlOption,
    UserOption,
    print_json,
    segment,
)

app = typer.Typer(
    help="Postmortems of resolved incidents: read them; operators fill them in and publish.",
    no_args_is_help=True,
)
console = Console()

IdArg = Annotated[str, typer.Argument(help="The incident's id (inc_…).")]


def _path(incident_id: str) -> str:
    return f"/v1/incidents/{segment(incident_id)}/postmortem"


@app.command()
def show(
    incident_id: IdArg,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """A postmortem, as Markdown: a draft for operators (--user), anyone's once published."""
    postmortem = Target(data, url, user).read(_path(incident_id))
    if as_json:
        print_json(postmortem)
        return
    print(postmortem["markdown"])
    state = "published at " + postmortem["url"] if postmortem["published"] else "a draft"
    console.print(f"[dim]({state})")


@app.command()
def edit(
    incident_id: IdArg,
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="Why it happened.")] = None,
    lessons: Annotated[str | None, typer.Option("--lessons", help="What was learned.")] = None,
    action_item: Annotated[
        list[str] | None,
        typer.Option("--action-item", help="A thing to do; repeat. Replaces the list."),
    ] = None,
    publish: Annotated[
        bool | None,
        typer.Option("--publish/--unpublish", help="Make it public at its URL, or not."),
    ] = None,
    user: UserOption = None,
    data: DataOption = Path("var"),
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fill in root cause, lessons or action items, or publish (operators);
    fields not given stay as they were."""
    body = {
        "root_cause": root_cause,
        "lessons": lessons,
        "action_items": None if action_item is None else [{"text": t} for t in action_item],
        "published": publish,
    }
    given = {name: value for name, value in body.items() if value is not None}
    answer = Target(data, url, user, writes=True).write("PATCH", _path(incident_id), given, key)
    if as_json:
        print_json(answer)
        return
    postmortem = answer["postmortem"]
    state = "published at " + postmortem["url"] if postmortem["published"] else "a draft"
    console.print(
        f"edited the postmortem of {postmortem['incident_id']}: {state} (seq {answer['seq']})"
    )
