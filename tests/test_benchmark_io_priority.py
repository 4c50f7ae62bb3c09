"""benchmarks/io_priority.py measures random reads alone and beside a
background reader in each I/O class, and prints each figure. No timing is
asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "io_priority.py"
SRC = Path(__file__).parents[1] / "src"


def test_the_io_priority_benchmark_prints_the_reads_of_each_case(tmp_path: Path) -> None:
    command = [
        sys.executable, str(SCRIPT), "--work", str(tmp_path), "--size-mb", "8", "--reads", "20",
        "--rounds", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[-3:]] == ["none", "default", "idle"], lines
    assert "round 1, background idle: " in done.stdout and " MB/s" in done.stdout
    assert not list(tmp_path.iterdir())  # its files are gone
