"""Decoding stored events: microseconds per entry, by event type, before and now.

Reads a sample of a log's entries (every ``--every``-th, by seq) from a
SQLite log file such as ``benchmarks/recovery.py`` writes, read-only, and
checks that every one decodes to the same event both ways (equal, same
payload type, same fields set and repr): before, the general path
(``json.loads``, the payload validated, then the envelope — the whole of
``decode`` until the current version was read in one pass); now,
``decode``. Then each type's entries are timed both ways, in chunks of
``--chunk`` entries, each chunk ``--rounds`` times both ways in turn, and
the faster round of each chunk counts (a busy spell on a shared machine
slows one round of one chunk, not a whole side). Printed: wall-clock and
CPU microseconds per entry, and how many entries took the one pass.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/decode.py LOG_SQLITE
           [--every 5] [--rounds 3] [--chunk 500]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from stormproof.events import (
    CURRENT_VERSION,
    UPCASTERS,
    Event,
    _decode_any,
    _decode_current,
    decode,
)

Figures = tuple[float, float]  # wall-clock and CPU time


def before(raw: bytes) -> Event:
    return _decode_any(raw, UPCASTERS, CURRENT_VERSION)


def seen(event: Event) -> object:
    return (event, type(event.data), event.model_fields_set, repr(event))


def alike(raw: bytes) -> bool:
    return seen(before(raw)) == seen(decode(raw))


def timed(read: Callable[[bytes], Event], bodies: list[bytes]) -> Figures:
    """Reading every body once: wall-clock and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    for raw in bodies:
        read(raw)
    return time.perf_counter() - wall, time.process_time() - cpu


def compared(bodies: list[bytes], rounds: int, chunk: int) -> tuple[Figures, Figures]:
    """Microseconds per entry before and now: per chunk, the round of least
    CPU time of each."""
    total_old, total_new = (0.0, 0.0), (0.0, 0.0)
    for start in range(0, len(bodies), chunk):
        part = bodies[start : start + chunk]
        old = new = (float("inf"), float("inf"))
        for _ in range(rounds):  # in turn, so that a busy spell slows both
            old = min(old, timed(before, part), key=lambda f: f[1])
            new = min(new, timed(decode, part), key=lambda f: f[1])
        total_old = (total_old[0] + old[0], total_old[1] + old[1])
        total_new = (total_new[0] + new[0], total_new[1] + new[1])
    n = len(bodies) / 1e6
    return (total_old[0] / n, total_old[1] / n), (total_new[0] / n, total_new[1] / n)


def sample(log: Path, every: int) -> dict[str, list[bytes]]:
    """Every ``every``-th entry's bytes, by event type."""
    db = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT body FROM log WHERE seq % ? = 0 ORDER BY seq", (every,))
        by_type: dict[str, list[bytes]] = defaultdict(list)
        for (body,) in rows:
            by_type[json.loads(body)["type"]].append(body)
        return dict(by_type)
    finally:
        db.close()


def line(name: str, n: int, one_pass: int, old: Figures, new: Figures) -> str:
    figures = f"{old[0]:9.1f} {old[1]:6.1f} {new[0]:7.1f} {new[1]:6.1f}"
    return f"{name:22} {n:7,} {one_pass:9,} {figures} {old[1] / max(new[1], 1e-9):5.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args()
    by_type = sample(args.log, args.every)
    differ = [raw for bodies in by_type.values() for raw in bodies if not alike(raw)]
    n = sum(map(len, by_type.values()))
    print(f"decoded alike both ways: {n - len(differ):,} of {n:,} entries")
    if differ:
        raise SystemExit(f"first that differs: {differ[0]!r}")
    print(f"{'type':22} {'entries':>7} {'one pass':>9} {'before µs':>9} {'cpu':>6} "
          f"{'now µs':>7} {'cpu':>6}   cpu÷")  # fmt: skip
    total_n = total_one_pass = 0
    total_old, total_new = (0.0, 0.0), (0.0, 0.0)
    for name, bodies in sorted(by_type.items(), key=lambda item: -len(item[1])):
        old, new = compared(bodies, args.rounds, args.chunk)
        one_pass = sum(_decode_current(raw, CURRENT_VERSION) is not None for raw in bodies)
        print(line(name, len(bodies), one_pass, old, new), flush=True)
        n = len(bodies)
        total_n, total_one_pass = total_n + n, total_one_pass + one_pass
        total_old = (total_old[0] + old[0] * n, total_old[1] + old[1] * n)
        total_new = (total_new[0] + new[0] * n, total_new[1] + new[1] * n)
    mean_old = (total_old[0] / total_n, total_old[1] / total_n)
    mean_new = (total_new[0] / total_n, total_new[1] / total_n)
    print(line("all (mean)", total_n, total_one_pass, mean_old, mean_new))


if __name__ == "__main__":
    main()
