"""How many creators and videos would keep studio totals at a threshold:
for each ``--at N``, the creators and the videos of a views file with at
least N views, and the share of all views that is theirs (ADR 030,
"Totals only where they pay": totals pay for dense creators only).

Reads ``--views`` (a region's views file, or a snapshot's) opened
immutable and read-only: never written, safe on a file a region is using
(its last committed pages may be missed).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/studio_density.py
       --views VIEWS.sqlite [--at 300 --at 1000 --at 3000]
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=Path, required=True)
    parser.add_argument("--at", type=int, action="append")
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.views}?immutable=1&mode=ro", uri=True)
    by_owner = [
        n
        for (n,) in db.execute(
            "SELECT COUNT(*) FROM studio_videos v JOIN studio_watches w "
            "ON w.video_id = v.video_id GROUP BY v.owner_id"
        )
    ]
    by_video = [n for (n,) in db.execute("SELECT COUNT(*) FROM studio_watches GROUP BY video_id")]
    views = sum(by_owner)
    print(f"{len(by_owner):,} creators and {len(by_video):,} videos with views; {views:,} views")
    print(f"most views of one creator: {max(by_owner, default=0):,}")
    for at in args.at or [300, 1000, 3000]:
        owners = [n for n in by_owner if n >= at]
        videos = [n for n in by_video if n >= at]
        share = sum(owners) / views if views else 0.0
        print(
            f"at {at:>6,}: {len(owners):,} creators ({sum(owners):,} views, {share:.1%}), "
            f"{len(videos):,} videos ({sum(videos):,} views)"
        )


if __name__ == "__main__":
    main()
