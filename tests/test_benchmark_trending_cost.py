"""benchmarks/trending_cost.py times For You pages after writes into past
trending buckets, with trending kept and summed afresh; both must give the
same pages. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_trending_benchmark_times_both_ways_and_finds_the_same_pages(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'benchmarks'}"}
    out = tmp_path / "figures.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "trending_cost.py"), "--videos", "3000",
               "--points", "3000", "--rounds", "4", "--json", str(out)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "same pages both ways: yes"
    figures = json.loads(out.read_text())
    assert {"afresh", "kept"} <= figures.keys() and figures["videos"] == 3000
