"""benchmarks/recovery.py (and checkpoint_save.py on the folder it keeps) run end
to end at a tiny size, and their figures hang together.

No timing is asserted: the figures belong to the benchmark, not to a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "recovery.py"
SRC = Path(__file__).parents[1] / "src"


def _kuairand(path: Path) -> Path:
    """A few rows shaped like KuaiRand's side information (the real file is
    not needed to check the script)."""
    rows = ["video_id,author_id,video_duration,server_width,server_height"]
    rows += [f"{v},{v % 7},{5000 + 1000 * v},720,1280" for v in range(20)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_recovery_benchmark_runs_and_its_figures_agree(tmp_path: Path) -> None:
    out = tmp_path / "recovery.json"
    command = [
        sys.executable, str(SCRIPT), "--entries", "1500", "--restarts", "1", "--keep",
        "--kuairand", str(_kuairand(tmp_path / "kuairand.csv")),
        "--work", str(tmp_path / "work"), "--json", str(out),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(SRC), str(SCRIPT.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())

    assert figures["machine"]["nproc"] >= 1 and figures["command"]
    assert figures["empty_region"]["ready_s"] > 0
    (run,) = figures["embedded"]
    entries = run["entries"]
    assert entries == run["history"]["log_entries"] > 1000
    assert run["engine_alone"]["entries"] == entries
    assert run["views_alone"]["seconds"] > 0
    rebuild = run["rebuild"]
    assert 0 < rebuild["first_answer_s"] <= rebuild["ready_s"] <= rebuild["checkpoint_on_disk_s"]
    assert rebuild["timeline"][-1]["ready"]
    assert len(run["restarts"]) == 1
    assert run["restart_median_s"] == run["restart_max_s"] == run["restarts"][0]["ready_s"]
    peer = run["from_a_peer"]  # the views and engine came from the first region's snapshot
    assert peer["ready_s"] > 0 and peer["restored"]["peer"].startswith("http://127.0.0.1:")
    assert peer["restored"]["position"] == [entries] and peer["restored"]["bytes"] > 0
    reference = run["reference"]
    assert reference["rows"] == reference["views_rows"] == sum(reference["rows_by_table"].values())
    assert reference["rows"] > entries  # an entry makes rows in several views
    assert reference["tables"] == len(reference["rows_by_table"])
    ratio = reference["seconds"] / rebuild["ready_s"]
    assert abs(run["throughput_vs_reference"] - ratio) < 0.01
    assert "entries" in done.stdout  # the table was printed
    # the built log is kept in --work for a rerun, and with --keep each run's folders
    assert (tmp_path / "work" / "log-1500.sqlite").is_file()
    (folder,) = (tmp_path / "work").glob("run-*/views-alone")

    # benchmarks/checkpoint_save.py on the views-alone folder kept: the three
    # ways of saving, deltas every 50 entries, and base + deltas loaded as
    # the engine that saved them (the script checks the digests itself)
    saved = tmp_path / "save.json"
    saving = [
        sys.executable, str(SCRIPT.parent / "checkpoint_save.py"), str(folder),
        "--tail", "300", "--then", "200", "--every", "50", "--verify", "--json", str(saved),
    ]  # fmt: skip
    done = subprocess.run(saving, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(saved.read_text())
    assert (figures["tail"], figures["then"]) == (300, 200)
    for save in (figures["first_save_after_restart"], figures["save_in_steady_use"]):
        assert save["full_cpu_s"] > 0 and save["incremental_cpu_s"] > 0
        assert save["delta_cpu_s"] > 0 and save["delta_bytes"] > 0
        assert save["users_changed_since_last_save"] > 0
    steps = figures["deltas_in_steady_use"]
    assert [step["entries"] for step in steps] == [50] * 4
    assert figures["chain"]["equal_digests"] is True and figures["chain"]["deltas"] >= 1
    assert figures["compaction"]["kind"] == "full" and figures["checkpoint_bytes"] > 0

    # and the tail a kill would leave under each save rule
    policy = tmp_path / "policy.json"
    rules = [
        sys.executable, str(SCRIPT.parent / "checkpoint_save.py"), str(folder),
        "--policy", "400", "--json", str(policy),
    ]  # fmt: skip
    done = subprocess.run(rules, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    new, old = json.loads(policy.read_text())["policies"]
    assert new["entries"] == old["entries"] == 400
    for rule in (new, old):
        assert 0 <= rule["tail_median"] <= rule["tail_p90"] <= rule["tail_max"] <= 400
