"""Restarts of one region of a cluster that already holds its history.

``benchmarks/recovery.py --cluster --keep`` builds a cluster with a long
history (a million entries take about half an hour to fill and apply); this
brings such a kept cluster up again and kills and restores one region
(SIGKILL of its API and its nats-server) ``--restarts`` times, the regions
otherwise at rest (probes only). For each restart it prints the seconds to
ready and the region's own state lines (``region.state``) with their times
since the restore began: when it started, each catch-up phase with what it
had left, and ready — where a restart's seconds go.

``--no-transcode`` runs the regions without their transcoders: the catalog
``recovery.py`` builds has 400,000 videos and no media, and with
transcoding on every region keeps planning their ladders and failing to
fetch their placeholder blob, a background load that has nothing to do with
recovering (and a real platform would not carry).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/cluster_restarts.py FOLDER
       [--restarts N] [--region NAME] [--settle S] [--wipe] [--no-transcode]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path

from stormproof.cluster import LocalCluster


def state_lines(log: Path, offset: int, began: float) -> list[str]:
    """The region's state lines written to ``log`` past ``offset``, each with
    its seconds since ``began`` (a wall-clock time)."""
    lines = []
    with log.open() as f:
        f.seek(offset)
        for line in f:
            if '"region.state"' not in line:
                continue
            try:
                said = json.loads(line)
            except ValueError:
                continue
            at = datetime.fromisoformat(said["ts"].replace("Z", "+00:00")).timestamp() - began
            left = said.get("remaining", "")
            lines.append(f"  {at:7.2f} s  {said.get('state', '')} {said.get('phase', '')} {left}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a cluster kept by recovery.py --keep")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--region", help="the region to restart (default: the last)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds between restarts")
    parser.add_argument("--wipe", action="store_true", help="its disks lost at each restart")
    parser.add_argument("--no-transcode", action="store_true", help="regions without transcoders")
    args = parser.parse_args()
    if args.no_transcode:  # the regions' processes inherit it (Settings.from_env)
        os.environ["STORMPROOF_TRANSCODE"] = "false"

    print(f"load average at the start: {os.getloadavg()[0]:.2f}", flush=True)
    cluster = LocalCluster.load(args.folder)
    started = time.monotonic()
    try:
        cluster.up(timeout=3600)
    except BaseException:
        cluster.down()
        raise
    print(f"up after {time.monotonic() - started:.1f} s", flush=True)
    name = args.region or cluster.names[-1]
    log = cluster.region_dir(name) / "api.log"
    ready = []
    try:
        for _ in range(args.restarts):
            time.sleep(args.settle)
            offset = 0 if args.wipe else log.stat().st_size
            cluster.kill(name)
            began, zero = time.time(), time.monotonic()
            cluster.restore(name, wipe=args.wipe, timeout=3600)
            ready.append(round(time.monotonic() - zero, 2))
            print(f"{name} ready after {ready[-1]} s", flush=True)
            print("\n".join(state_lines(log, offset, began)), flush=True)
    finally:
        cluster.down()
    print(f"ready after: {', '.join(f'{s} s' for s in ready)}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
