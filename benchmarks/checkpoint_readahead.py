"""A cold load of an engine checkpoint, with and without reading it ahead.

Each round empties the page cache (root: ``/proc/sys/vm/drop_caches``), then
starts a fresh interpreter that does what a region's process does up to its
engine: with ``ask``, first `readahead.in_background` (ADR 037), then the
imports of the checkpoint module and the engine (numpy among them), then the
load; with ``none``, the same without the readahead. It prints each one's
imports, load and total seconds, the two modes taking turns.

To see a slower disk than this machine's, run it in a cgroup (v1) whose reads
are throttled, with the kernel's default readahead window, e.g.::

    mkdir /sys/fs/cgroup/blkio/slow
    echo "254:0 400" > /sys/fs/cgroup/blkio/slow/blkio.throttle.read_iops_device
    echo "254:0 104857600" > /sys/fs/cgroup/blkio/slow/blkio.throttle.read_bps_device
    echo 128 > /sys/block/vda/queue/read_ahead_kb
    echo $$ > /sys/fs/cgroup/blkio/slow/cgroup.procs

Usage: PYTHONPATH=src .venv/bin/python benchmarks/checkpoint_readahead.py
       CHECKPOINT [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from cluster_restarts import DROP_CACHES, drop_page_cache

#: one cold start up to the engine: argv[1] the checkpoint, argv[2] the mode
START = """
import json, sys, time
began = time.monotonic()
from pathlib import Path
from stormproof.recommend import readahead
path, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "ask":
    readahead.in_background(path)
at = time.monotonic()
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import EngineConfig
imported = time.monotonic()
partitions = len(checkpoint.read_header(path)["position"])
engine = checkpoint.load(path, EngineConfig(), (2**62,) * partitions)
loaded = time.monotonic()
assert engine is not None, "not a checkpoint this code loads"
print(json.dumps({"imports_s": imported - at, "load_s": loaded - imported,
                  "total_s": loaded - began}))
"""


def cold_start(path: Path, mode: str) -> dict[str, float]:
    drop_page_cache()
    done = subprocess.run(
        [sys.executable, "-c", START, str(path), mode],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    return {name: round(s, 2) for name, s in json.loads(done.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a region's foryou.checkpoint")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.access(DROP_CACHES, os.W_OK):
        parser.error(f"each round writes {DROP_CACHES}: run as root")
    found: dict[str, list[float]] = {"none": [], "ask": []}
    for n in range(args.rounds):
        for mode, totals in found.items():
            figures = cold_start(args.checkpoint, mode)
            totals.append(figures["total_s"])
            print(f"round {n + 1}, {mode}: {figures}", flush=True)
    for mode, totals in found.items():
        print(f"{mode}: total {', '.join(f'{s} s' for s in totals)}")


if __name__ == "__main__":
    main()
