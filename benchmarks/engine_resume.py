"""What a restart spends resuming the For You engine from its checkpoint.

Takes a region's folder (``views.sqlite`` and ``foryou.checkpoint``, as
``benchmarks/recovery.py --keep`` leaves them; only read) and, ``--rounds``
times, in a fresh process each (as a restart is), times
``checkpoint.resume``: the base mapped, its deltas merged, the engine's
arrays made — and the process's imports before it, for scale. Prints the
median and each round. The page cache is whatever it is: the first round
may read from disk, the others mostly not.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/engine_resume.py FOLDER [--rounds 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = """
import json, sys, time
began = time.perf_counter()
from pathlib import Path
from stormproof.recommend import checkpoint
from stormproof.views import all_views
from stormproof.views.store import ViewStore
imported = time.perf_counter()
folder = Path(sys.argv[1])
store = ViewStore(folder / "views.sqlite", all_views(), partitions=3)
at = store.position()
store.close()
opened = time.perf_counter()
engine = checkpoint.resume(folder / "foryou.checkpoint", at)
resumed = time.perf_counter()
print(json.dumps({"imports_s": imported - began, "resume_s": resumed - opened,
                  "videos": len(engine.item_ids), "position": sum(engine.position)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a region's data folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(args.folder)],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        rounds.append(json.loads(done.stdout.splitlines()[-1]))
    resume = [round(r["resume_s"], 3) for r in rounds]
    imports = [round(r["imports_s"], 3) for r in rounds]
    print(f"{rounds[0]['videos']:,} videos, engine at {rounds[0]['position']:,} entries")
    print(f"resume: median {statistics.median(resume)} s; rounds {resume}")
    print(f"imports before it: median {statistics.median(imports)} s")
    if args.json:
        figures = {"resume_s": resume, "imports_s": imports, "videos": rounds[0]["videos"]}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
