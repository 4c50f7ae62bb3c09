"""The ``stormproof`` command."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from stormproof.cluster_cli import app as cluster_app
from stormproof.log import Position
from stormproof.log.sqlite import SqliteLog
from stormproof.recommend import checkpoint
from stormproof.settings import Settings
from stormproof.views import all_views
from stormproof.views import reports as reports_view
from stormproof.views.projector import Projector
from stormproof.views.store import Digests, ViewStore

app = typer.Typer(
    help="stormproof: a short-video platform that survives losing a data center.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
app.add_typer(cluster_app, name="cluster")

DataOption = Annotated[
    Path,
    typer.Option(
        "--data", envvar="STORMPROOF_DATA_DIR", help="The region's data folder (log, views, blobs)."
    ),
]


def _settings(data: Path, **overrides: object) -> Settings:
    return Settings.from_env(os.environ, data_dir=data, **overrides)


@contextmanager
def _exclusive(data: Path, what: str) -> Iterator[None]:
    """Hold the data folder's lock: one server or one rebuild at a time."""
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
        bool, typer.Option("--demo/--no-demo", help="Seed demo users and videos if empty.")
    ] = True,
) -> None:
    """Run one region: the API, the embedded log and the views."""
    from stormproof.api import create_app
    from stormproof.api.serving import server_config
    from stormproof.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo

    settings = _settings(data)
    with _exclusive(data, "serve"):
        if demo:
            console.print(
                f"demo users {', '.join(DEMO_USERS)} (password {DEMO_PASSWORD!r}) "
                "are seeded into an empty data folder"
            )
        app_ = create_app(settings, on_ready=seed_demo if demo else None)
        console.print(f"stormproof on http://{host}:{port}  (API docs: /docs, data: {data})")
        uvicorn.Server(server_config(app_, settings, host=host, port=port, log_level="info")).run()


@app.command()
def rebuild(data: DataOption = Path("var")) -> None:
    """Rebuild every view from sequence 0 of the log (stop the server first)."""
    settings = _settings(data)
    with _exclusive(data, "rebuild"):
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
        console.print(f"rebuilt {len(all_views())} views up to position {list(position)}")


@app.command()
def digest(
    data: DataOption = Path("var"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print each view's digest — the For You engine's too — and the
    position they stand at (embedded log; a cluster: `cluster digest`)."""
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
    from stormproof.operators import operator_token
    from stormproof.region import load_secret

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


@app.command("eval")
def eval_(
    dataset: Annotated[
        Path | None, typer.Option(help="Interactions file.", exists=True, dir_okay=False)
    ] = None,
    synthetic: Annotated[
        bool,
        typer.Option(help="A small generated data set instead (nothing to download)."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the figures as JSON to this file."),
    ] = None,
    format: Annotated[str, typer.Option(help="movielens (u.data) or csv.")] = "movielens",
    user_col: Annotated[str, typer.Option(help="CSV user column.")] = "user",
    item_col: Annotated[str, typer.Option(help="CSV item column.")] = "item",
    time_col: Annotated[str, typer.Option(help="CSV time column.")] = "timestamp",
    sep: Annotated[str, typer.Option(help="CSV separator.")] = ",",
    models: Annotated[
        str, typer.Option(help="Comma-separated models.")
    ] = "stormproof,popular,itemknn,recent_itemknn,als,als_foldin",
) -> None:
    """Replay a dataset in time order through the recommenders and report Recall/NDCG.

    Prints a table; writes a file only where --json says."""
    from stormproof.recommend.evaluate import evaluate, run
    from stormproof.recommend.synthetic import synthetic as synthetic_dataset

    if (dataset is None) == (not synthetic):
        raise typer.BadParameter("give --dataset FILE or --synthetic", param_hint="--dataset")
    if format not in ("movielens", "csv"):
        raise typer.BadParameter("movielens or csv", param_hint="--format")
    try:
        if dataset is None:
            result = evaluate(synthetic_dataset(), models.split(","))
        else:
            result = run(
                dataset,
                format="csv" if format == "csv" else "movielens",
                user_col=user_col,
                item_col=item_col,
                time_col=time_col,
                sep=sep,
                models=models.split(","),
            )
    except ValueError as e:
        console.print(f"[red]{e}")
        raise typer.Exit(2) from None
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table("model", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "coverage")
    for name, figures in result["models"].items():
        table.add_row(name, *(f"{v:.4f}" for v in figures.values()))
    console.print(f"{result['dataset']}: {result['events']} events, {result['test_events']} test")
    console.print(table)


if __name__ == "__main__":
    app()
