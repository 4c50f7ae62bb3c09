"""``stormproof status``: the status page away from any server."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stormproof.settings import Settings

app = typer.Typer(help="The status page away from any server.", no_args_is_help=True)
console = Console()


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="Where to write the copy (made if missing).")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            envvar="STORMPROOF_DATA_DIR",
            help="A region's data folder to read the page from (read-only; safe while it runs).",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--from", help="A running region's address to fetch the page from."),
    ] = None,
) -> None:
    """Write a copy of the status page — index.html, status.json, feed.atom,
    and with --data the published postmortems — that opens with no server,
    to put anywhere for the day no region is up. Read from a region's data
    folder (--data) or a running region (--from)."""
    from stormproof.status.export import ExportError, from_data, from_url, write_snapshot
    from stormproof.status.postmortem import Postmortem

    if (data is None) == (url is None):
        console.print("[red]say where to read the page: --data DIR or --from URL (one of them)")
        raise typer.Exit(2)
    postmortems: list[Postmortem] = []
    try:
        if url is not None:
            document = from_url(url)
        else:
            assert data is not None
            document, postmortems = from_data(Settings.from_env(os.environ, data_dir=data))
    except ExportError as exc:
        console.print(f"[red]{exc.message}")
        raise typer.Exit(1) from None
    written = write_snapshot(folder, document, now=dt.datetime.now(dt.UTC), postmortems=postmortems)
    console.print(
        f"wrote {', '.join(path.name for path in written)} to {folder} "
        f"(region {document.status.region}, position {document.status.position}, "
        f"{document.status.state}): open {folder / 'index.html'}"
    )
