"""The ``stormproof`` command."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import os
import shutil
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from stormproof import __version__
from stormproof.cluster_cli import app as cluster_app
from stormproof.drill_cli import drill
from stormproof.eval_cli import eval_
from stormproof.incident_cli import app as incident_app
from stormproof.ledger_cli import app as ledger_app
from stormproof.maintenance_cli import app as maintenance_app
from stormproof.operator_cli import app as operator_app
from stormproof.postmortem_cli import app as postmortem_app
from stormproof.status_cli import app as status_app

# The server's own modules (the views, the log, uvicorn) are imported by the
# commands that use them: a client command — `ledger`, `incident`, `cluster
# status` — starts in a fraction of the time without them.
if TYPE_CHECKING:
    from stormproof.log import Position
    from stormproof.region import Region
    from stormproof.settings import Settings
    from stormproof.views.store import Digests

app = typer.Typer(
    help="stormproof: a short-video platform that survives losing a data center.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help, as click writes it: Typer's rich panels label every flag —
    # --help included — with a value type (`--help <bool>`) it does not take,
    # and keep the line breaks of docstrings. Subcommands (cluster) inherit this.
    rich_markup_mode=None,
)
console = Console()
app.add_typer(cluster_app, name="cluster")
app.add_typer(status_app, name="status")
app.add_typer(operator_app, name="operator")
app.add_typer(incident_app, name="incident")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(postmortem_app, name="postmortem")
app.add_typer(ledger_app, name="ledger")


def _print_version(value: bool) -> None:
    if value:
        print(f"stormproof {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    pass


DataOption = Annotated[
    Path,
    typer.Option(
        "--data", envvar="STORMPROOF_DATA_DIR", help="The region's data folder (log, views, blobs)."
    ),
]


def _settings(data: Path, **overrides: object) -> Settings:
    from stormproof.settings import Settings

    return Settings.from_env(os.environ, data_dir=data, **overrides)


@contextmanager
def exclusive(data: Path, what: str) -> Iterator[None]:
    """Hold the data folder's lock: one server, rebuild or role change at a time."""
    data.mkdir(parents=True, exist_ok=True)
    with (data / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print(f"[red]{data} is in use by another stormproof process; cannot {what}.")
            raise typer.Exit(2) from None
        yield


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data: DataOption = Path("var"),
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo", help="Seed demo people, videos and histories if DATA is empty."
        ),
    ] = True,
) -> None:
    """Run one region: the API, the embedded log and the views."""
    from stormproof.logs import configure_logs
    from stormproof.recommend import readahead

    settings = _settings(data)
    if not settings.url:  # its prober checks it where it listens
        settings = settings.model_copy(update={"url": _local_url(host, port)})
    configure_logs(settings.log_format, settings.log_level)
    _refuse_if_taken(host, port)
    with exclusive(data, "serve"):
        # the checkpoint's pages are read from the disk from here on, and the
        # views and engine opened, while the region and the app are imported
        readahead.in_background(settings.checkpoint_path)
        from stormproof.region import Region

        opened = Region.open_in_background(settings)
        import uvicorn

        from stormproof.api import create_app
        from stormproof.api.serving import server_config

        welcome = _welcome(host, port, data, demo=demo)
        app_ = create_app(settings, on_ready=welcome, opened=opened)
        uvicorn.Server(server_config(app_, settings, host=host, port=port, log_level="info")).run()


def _refuse_if_taken(host: str, port: int) -> None:
    """Say so at once when another program holds the port — not after a
    banner announcing a server that will never listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            console.print(f"[red]cannot listen on {host}:{port} ({exc.strerror}): is another "
                          f"server running there? Try --port {port + 1}.")  # fmt: skip
            raise typer.Exit(2) from None


def _local_url(host: str, port: int) -> str:
    """Where a server listening on ``host``:``port`` is reached from this machine."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{port}" if ":" not in shown else f"http://[{shown}]:{port}"


def _welcome(
    host: str, port: int, data: Path, *, demo: bool
) -> Callable[[Region], Awaitable[None]]:
    """What ``serve`` does once the views caught up: seed the demo, then say
    what to open and how to log in."""
    from stormproof.demo import DEMO_PASSWORD, DEMO_USERS, has_demo, seed_demo

    async def ready(region: Region) -> None:
        if demo and not any(await region.log.last_seqs()):
            console.print("seeding the demo community (a few seconds)…")
        if demo and (seeded := await seed_demo(region)):
            console.print(
                f"seeded the demo: {seeded.people} people, {seeded.videos} videos, "
                f"{seeded.interactions} interactions in {seeded.seconds:.1f} s"
            )
        url = _local_url(host, port)
        console.print(f"\n[bold]stormproof[/] is running on {url}  (data in {data})")
        console.print(f"  open    {url}/       the web app")
        console.print(f"          {url}/docs   the API, to try from the browser")
        if await has_demo(region):
            console.print(
                f"  log in  as any of {len(DEMO_USERS)} demo people, password {DEMO_PASSWORD}:"
            )
            console.print(f"          {', '.join(DEMO_USERS[:6])}, …")
            console.print(
                "          then GET /v1/feed/for-you?explain=1 says why each video is there"
            )
        console.print("  stop    Ctrl+C\n")

    return ready


@app.command()
def rebuild(data: DataOption = Path("var")) -> None:
    """Rebuild every view from sequence 0 of the log (stop the server first)."""
    from stormproof.log.sqlite import SqliteLog
    from stormproof.views import all_views
    from stormproof.views.projector import Projector
    from stormproof.views.store import ViewStore

    settings = _settings(data)
    with exclusive(data, "rebuild"):
        fresh = settings.views_path.with_name("views.rebuild.sqlite")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fresh}{suffix}").unlink(missing_ok=True)

        async def run() -> Position:
            log = SqliteLog(settings.log_path)
            store = ViewStore(fresh, all_views(), partitions=log.partitions)
            try:
                return await Projector(log, store, batch=2000).catch_up()
            finally:
                store.close()
                await log.close()

        position = asyncio.run(run())
        settings.checkpoint_path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{settings.views_path}{suffix}").unlink(missing_ok=True)
        shutil.move(fresh, settings.views_path)
        console.print(
            f"rebuilt {len(all_views())} views up to position {list(position)} "
            "(the For You engine rebuilds from the log when the region starts)"
        )


@app.command()
def digest(
    data: DataOption = Path("var"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print each view's digest — the For You engine's too — and the
    position they stand at (embedded log; a cluster: `cluster digest`)."""
    from stormproof.log.sqlite import SqliteLog
    from stormproof.recommend import checkpoint
    from stormproof.views import all_views
    from stormproof.views.store import ViewStore

    settings = _settings(data)
    if not settings.views_path.exists() or not settings.log_path.exists():
        console.print(f"[red]no embedded log and views in {data}")
        raise typer.Exit(2)

    async def run() -> Digests:
        log = SqliteLog(settings.log_path)
        store = ViewStore(settings.views_path, all_views(), partitions=log.partitions)
        try:
            engine = checkpoint.resume(settings.checkpoint_path, store.position())
            await checkpoint.catch_up(engine, log, store)
            store.followers.append(engine)
            return store.digests()
        finally:
            store.close()
            await log.close()

    digests = asyncio.run(run())
    if as_json:
        print(json.dumps(digests, indent=2, sort_keys=True))
        return
    console.print(f"position {digests['position']}")
    table = Table("view", "digest")
    for name, digest_ in digests["views"].items():
        table.add_row(name, digest_)
    console.print(table)


@app.command("operator-token")
def operator_token_(data: DataOption = Path("var")) -> None:
    """Print the operator token of the region (or cluster) whose data folder
    is DATA: send it as 'Authorization: Bearer <token>' to read /v1/health's
    details and /v1/digest."""
    from stormproof.operators import load_secret, operator_token

    settings = _settings(data)
    secret_path = data / "secret" if (data / "cluster.json").exists() else settings.secret_path
    if not secret_path.exists():
        console.print(f"[red]no secret in {data}: start the region once first")
        raise typer.Exit(2)
    print(operator_token(load_secret(secret_path)))


@app.command()
def reports(
    data: DataOption = Path("var"),
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the reports people filed about videos and comments, newest first
    (read-only: safe while the server runs)."""
    from stormproof.views import reports as reports_view

    settings = _settings(data)
    if not settings.views_path.exists():
        console.print(f"[red]no views in {data}")
        raise typer.Exit(2)
    db = sqlite3.connect(f"file:{settings.views_path}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        found = reports_view.reports(db, limit=limit)
    except sqlite3.OperationalError as exc:  # views written before reports existed
        console.print(f"[red]cannot read reports in {data}: {exc}")
        raise typer.Exit(2) from None
    finally:
        db.close()
    if as_json:
        print(json.dumps([dataclasses.asdict(r) for r in found], indent=2))
        return
    table = Table("at", "reporter", "target", "id", "reason", "note")
    for r in found:
        table.add_row(str(r.at), r.reporter_id, r.target, r.target_id, r.reason, r.note)
    console.print(table)


app.command("eval")(eval_)
app.command("drill")(drill)


if __name__ == "__main__":
    app()
