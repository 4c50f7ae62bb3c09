"""benchmarks/cluster_restarts.py brings a kept cluster up, restarts one
region and tells where the seconds went, and what work for later ran
meanwhile. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stormproof.cluster import LocalCluster, free_base_port

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "cluster_restarts.py"
SRC = Path(__file__).parents[1] / "src"


def test_the_restarts_benchmark_restarts_the_region_and_prints_its_states(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "cluster"
    kept = LocalCluster.create(folder, 3, free_base_port())
    kept.up()
    kept.down()
    # probes write, and every region saves its checkpoint soon after: work
    # for later that runs while the restarted region is not ready
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "STORMPROOF_PROBE_EVERY_S": "1",
        "STORMPROOF_CHECKPOINT_EVERY_S": "0.5",
    }
    # a cold restart where the page cache may be emptied (root)
    cold = os.access("/proc/sys/vm/drop_caches", os.W_OK)
    command = [
        sys.executable, str(SCRIPT), str(folder), "--restarts", "1", "--settle", "0",
        "--no-transcode", *(["--cold"] if cold else []),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    name = kept.names[-1]
    assert f"{name} ready after" in out
    assert ("page cache emptied in" in out) == cold, out
    lines = out.splitlines()
    states = [line.split()[2] for line in lines if line.startswith("  ") and "work:" not in line]
    # where the start's seconds went, then the region's states
    assert states[0] == "opened" and "(process " in out, out
    assert states[1] == "starting" and states[-1] == "ready", out
    work = lines[lines.index(next(x for x in lines if x.startswith("restart 1: work"))) + 1 :]
    assert any(line.startswith("  work: ") and "checkpoint (" in line for line in work), out
    assert not LocalCluster.load(folder).pids(name)  # brought down again
