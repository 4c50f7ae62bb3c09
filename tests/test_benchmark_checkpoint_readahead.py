"""benchmarks/checkpoint_readahead.py loads a checkpoint from a cold page
cache with and without reading it ahead, and prints each start's seconds.
No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "checkpoint_readahead.py"
SRC = Path(__file__).parents[1] / "src"


@pytest.mark.skipif(
    not os.access("/proc/sys/vm/drop_caches", os.W_OK), reason="empties the page cache: root"
)
def test_the_readahead_benchmark_loads_the_checkpoint_cold_both_ways(tmp_path: Path) -> None:
    engine = Engine(partitions=3)
    engine.upload("v0", "c", 0, 1000)
    engine.interact("u", "v0", "watch", (10, "e0", 0), 1000, True)
    engine.position = (11, 0, 0)
    path = tmp_path / "foryou.checkpoint"
    checkpoint.save(engine, path, full=True)
    command = [sys.executable, str(SCRIPT), str(path), "--rounds", "1"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "round 1, none: {'imports_s': " in out and "round 1, ask: {'imports_s': " in out
    assert out.splitlines()[-2].startswith("none: total ") and "ask: total " in out
