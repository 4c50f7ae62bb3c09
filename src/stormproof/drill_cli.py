"""``stormproof drill``: cut a data center's power under load, and say what users saw.

The run itself is :mod:`stormproof.drill.runner`; this is the command around
it: choosing the scenario, the live view in the terminal (elapsed time, the
fault now in force, each operation's success and p99 over the last second),
Ctrl-C (the first one ends the run early — power comes back everywhere and
the report is still written; a second one stops at once, cleaning up), the
summary, and the exit code: 0 when the promise held ("passed", or "degraded
as designed" when a scenario takes out a majority), 1 when it was broken, 3
when the run was aborted or interrupted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # the drill's modules load when a drill runs, not with the CLI
    from stormproof.drill.runner import DrillResult, Snapshot
    from stormproof.drill.scenario import Scenario

__all__ = ["drill"]

console = Console()


def _live_view(snapshot: Snapshot) -> Group:
    head = Text(
        f"{snapshot.elapsed:5.0f} / {snapshot.duration:.0f} s   now: {snapshot.fault}",
        style="bold",
    )
    table = Table(box=None, pad_edge=False)
    for column in ("operation", "ok/s", "done/s", "success", "p99 ms"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for kind, (ok, done, p99) in sorted(snapshot.last_second.items()):
        share = ok / done if done else 0.0
        style = "green" if share >= 0.99 else "yellow" if share >= 0.9 else "red"
        table.add_row(kind, str(ok), str(done), Text(f"{share:.0%}", style=style), f"{p99:.0f}")
    return Group(head, table)


def drill(
    scenario: Annotated[
        str,
        typer.Argument(help="A built-in scenario's name or a TOML file (see --list)."),
    ] = "snowstorm",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Override the scenario's seed.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Where report.html and report.json go.")
    ] = Path("drill-report"),
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the JSON report here.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A scaled-down timeline and population, same faults.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the cluster's folder (its logs) afterwards.")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the built-in scenarios and exit.")
    ] = False,
) -> None:
    """Start a local three-region cluster, put simulated people on it, cut a
    region's power as the scenario says, and report what users experienced
    and whether anything acknowledged was lost. Exits 1 when the promise was
    broken, 3 when the run was aborted."""
    from stormproof.drill.runner import Interrupted
    from stormproof.drill.scenario import ScenarioError, builtin_scenarios, load_scenario

    if list_:
        for known in builtin_scenarios():
            console.print(f"[bold]{known.name:<16}[/bold] {known.description}", soft_wrap=True)
        return
    try:
        chosen = load_scenario(scenario)
    except ScenarioError as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    if seed is not None:
        chosen = chosen.with_seed(seed)
    if quick:
        chosen = chosen.quick()
    try:
        result = asyncio.run(_run(chosen, out, keep=keep, quick=quick))
    except (KeyboardInterrupt, asyncio.CancelledError, Interrupted):
        console.print("[yellow]stopped before the end: no report; no process left[/yellow]")
        raise typer.Exit(3) from None
    except Exception as exc:  # the drill could not run: say why, plainly
        console.print(f"[red]the drill could not run: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(2) from None
    from stormproof.drill import report

    console.print(report.summary(result.report))
    console.print(f"report: {result.paths.get('html', out / 'report.html')}")
    if json_file is not None:
        json_file.write_text(json.dumps(result.report, indent=2))
    raise typer.Exit(result.exit_code)


async def _run(chosen: Scenario, out: Path, *, keep: bool, quick: bool) -> DrillResult:
    from stormproof.drill.runner import run_drill

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    main = asyncio.current_task()

    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            interrupted.set()
            console.print(
                "[yellow]Ctrl-C: the load stops; power comes back everywhere (a restore "
                "under way ends first), then the report. Ctrl-C again to stop at once.[/yellow]"
            )
        elif presses == 2 and main is not None:
            main.cancel()  # stop now: every process is still stopped, once
            console.print("[yellow]stopping every process of the drill[/yellow]")

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    console.print(f"[bold]{chosen.name}[/bold]: {chosen.description}")
    began = time.monotonic()
    with Live(console=console, refresh_per_second=2, transient=True) as live:
        result = await run_drill(
            chosen,
            out=out,
            keep=keep,
            quick=quick,
            progress=lambda snap: live.update(_live_view(snap)),
            say=lambda line: live.console.print(f"  {time.monotonic() - began:5.1f} s  {line}"),
            interrupted=interrupted,
        )
    loop.remove_signal_handler(signal.SIGINT)
    return result
