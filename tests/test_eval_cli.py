"""``stormproof eval`` on the command line: it says how it goes, and writes
a file only where ``--json`` says (issue 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

STORMPROOF = [sys.executable, "-m", "stormproof.cli"]


def _events(path: Path) -> Path:
    """Two groups of users, each on its own items, in time order."""
    rng = np.random.default_rng(0)
    rows = [
        f"u{user},i{(user % 2) * 30 + item},{n * 60 + k}"
        for n, user in enumerate(range(40))
        for k, item in enumerate(rng.choice(30, size=8, replace=False))
    ]
    path.write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    return path


def test_eval_prints_each_phase_and_writes_nothing_unasked(tmp_path: Path) -> None:
    data = _events(tmp_path / "events.csv")
    options = ["--dataset", str(data), "--format", "csv", "--models", "popular,stormproof"]
    result = subprocess.run(
        [*STORMPROOF, "eval", *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    said = result.stdout
    for phase in ["loading", "training", *(f"test part {k}/10" for k in range(1, 11))]:
        assert phase in said, said
    # Each phase line names the models and what they spent in it.
    assert "popular" in said.split("training")[1].splitlines()[0]
    assert "recall@10" in said  # the figures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv"]


def test_eval_help_shows_json_as_optional() -> None:
    result = subprocess.run(
        [*STORMPROOF, "eval", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "--json" in line)
    assert "required" not in line
