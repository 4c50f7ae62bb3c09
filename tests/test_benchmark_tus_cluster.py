"""benchmarks/tus_cluster.py uploads over tus on a 3-region cluster, cuts a
region's power mid-upload and resumes on another; its figures hang
together. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "tus_cluster.py"
SRC = Path(__file__).parents[1] / "src"


def test_the_tus_benchmark_measures_throughput_and_a_resume_after_a_power_cut(
    tmp_path: Path,
) -> None:
    out = tmp_path / "figures.json"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, str(SCRIPT), "--mib", "1", "--chunk-kib", "128",
               "--rounds", "1", "--repeats", "1", "--json", str(out)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert json.loads(done.stdout) == figures

    put = figures["throughput"]
    chunk = 128 * 1024
    assert put["chunk_bytes"] == chunk and put["bytes"] > 4 * chunk
    assert put["chunks"] == -(-put["bytes"] // chunk)
    assert put["tus_s_each"] == [put["tus_s"]] and put["raw_s_each"] == [put["raw_s"]]
    assert 0 < put["tus_last_chunk_s"] < put["tus_s"] and put["raw_s"] > 0
    # the figures are rounded from unrounded seconds: equal up to rounding
    assert put["tus_mb_s"] == pytest.approx(put["bytes"] / 1e6 / put["tus_s"], rel=0.02)
    assert put["tus_over_raw"] == pytest.approx(put["raw_s"] / put["tus_s"], rel=0.02)

    [cut] = figures["cuts"]
    assert cut["cut"] != cut["resumed_on"]
    half = put["bytes"] // chunk // 2 * chunk
    assert cut["acknowledged_bytes"] == half  # nothing acknowledged was lost
    steps = cut["kill_to_head_s"] + cut["head_to_done_s"]
    assert 0 < steps <= cut["interrupted_s"] + 0.002
    assert abs(cut["extra_s"] - (cut["interrupted_s"] - cut["uninterrupted_s"])) <= 0.002
    assert figures["cut_median"]["extra_s"] == cut["extra_s"]  # one round: its own median
    assert cut["head_requests"] >= 1 + cut["head_503s"]
    assert figures["503s"] == cut["head_503s"] + cut["patch_retries"]
    assert len(cut["503_sources"]) == min(3, cut["head_503s"]) + min(3, cut["b_log_503_lines"])
