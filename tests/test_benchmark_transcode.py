"""benchmarks/transcode.py runs the reference and the job machinery on a tiny
clip and prints its figures. No timing is asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "transcode.py"
SRC = Path(__file__).parents[1] / "src"


def test_the_transcode_benchmark_prints_a_figure_per_rung_and_the_waits() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [
        sys.executable, str(SCRIPT),
        "--seconds", "1", "--width", "240", "--height", "426", "--fps", "15", "--rungs", "120,240",
        "--rotation", "90",  # stored as a phone stores portrait video: turned on the way
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "clip 1 s 240x426, coded 426x240 turned 90°" in out, out
    rows = re.findall(r"^ *(\d+)p +([0-9.]+) +([0-9.]+) +([0-9.]+)x$", out, re.MULTILINE)
    assert [int(rung) for rung, *_ in rows] == [120, 240], out
    assert all(float(x) > 0 for _, *figures in rows for x in figures), out
    assert re.search(r"whole ladder: reference [0-9.]+ CPU s; job machinery [0-9.]+ CPU s", out)
    assert re.search(r"first rung playable: [0-9.]+ s", out)
    assert re.search(r"whole ladder ready: [0-9.]+ s", out)
