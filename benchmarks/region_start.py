"""What a region's processes cost to start, and to keep running idle.

    python benchmarks/region_start.py [--regions 3] [--idle 60]

Starts a fresh cluster on loopback (as the tests and `stormproof cluster up`
do), prints the wall time until every region is ready and each process's
CPU seconds at that moment (its start: imports, the API's routes, the log
and views opened), then leaves the cluster idle for ``--idle`` seconds and
prints the CPU each process used meanwhile (probes, checkpoint and snapshot
rounds, the log's polls). The API process's media worker is not counted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from suite_cpu import stat

from stormproof.cluster import LocalCluster
from stormproof.testing import free_base_port


def cpu_s(pid: int) -> float | None:
    """The CPU seconds ``pid`` used so far (None once it is gone)."""
    seen = stat(pid)
    return seen[1] if seen is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds left idle")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="region-start-") as folder:
        cluster = LocalCluster.create(Path(folder), args.regions, free_base_port(args.regions))
        try:
            started = time.monotonic()
            cluster.up()
            up_s = time.monotonic() - started
            pids = {name: cluster.pids(name) for name in cluster.names}
            at_ready = {
                (n, role): cpu_s(pid) for n, roles in pids.items() for role, pid in roles.items()
            }
            time.sleep(args.idle)
            after = {
                (n, role): cpu_s(pid) for n, roles in pids.items() for role, pid in roles.items()
            }
        finally:
            cluster.down()
    load = os.getloadavg()
    console.print(
        f"{args.regions} regions ready {up_s:.1f} s after `up`; load at the end {load[0]:.2f}"
    )
    table = Table("region", "process", "CPU s at ready", f"CPU s in {args.idle:.0f} s idle")
    for (name, role), start in sorted(at_ready.items()):
        end = after[name, role]
        idle = f"{end - start:.2f}" if start is not None and end is not None else "gone"
        table.add_row(name, role, f"{start:.2f}" if start is not None else "gone", idle)
    console.print(table)


if __name__ == "__main__":
    main()
