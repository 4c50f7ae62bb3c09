"""The offline replay (``recommend/evaluate.py``) and its baselines (``recommend/baselines.py``)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from stormproof.recommend.baselines import BASELINES, History, make_baseline
from stormproof.recommend.evaluate import Dataset, Metrics, load_csv, replay, run

# Items get indexes by first appearance: A=0, B=1, C=2, D=3 (and E=4).
PREFIX = [
    ("u1", "A"),
    ("u2", "A"),
    ("u3", "A"),
    ("u1", "B"),
    ("u2", "B"),
    ("u3", "C"),
    ("u4", "D"),
    ("u4", "C"),
]


def dataset(events: list[tuple[str, str]]) -> Dataset:
    return Dataset.from_events("hand", ((u, i, float(t)) for t, (u, i) in enumerate(events)))


def test_metrics_by_hand() -> None:
    metrics = Metrics(n_items=40)
    metrics.add(list(range(20)), 0)  # rank 1
    metrics.add(list(range(20)), 14)  # rank 15: a hit for @20 only
    metrics.add(list(range(20)), 30)  # a miss
    figures = metrics.summary()
    assert figures["recall@10"] == pytest.approx(1 / 3)
    assert figures["recall@20"] == pytest.approx(2 / 3)
    assert figures["ndcg@10"] == pytest.approx(1 / 3)
    assert figures["ndcg@20"] == pytest.approx((1 + 1 / math.log2(16)) / 3)
    assert figures["coverage"] == pytest.approx(20 / 40)


def test_popular_replay_by_hand() -> None:
    # 10 events: the first 8 train. Counts then A3 B2 C2 D1.
    # u5 (cold) gets A B C D: C at rank 3. Then C has 3, so u1 (has A, B) gets C D: D at rank 2.
    data = dataset([*PREFIX, ("u5", "C"), ("u1", "D")])
    metrics, _ = replay(data, [make_baseline("popular")])
    figures = metrics["popular"].summary()
    assert metrics["popular"].scored == 2
    assert figures["recall@10"] == 1.0
    assert figures["ndcg@10"] == pytest.approx((1 / math.log2(4) + 1 / math.log2(3)) / 2)
    assert figures["coverage"] == 1.0


def test_repeats_are_not_scored_and_unseen_items_miss() -> None:
    # u1 had A already: not scored. E was never seen: a miss, and never recommended.
    data = dataset([*PREFIX, ("u1", "A"), ("u2", "E")])
    metrics, _ = replay(data, [make_baseline(name) for name in BASELINES])
    for name in BASELINES:
        assert metrics[name].scored == 1, name
        assert metrics[name].summary()["recall@20"] == 0.0, name
        assert metrics[name].shown == {2, 3}, name  # C, D: all but u2's A, B and unseen E


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_keeps_the_contract(name: str) -> None:
    history = History(n_users=3, n_items=6)
    for u, i in [(0, 0), (0, 1), (1, 1), (1, 2), (0, 2), (1, 3)]:
        history.add(u, i)
    model = make_baseline(name)
    model.refresh(history)
    top = model.top(0, 20, history.items(0), 0)
    assert sorted(top) == [3]  # only seen, only not excluded, each once
    assert model.top(2, 2, [], 0) == [1, 2]  # a cold user gets the popular items
    history.add(2, 5)
    model.observe(2, 5, 0)
    assert 5 in model.top(2, 20, [], 0)  # an item seen since the refresh is a candidate


def clusters(seed: int = 0) -> Dataset:
    """Two groups of users, each on its own 40 items; the second group is larger."""
    rng = np.random.default_rng(seed)
    events = []
    for user in range(60):
        group = 0 if user < 20 else 1
        for item in rng.choice(40, size=10, replace=False):
            events.append((f"u{user}", f"i{group * 40 + item}", float(rng.random())))
    return Dataset.from_events("clusters", events)


def test_structure_beats_popularity() -> None:
    data = clusters()
    metrics, _ = replay(data, [make_baseline(name) for name in BASELINES])
    figures = {name: m.summary() for name, m in metrics.items()}
    for name, values in figures.items():
        assert metrics[name].scored == len(data) - math.floor(0.8 * len(data))
        for key, value in values.items():
            assert 0.0 <= value <= 1.0, (name, key)
    assert figures["itemknn"]["recall@10"] > figures["popular"]["recall@10"]
    assert figures["recent_itemknn"]["recall@10"] > figures["popular"]["recall@10"]


def test_csv_with_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    path.write_text(
        "when\twho\tscore\twhat\n"
        "2024-01-02T00:00:00\tbob\t1\tx\n"
        "2024-01-01T00:00:00\tann\t1\ty\n"
        "2024-01-02T00:00:00\tann\t1\tx\n"
    )
    data = load_csv(path, user_col="who", item_col="what", time_col="when", sep="\t")
    # Sorted by time, file order kept on the tie: (ann, y), (bob, x), (ann, x).
    assert data.users.tolist() == [0, 1, 0]
    assert data.items.tolist() == [0, 1, 1]
    assert (data.n_users, data.n_items) == (2, 2)
    with pytest.raises(ValueError, match="who"):
        load_csv(path, sep=",", user_col="who", item_col="what", time_col="when")


def test_run_reports_every_model(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("".join(f"{u}\t{i}\t5\t{t}\n" for t, (u, i) in enumerate(PREFIX * 2)))
    result = run(path, models=["popular", "itemknn"])
    assert (result["dataset"], result["events"], result["test_events"]) == ("u.data", 16, 4)
    assert set(result["models"]) == {"popular", "itemknn"}
    with pytest.raises(ValueError, match="unknown model"):
        run(path, models=["nope"])


def test_cli_writes_the_json(tmp_path: Path) -> None:
    data, out = tmp_path / "events.csv", tmp_path / "out.json"
    rows = [f"{u},{i},{t}" for t, (u, i) in enumerate([*PREFIX, ("u5", "C"), ("u1", "D")])]
    data.write_text("user_id,item_id,ts\n" + "\n".join(rows) + "\n")
    command = [sys.executable, "-m", "stormproof.cli", "eval", "--dataset", str(data)]
    options = ["--format", "csv", "--user-col", "user_id", "--item-col", "item_id"]
    options += ["--time-col", "ts", "--models", "popular,recent_itemknn", "--json", str(out)]
    result = subprocess.run(
        [*command, *options], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "recent_itemknn" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["events"] == 10 and figures["test_events"] == 2
    assert figures["models"]["popular"]["ndcg@10"] == pytest.approx(
        (1 / math.log2(4) + 1 / math.log2(3)) / 2
    )
    assert set(figures["models"]["popular"]) == {
        "recall@10",
        "recall@20",
        "ndcg@10",
        "ndcg@20",
        "coverage",
    }
    help_ = subprocess.run(
        [*command[:-2], "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert help_.returncode == 0 and "--dataset" in help_.stdout


class Recorded:
    """A ReplayProgress that remembers what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, object]] = []

    def phase(self, name: str, events: int) -> None:
        self.heard.append(("phase", (name, events)))

    def working(self, what: str) -> None:
        self.heard.append(("working", what))

    def advance(self, events: int) -> None:
        self.heard.append(("advance", events))

    def done(self, seconds: Mapping[str, float]) -> None:
        self.heard.append(("done", sorted(seconds)))


def test_a_replay_says_each_phase_and_what_works_in_it() -> None:
    """Guards issue 10: `stormproof eval` was silent for minutes."""
    data = clusters()
    progress = Recorded()
    replay(data, [make_baseline("popular"), make_baseline("itemknn")], progress)
    phases = [value for kind, value in progress.heard if kind == "phase"]
    cut = math.floor(0.8 * len(data))
    assert phases[0] == ("training", cut)
    assert [name for name, _ in phases[1:]] == [f"test part {k}/10" for k in range(1, 11)]
    assert sum(events for _, events in phases) == len(data)
    # Every phase closes with each model's seconds; the events counted add up.
    assert [v for k, v in progress.heard if k == "done"] == [["itemknn", "popular"]] * 11
    assert sum(int(str(v)) for k, v in progress.heard if k == "advance") == len(data)
    working = [v for k, v in progress.heard if k == "working"]
    assert working[:3] == ["refreshing popular", "refreshing itemknn", "ranking"]
    assert working.count("refreshing itemknn") == 10  # on the prefix, then before each tenth
