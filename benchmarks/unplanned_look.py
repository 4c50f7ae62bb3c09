"""The transcoder's look for videos no region planned, before and after the ``unplanned`` table.

On a region's views file (``views.sqlite`` of a region ``recovery.py
--keep`` built, say), opened read-only, it times ``--rounds`` runs of each
statement, taken in turn, and prints the median and the rows each found:

- **before**: the look as it was until d240b16, every live video checked for
  a plan (``NOT EXISTS``) and the survivors sorted by age;
- **now**: :func:`stormproof.views.renditions.unplanned_videos`, a range of
  the ``unplanned`` table's index joined to ``videos``.

The figures depend on the file's state: how many videos it holds, and how
many of them have no plan yet.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/unplanned_look.py VIEWS [--rounds 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from stormproof.views.renditions import unplanned_videos

#: the look until d240b16, kept here as the reference
BEFORE = (
    "SELECT v.video_id FROM videos v WHERE v.deleted = 0 AND v.created_at < ? "
    "AND NOT EXISTS (SELECT 1 FROM rendition_plans p WHERE p.video_id = v.video_id) "
    "ORDER BY v.created_at, v.video_id LIMIT ?"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("views", type=Path, help="a region's views.sqlite")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.views}?mode=ro", uri=True)
    before = int(time.time() * 1000) - 10_000

    def old(db: sqlite3.Connection) -> list[str]:
        return [row[0] for row in db.execute(BEFORE, (before, 100))]

    def new(db: sqlite3.Connection) -> list[str]:
        return unplanned_videos(db, before)

    looks: dict[str, Callable[[sqlite3.Connection], list[str]]] = {"before": old, "now": new}
    videos = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
    waiting = db.execute("SELECT COUNT(*) FROM unplanned").fetchone()[0]
    print(f"{args.views}: {videos:,} videos, {waiting:,} of them without a plan")
    found = {name: look(db) for name, look in looks.items()}  # and warms the page cache
    assert found["before"] == found["now"], "the two looks disagree"
    times: dict[str, list[float]] = {name: [] for name in looks}
    for _ in range(args.rounds):
        for name, look in looks.items():
            started = time.perf_counter()
            look(db)
            times[name].append(time.perf_counter() - started)
    for name in looks:
        median_ms = statistics.median(times[name]) * 1000
        print(f"{name:>6}: {median_ms:9.3f} ms a look (median of {args.rounds}), "
              f"{len(found[name])} found")  # fmt: skip


if __name__ == "__main__":
    main()
