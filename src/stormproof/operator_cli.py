"""``stormproof operator``: give an account the operator role, or take it
away, on a region's data (ADR 021).

Holding the data folder is the authority: its secret is what the operator
token derives from. How the command reaches the log depends on what runs:

- ``--url`` given, or DIR a local cluster's folder (``cluster.json``): the
  regions run, so it asks their API (``POST /v1/operators``) with the
  operator token, one region after another until one answers — the region
  validates and appends as for any write;
- otherwise DIR is an embedded region's folder, which must not be in use
  (stop ``stormproof serve`` first, or pass its ``--url``): the command opens
  the region itself under the folder's lock, as ``rebuild`` does, catches up
  and appends through the same action.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from stormproof.errors import StormproofError

app = typer.Typer(
    help="Operators: accounts that may post incidents and maintenance.", no_args_is_help=True
)
console = Console()

UserArg = Annotated[str, typer.Argument(help="The account's username.")]
DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="STORMPROOF_DATA_DIR",
        help="The region's data folder, or a local cluster's (its secret is the authority).",
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="A running region's API: ask it instead of opening DIR."),
]


@app.command()
def grant(username: UserArg, data: DataOption = Path("var"), url: UrlOption = None) -> None:
    """Give USERNAME the operator role: it may then open, update and
    resolve incidents and schedule maintenance with its own session."""
    _change(username, data, url, grant=True)


@app.command()
def revoke(username: UserArg, data: DataOption = Path("var"), url: UrlOption = None) -> None:
    """Take the operator role from USERNAME."""
    _change(username, data, url, grant=False)


def _change(username: str, data: Path, url: str | None, *, grant: bool) -> None:
    username = username.lower()
    if url or (data / "cluster.json").exists():
        answer = _through_api(username, data, url, grant=grant)
        changed, seq = answer["changed"], answer["seq"]
    else:
        changed, seq = _in_process(username, data, grant=grant)
    role = "an operator" if grant else "not an operator"
    if changed:
        console.print(f"{username} is {role} now (seq {seq})")
    else:
        console.print(f"{username} was {role} already: nothing written")


def _urls(data: Path, url: str | None) -> list[str]:
    if url:
        return [url.rstrip("/")]
    from stormproof.cluster import LocalCluster

    return [spec.url for spec in LocalCluster.load(data).regions.values()]


def _secret_path(data: Path) -> Path:
    from stormproof.settings import Settings

    if (data / "cluster.json").exists():
        return data / "secret"
    return Settings.from_env(os.environ, data_dir=data).secret_path


def _through_api(username: str, data: Path, url: str | None, *, grant: bool) -> dict[str, Any]:
    from stormproof.operators import load_secret, operator_headers

    secret_path = _secret_path(data)
    if not secret_path.exists():
        console.print(f"[red]no secret in {data}: start the region once first")
        raise typer.Exit(2)
    headers = operator_headers(load_secret(secret_path))
    failures = []
    for base in _urls(data, url):
        try:
            if grant:
                answer = httpx.post(
                    f"{base}/v1/operators", json={"username": username}, headers=headers, timeout=30
                )
            else:
                answer = httpx.delete(
                    f"{base}/v1/operators/{username}", headers=headers, timeout=30
                )
        except httpx.HTTPError as exc:
            failures.append(f"{base}: {exc!r}")
            continue
        body: dict[str, Any] = answer.json()
        if answer.status_code in (200, 201):
            return body
        if answer.status_code < 500:  # a refusal another region would repeat
            console.print(f"[red]{body.get('code')}: {body.get('message')}")
            raise typer.Exit(1)
        failures.append(f"{base}: {answer.status_code} {body.get('code')}")
    console.print(f"[red]no region answered: {'; '.join(failures)}")
    raise typer.Exit(1)


def _in_process(username: str, data: Path, *, grant: bool) -> tuple[bool, int | None]:
    from stormproof.actions.roles import grant_role, revoke_role
    from stormproof.cli import exclusive  # the folder's lock, as serve and rebuild take it
    from stormproof.region import Region
    from stormproof.settings import Settings

    settings = Settings.from_env(os.environ, data_dir=data)
    if not settings.log_path.exists():
        console.print(f"[red]no region in {data}: start it once first")
        raise typer.Exit(2)

    async def run() -> tuple[bool, int | None]:
        region = Region.open(settings)
        try:
            await region.start()
            await region.caught_up()
            change = grant_role if grant else revoke_role
            written = await change(region, username)
            return written is not None, None if written is None else written.seq
        finally:
            await region.close()

    with exclusive(data, "change a role (stop the server, or pass --url)"):
        try:
            return asyncio.run(run())
        except StormproofError as exc:
            console.print(f"[red]{exc.code}: {exc.message}")
            raise typer.Exit(1) from None
