"""``stormproof eval``: the offline replay (:mod:`stormproof.recommend.evaluate`)
on the command line, saying how it goes.

A replay of MovieLens-100K through every model takes minutes, most of them
in refreshes (ALS) and ranking: a bar shows the running phase and what
works in it, and each finished phase leaves a line with the seconds each
model spent there — so a slow model shows itself, in a terminal or a CI log.
The figures go to the terminal, and to a JSON file only where ``--json``
says: never a default file inside whatever folder it runs in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

__all__ = ["RichProgress", "eval_"]

console = Console()


class RichProgress:
    """A :class:`~stormproof.recommend.evaluate.ReplayProgress` on a rich
    console: a transient bar for the running phase, a line for each one done."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._name = ""
        self._started = 0.0

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def phase(self, name: str, events: int) -> None:
        self._name, self._started = name, time.perf_counter()
        self._task = self._bar.add_task(name, total=events or None)

    def working(self, what: str) -> None:
        if self._task is not None:
            self._bar.update(self._task, description=f"{self._name}: {what}")

    def advance(self, events: int) -> None:
        if self._task is not None and events:
            self._bar.advance(self._task, events)

    def done(self, seconds: Mapping[str, float]) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
            self._task = None
        took = time.perf_counter() - self._started
        models = "  ".join(f"{name} {spent:.1f} s" for name, spent in seconds.items())
        self._bar.console.print(f"{self._name:<16} {took:6.1f} s   {models}".rstrip())


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
    """Replay a dataset (--dataset FILE, or --synthetic) in time order through
    the recommenders and report Recall/NDCG."""
    from stormproof.recommend.evaluate import evaluate, run
    from stormproof.recommend.synthetic import synthetic as synthetic_dataset

    if (dataset is None) == (not synthetic):
        raise typer.BadParameter("give --dataset FILE or --synthetic", param_hint="--dataset")
    if format not in ("movielens", "csv"):
        raise typer.BadParameter("movielens or csv", param_hint="--format")
    try:
        with RichProgress(console) as progress:
            if dataset is None:
                result = evaluate(synthetic_dataset(), models.split(","), progress)
            else:
                result = run(
                    dataset,
                    format="csv" if format == "csv" else "movielens",
                    user_col=user_col,
                    item_col=item_col,
                    time_col=time_col,
                    sep=sep,
                    models=models.split(","),
                    progress=progress,
                )
    except ValueError as e:
        console.print(f"[red]{e}")
        raise typer.Exit(2) from None
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table("model", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "coverage", "seconds")
    table.columns[0].overflow = "fold"  # never cut a model's name in a narrow terminal
    for name, figures in result["models"].items():
        seconds = result["seconds"][name]
        table.add_row(name, *(f"{v:.4f}" for v in figures.values()), f"{seconds:.1f}")
    console.print(f"{result['dataset']}: {result['events']} events, {result['test_events']} test")
    console.print(table)
    if out is not None:
        console.print(f"figures written to {out}")
