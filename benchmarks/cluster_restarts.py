"""Restarts of one region of a cluster that already holds its history.

``benchmarks/recovery.py --cluster --keep`` builds a cluster with a long
history (a million entries take about half an hour to fill and apply); this
brings such a kept cluster up again and kills and restores one region
(SIGKILL of its API and its nats-server) ``--restarts`` times, the regions
otherwise at rest (probes only). For each restart it prints the seconds to
ready and the region's own state lines (``region.state``) with their times
since the restore began: when it started, each catch-up phase with what it
had left, and ready — where a restart's seconds go. At the end it lists,
for each restart, the work for later of every region (snapshots made ahead,
checkpoint saves, the restarted region's streams set up: ``snapshot.made``,
``checkpoint.saved``, ``region.streams``) that ran while the restarted
region was not ready, with its times since that restart began: on one
machine, the peers' work takes cores a restart could use.

``--cold`` empties the machine's page cache after each kill (root only,
``/proc/sys/vm/drop_caches``): a region's machine that lost its power
comes back with nothing of its files or its interpreter's libraries in
memory, while a killed process's files stay cached. On one machine this
empties the peers' caches too, which a real power cut would not.

``--no-transcode`` runs the regions without their transcoders: the catalog
``recovery.py`` builds has 400,000 videos and no media, and with
transcoding on every region keeps planning their ladders and failing to
fetch their placeholder blob, a background load that has nothing to do with
recovering (and a real platform would not carry).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/cluster_restarts.py FOLDER
       [--restarts N] [--region NAME] [--settle S] [--wipe] [--cold]
       [--no-transcode]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
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
            if '"region.state"' not in line and '"region.opened"' not in line:
                continue
            try:
                said = json.loads(line)
            except ValueError:
                continue
            at = datetime.fromisoformat(said["ts"].replace("Z", "+00:00")).timestamp() - began
            if said.get("event") == "region.opened":  # the process's own seconds, then the open's
                opened = (
                    f"process {said.get('process_s')} s, views and engine {said.get('open_s')} s"
                )
                lines.append(f"  {at:7.2f} s  opened ({opened})")
                continue
            left = said.get("remaining", "")
            lines.append(f"  {at:7.2f} s  {said.get('state', '')} {said.get('phase', '')} {left}")
    return lines


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> None:
    """Write back what is dirty, then empty the page cache (root only)."""
    os.sync()
    DROP_CACHES.write_text("1\n")


BACKGROUND_WORK = ("snapshot.made", "checkpoint.saved", "region.streams")


def background_work(log: Path, offset: int) -> list[tuple[float, float, str]]:
    """Each snapshot made, checkpoint saved and streams set up in ``log``
    past ``offset``: (began, ended, what), wall-clock seconds."""
    found = []
    with log.open() as f:
        f.seek(offset)
        for line in f:
            if not any(f'"{kind}"' in line for kind in BACKGROUND_WORK):
                continue
            try:
                said = json.loads(line)
                ended = datetime.fromisoformat(said["ts"].replace("Z", "+00:00")).timestamp()
                took = float(said["took_s"])
            except (ValueError, KeyError):
                continue
            what = "snapshot"
            if said.get("event") == "region.streams":  # the log's and blobs' set up
                what = "streams set up"
            if said.get("event") == "checkpoint.saved":
                kind = "delta" if said.get("delta") else "whole"
                what = f"{kind} checkpoint ({said.get('cpu_s')} CPU s)"
            found.append((ended - took, ended, what))
    return found


def overlapping(
    work: dict[str, list[tuple[float, float, str]]], began: float, ready_s: float
) -> list[str]:
    """The work of each region that ran within ``ready_s`` of ``began``."""
    return [
        f"  work: {name}, {what}, from {start - began:.2f} s to {end - began:.2f} s"
        for name, done in work.items()
        for start, end, what in done
        if start < began + ready_s and end > began
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a cluster kept by recovery.py --keep")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--region", help="the region to restart (default: the last)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds between restarts")
    parser.add_argument("--wipe", action="store_true", help="its disks lost at each restart")
    parser.add_argument("--cold", action="store_true", help="empty the page cache at each kill")
    parser.add_argument("--no-transcode", action="store_true", help="regions without transcoders")
    args = parser.parse_args()
    if args.cold and not os.access(DROP_CACHES, os.W_OK):
        parser.error(f"--cold writes {DROP_CACHES}: run as root")
    if args.no_transcode:  # the regions' processes inherit it (Settings.from_env)
        os.environ["STORMPROOF_TRANSCODE"] = "false"

    # A SIGTERM unwinds like Ctrl-C: the cluster is brought down on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
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
    logs = {other: cluster.region_dir(other) / "api.log" for other in cluster.names}
    offsets = {other: path.stat().st_size for other, path in logs.items()}
    ready, windows = [], []
    try:
        for _ in range(args.restarts):
            time.sleep(args.settle)
            offset = 0 if args.wipe else log.stat().st_size
            cluster.kill(name)
            if args.cold:  # before the clock starts: what a cold machine starts from
                dropping = time.monotonic()
                drop_page_cache()
                print(f"page cache emptied in {time.monotonic() - dropping:.2f} s", flush=True)
            began, zero = time.time(), time.monotonic()
            cluster.restore(name, wipe=args.wipe, timeout=3600)
            ready.append(round(time.monotonic() - zero, 2))
            windows.append(began)
            print(f"{name} ready after {ready[-1]} s", flush=True)
            print("\n".join(state_lines(log, offset, began)), flush=True)
    finally:
        cluster.down()
    if args.wipe:  # the wiped region's log began anew
        offsets[name] = 0
    work = {other: background_work(path, offsets[other]) for other, path in logs.items()}
    for n, (began, ready_s) in enumerate(zip(windows, ready, strict=True), 1):
        found = overlapping(work, began, ready_s)
        print(f"restart {n}: work for later while it was not ready: {len(found) or 'none'}")
        print("\n".join(found))
    print(f"ready after: {', '.join(f'{s} s' for s in ready)}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
