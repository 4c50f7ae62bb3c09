"""The generated data set of ``stormproof eval --synthetic`` (``recommend/synthetic.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stormproof.recommend.baselines import make_baseline
from stormproof.recommend.evaluate import replay
from stormproof.recommend.synthetic import synthetic


def test_same_seed_same_data_and_taste_is_learnable() -> None:
    first, again = (
        synthetic(users=60, items=90, per_user=10),
        synthetic(users=60, items=90, per_user=10),
    )
    assert (len(first), first.n_users) == (600, 60) and first.n_items <= 90
    assert np.array_equal(first.items, again.items) and np.array_equal(first.times, again.times)
    assert np.all(np.diff(first.times) >= 0)
    metrics, _ = replay(first, [make_baseline("popular"), make_baseline("itemknn")])
    # Taste groups are structure an item-to-item model finds and popularity does not.
    assert metrics["itemknn"].summary()["recall@20"] > metrics["popular"].summary()["recall@20"]
    with pytest.raises(ValueError):
        synthetic(tastes=0)


def test_cli_runs_anywhere_and_writes_only_where_told(tmp_path: Path) -> None:
    # Regression (issue 10): the README's example named a data set absent from a clone.
    command = [sys.executable, "-m", "stormproof.cli", "eval", "--synthetic", "--models", "popular"]
    shown = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "synthetic: 4000 events" in shown.stdout and "popular" in shown.stdout
    assert list(tmp_path.iterdir()) == []  # no --json: no file anywhere
    (tmp_path / "mine.csv").write_text("user,item,timestamp\n")
    both = subprocess.run(
        [*command, "--dataset", str(tmp_path / "mine.csv")], capture_output=True, text=True
    )
    assert both.returncode == 2 and "--dataset FILE or --synthetic" in both.stdout + both.stderr
