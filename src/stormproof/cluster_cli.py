"""``stormproof cluster``: run and break a local multi-region cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from stormproof.cluster import LocalCluster, describe_catch_up, recovery_split

app = typer.Typer(
    help="A local multi-region cluster on loopback: start it, cut a region's power, restore it.",
    no_args_is_help=True,
)
console = Console()

DataOption = Annotated[Path, typer.Option("--data", help="The cluster's state folder.")]
RegionArg = Annotated[str, typer.Argument(help="A region name, e.g. us-east.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: `cluster digest`'s exit codes besides 0 (2 is a usage error, as everywhere)
DIGESTS_DIFFER = 1
NO_COMMON_POSITION = 3

#: how each region state reads in a status table
_STATES = {
    "up": "[green]up",
    "frozen": "[magenta]frozen",
    "down": "[red]down",
    "starting": "[yellow]starting",
}


def _table(*headers: str) -> Table:
    """A table whose cells wrap, never cut, in a narrow terminal: an address
    cut to ``http://127.0.0.1:8…`` is useless. The first column (a name) and
    the second (an address, kept whole) do not wrap; the others fold."""
    first, second, *rest = headers
    return Table(
        Column(first, no_wrap=True),
        Column(second, no_wrap=True, min_width=len("http://127.0.0.1:65535")),
        *(Column(h, overflow="fold") for h in rest),
    )


def _print_progress(region: str, stage: str) -> None:
    console.print(f"{region}: {stage}")


def _state(row: dict[str, Any]) -> str:
    """``catching up 42 % · 120,345 left · ~14 s`` for a region catching up;
    else its state."""
    state: str = row["state"]
    if state == "catching up":
        return "[yellow]" + describe_catch_up(row["progress"], row.get("catch_up"))
    return _STATES.get(state, state)


def _load(data: Path) -> LocalCluster:
    try:
        return LocalCluster.load(data)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(2) from None


def _region(cluster: LocalCluster, name: str) -> str:
    if name not in cluster.regions:
        console.print(f"[red]no region {name!r}; regions: {', '.join(cluster.names)}")
        raise typer.Exit(2)
    return name


@app.command()
def up(
    data: DataOption,
    regions: Annotated[int, typer.Option(help="How many regions (1-5).")] = 3,
    base_port: Annotated[
        int | None,
        typer.Option(help="APIs listen on base+i, NATS on base+100+i and base+200+i."),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed the demo community into a new cluster.")
    ] = False,
) -> None:
    """Start every region (NATS server, API, views) and print their addresses."""
    cluster = LocalCluster.create(data, regions, base_port)
    cluster.up(progress=_print_progress, demo=demo)
    for spec in cluster.regions.values():
        console.print(f"{spec.name:<12} {spec.url}")


@app.command()
def status(data: DataOption, as_json: JsonOption = False) -> None:
    """Each region: address, state (up, catching up — how far, entries left,
    time left — starting, frozen, down), log sequence per partition, processes."""
    rows = _load(data).status()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = _table("region", "api", "state", "log", "processes")
    for row in rows:
        table.add_row(
            row["region"],
            row["api"],
            _state(row),
            str(row.get("log", "")),
            ", ".join(f"{k}={v}" for k, v in row["processes"].items()),
        )
    console.print(table)


@app.command()
def kill(region: RegionArg, data: DataOption) -> None:
    """Cut a region's power: SIGKILL all its processes at the same instant."""
    cluster = _load(data)
    cluster.kill(_region(cluster, region))
    console.print(f"{region}: power cut")


@app.command()
def freeze(region: RegionArg, data: DataOption) -> None:
    """A gray failure: SIGSTOP every process of a region (sockets stay open)."""
    cluster = _load(data)
    cluster.freeze(_region(cluster, region))
    console.print(f"{region}: frozen")


@app.command()
def thaw(region: RegionArg, data: DataOption) -> None:
    """SIGCONT a frozen region."""
    cluster = _load(data)
    cluster.thaw(_region(cluster, region))
    console.print(f"{region}: thawed")


@app.command()
def restore(
    region: RegionArg,
    data: DataOption,
    wipe: Annotated[
        bool, typer.Option("--wipe", help="The disks are lost too: rebuild from the others.")
    ] = False,
) -> None:
    """Power returns to a region; it catches up by itself and reports ready."""
    cluster = _load(data)
    health = cluster.restore(_region(cluster, region), wipe=wipe, progress=_print_progress)
    split = ", ".join(f"{part} {s:.1f} s" for part, s in recovery_split(health).items())
    console.print(f"{region}: restored{' from nothing' if wipe else ''} and ready ({split})")


@app.command()
def digest(
    data: DataOption,
    as_json: JsonOption = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the live regions to reach one position.")
    ] = 5.0,
) -> None:
    """The live regions' per-view digests at one common log position.

    Frozen, dead and catching-up regions are left out and named. Exits 1 when
    the live regions differ at one position, 3 when they never stood at one
    position within the timeout (writes flowing, or a region stuck)."""
    taken: dict[str, Any] = _load(data).digests(timeout)
    if as_json:
        print(json.dumps(taken, indent=2, sort_keys=True))
    else:
        _print_digests(taken)
    if taken["agree"] is None:
        raise typer.Exit(NO_COMMON_POSITION)
    if not taken["agree"]:
        raise typer.Exit(DIGESTS_DIFFER)


def _print_digests(taken: dict[str, Any]) -> None:
    regions = taken["regions"]
    for name, why in taken["left_out"].items():
        console.print(f"[yellow]{name} left out: {why}")
    if taken["agree"] is None:
        positions = ", ".join(f"{n} at {d['position']}" for n, d in regions.items())
        console.print(f"[red]the live regions never stood at one position: {positions or 'none'}")
        return
    verdict = "[green]they agree" if taken["agree"] else "[red]they DIFFER"
    console.print(f"{', '.join(regions)} at position {taken['position']}: {verdict}")
    table = Table("view", *(Column(name, overflow="fold") for name in regions))
    views = sorted(next(iter(regions.values()))["views"])
    for view in views:
        table.add_row(view, *(d["views"].get(view, "")[:16] for d in regions.values()))
    console.print(table)


@app.command()
def down(data: DataOption) -> None:
    """Stop every region of the cluster."""
    _load(data).down()
    console.print("cluster stopped")


@app.command(hidden=True)
def region(
    region: RegionArg,
    data: DataOption,
    demo: Annotated[bool, typer.Option("--demo", help="Seed the demo into an empty log.")] = False,
) -> None:
    """Run one region's API (started by `cluster up` / `restore`)."""
    from stormproof.logs import configure_logs
    from stormproof.recommend import readahead
    from stormproof.settings import Settings

    cluster = _load(data)
    spec = cluster.spec(_region(cluster, region))
    settings = Settings.from_env(  # tunables (password cost, limits) from STORMPROOF_*
        os.environ,
        data_dir=cluster.region_dir(region) / "region",
        region=region,
        region_index=spec.index,
        log_backend="jetstream",
        nats_urls=tuple(cluster.nats_urls_for(region)),
        secret_file=data / "secret",
        url=spec.url,
    )
    configure_logs(settings.log_format, settings.log_level)
    # the checkpoint's pages are read from the disk from here on, and the
    # views and engine opened, while the region and the app are imported
    readahead.in_background(settings.checkpoint_path)
    from stormproof.region import Region

    opened = Region.open_in_background(settings)
    import uvicorn

    from stormproof.api import create_app
    from stormproof.api.serving import server_config
    from stormproof.demo import seed_demo

    app_ = create_app(settings, on_ready=seed_demo if demo else None, opened=opened)
    config = server_config(
        app_, settings, host="127.0.0.1", port=spec.api_port, log_level="warning"
    )
    uvicorn.Server(config).run()
