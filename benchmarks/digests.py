"""View digests: seconds per view on a views file, the digest as it is against
the one before (one JSON encoding per row, ordered by every column).

Build a views file once with ``stormproof rebuild --data DIR`` on a copy of a
log (``benchmarks/recovery.py`` writes such logs), then point this at
``DIR/views.sqlite``. Each view is digested ``--rounds`` times both ways in
turn, on one read-only connection (as the snapshot worker opens it), and the
fastest round of each is printed, as wall-clock and CPU seconds: on a shared
machine CPU seconds move less. Then, unless ``--no-worker``, the whole file
once more as a snapshot digests it (``view_digests``: a child process).

Usage: .venv/bin/python benchmarks/digests.py VIEWS_FILE [--rounds 2] [--no-worker]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from stormproof.snapshots.digests import view_digests
from stormproof.snapshots.manifest import open_read_only
from stormproof.views import View, all_views


def digest_before(view: View, db: sqlite3.Connection) -> str:
    """``View.digest`` before batches: one ``json.dumps`` per row, rows
    ordered by every column (bytes as hex)."""

    def hex_of(value: object) -> str:
        if isinstance(value, bytes):
            return value.hex()
        raise TypeError(f"cannot digest {type(value).__name__}")

    digest = hashlib.sha256()
    for table in sorted(view.tables):
        columns = [
            row[1]
            for row in db.execute(f"PRAGMA table_info({table})")
            if row[1] not in view.local_columns
        ]
        order = ", ".join(columns)
        digest.update(f"{table}\n{order}\n".encode())
        for row in db.execute(f"SELECT {order} FROM {table} ORDER BY {order}"):
            digest.update(json.dumps(row, separators=(",", ":"), default=hex_of).encode() + b"\n")
    return digest.hexdigest()


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``work``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def line(name: str, rows: int, before: tuple[float, float], now: tuple[float, float]) -> str:
    figures = f"{before[0]:9.2f} {before[1]:6.2f} {now[0]:7.2f} {now[1]:6.2f}"
    return f"{name:12} {rows:9,} {figures} {before[1] / max(now[1], 1e-9):5.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("views", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()
    db = open_read_only(args.views)
    print(f"{'view':12} {'rows':>9} {'before s':>9} {'cpu':>6} {'now s':>7} {'cpu':>6}  cpu÷")
    total_rows, total_before, total_now = 0, (0.0, 0.0), (0.0, 0.0)
    for view in all_views():
        rows = sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in view.tables)
        before = now = (float("inf"), float("inf"))
        for _ in range(args.rounds):  # in turn, so that a busy spell slows both
            before = min(before, timed(partial(digest_before, view, db)))
            now = min(now, timed(partial(view.digest, db)))
        print(line(view.name, rows, before, now), flush=True)
        total_rows += rows
        total_before = (total_before[0] + before[0], total_before[1] + before[1])
        total_now = (total_now[0] + now[0], total_now[1] + now[1])
    print(line("total", total_rows, total_before, total_now))
    db.close()
    if not args.no_worker:
        wall = time.perf_counter()
        asyncio.run(view_digests(args.views, workers=1))
        print(f"view_digests, one child process: {time.perf_counter() - wall:.2f} s wall")


if __name__ == "__main__":
    main()
