"""Offline evaluation: a time-ordered replay any reader can reproduce.

The protocol:

- every interaction (user, item, time) is an implicit positive; events are
  sorted by time, stably (file order on ties); the first ``floor(0.8 n)``
  are the training prefix, the rest the test part;
- each model is refreshed on the prefix and again before each tenth of the
  test part;
- in order, for each test event (u, i) where u has not had i before, each
  model ranks its top-20 for u among all items seen so far, minus u's own
  items; a hit at 1-based rank r counts 1 for Recall@K (r <= K) and
  1/log2(r+1) for NDCG@K; an item never seen before is a miss. Repeats are
  not scored. Then the event is applied and the replay goes on;
- reported: Recall@10/20, NDCG@10/20 (means over scored events) and
  coverage (share of all the dataset's items in any top-20 list produced).

``run`` scores the platform's own engine (``stormproof``, through
``offline.py``) and the five baselines of ``baselines.py`` in one replay.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from stormproof.recommend.baselines import BASELINES, History, Recommender, make_baseline
from stormproof.recommend.offline import EngineModel

__all__ = [
    "MODELS",
    "Dataset",
    "Metrics",
    "NoProgress",
    "ReplayProgress",
    "evaluate",
    "load_csv",
    "load_movielens",
    "make_model",
    "replay",
    "run",
]

TOP = 20
TRAIN_SHARE = 0.8
REFRESHES = 10
Ids = npt.NDArray[np.int64]
#: every model ``stormproof eval`` knows: the engine, then the baselines
MODELS = ("stormproof", *BASELINES)


@dataclass(frozen=True)
class Dataset:
    """Events in time order, with users and items as dense indexes (first appearance)."""

    name: str
    users: Ids
    items: Ids
    #: unix milliseconds
    times: Ids
    n_users: int
    n_items: int

    @classmethod
    def from_events(cls, name: str, events: Iterable[tuple[str, str, float]]) -> Dataset:
        rows = list(events)
        order = sorted(range(len(rows)), key=lambda n: rows[n][2])  # stable
        user_ids: dict[str, int] = {}
        item_ids: dict[str, int] = {}
        users = np.empty(len(rows), dtype=np.int64)
        items = np.empty(len(rows), dtype=np.int64)
        times = np.empty(len(rows), dtype=np.int64)
        for n, row in enumerate(order):
            user, item, at = rows[row]
            users[n] = user_ids.setdefault(user, len(user_ids))
            items[n] = item_ids.setdefault(item, len(item_ids))
            times[n] = round(at * 1000)
        return cls(name, users, items, times, len(user_ids), len(item_ids))

    def __len__(self) -> int:
        return len(self.users)


def _timestamp(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value).timestamp()


def load_movielens(path: Path) -> Dataset:
    """MovieLens ``u.data``: user<TAB>item<TAB>rating<TAB>unix time, no header."""
    with path.open(encoding="latin-1") as f:
        rows = [line.split("\t") for line in f if line.strip()]
    return Dataset.from_events(path.name, ((r[0], r[1], float(r[3])) for r in rows))


def load_csv(
    path: Path,
    *,
    user_col: str = "user",
    item_col: str = "item",
    time_col: str = "timestamp",
    sep: str = ",",
) -> Dataset:
    """A delimited file with a header naming the user, item and time columns.

    Times are numbers (e.g. unix seconds) or ISO 8601 strings.
    """
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=sep)
        missing = {user_col, item_col, time_col} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column(s) {', '.join(sorted(missing))}")
        rows = [(r[user_col], r[item_col], _timestamp(r[time_col])) for r in reader]
    return Dataset.from_events(path.name, rows)


class Metrics:
    """Running Recall@10/20, NDCG@10/20 and coverage of one model."""

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items
        self.scored = 0
        self.hits = {10: 0, 20: 0}
        self.gains = {10: 0.0, 20: 0.0}
        self.shown: set[int] = set()

    def add(self, recommended: Sequence[int], target: int) -> None:
        self.scored += 1
        self.shown.update(recommended[:TOP])
        try:
            rank = recommended.index(target) + 1
        except ValueError:
            return
        for k in self.hits:
            if rank <= k:
                self.hits[k] += 1
                self.gains[k] += 1.0 / math.log2(rank + 1)

    def summary(self) -> dict[str, float]:
        n = max(self.scored, 1)
        return {
            "recall@10": self.hits[10] / n,
            "recall@20": self.hits[20] / n,
            "ndcg@10": self.gains[10] / n,
            "ndcg@20": self.gains[20] / n,
            "coverage": len(self.shown) / max(self.n_items, 1),
        }


class ReplayProgress(Protocol):
    """What a replay tells whoever watches it (``stormproof eval`` draws it).

    Phases come in order — ``loading``, ``training`` (the prefix), then
    ``test part 1/10`` … ``test part 10/10`` — each opened by :meth:`phase`
    and closed by :meth:`done`; in between, :meth:`working` says what runs
    now (a model refreshing, or ranking) and :meth:`advance` counts events.
    """

    def phase(self, name: str, events: int) -> None:
        """A phase starts, with ``events`` events to go through."""

    def working(self, what: str) -> None:
        """What the replay does now, within the phase."""

    def advance(self, events: int) -> None:
        """``events`` more events of the phase are done."""

    def done(self, seconds: Mapping[str, float]) -> None:
        """The phase ended; ``seconds`` is what each model spent in it."""


class NoProgress:
    """A :class:`ReplayProgress` that tells no one (tests, benchmarks)."""

    def phase(self, name: str, events: int) -> None:
        pass

    def working(self, what: str) -> None:
        pass

    def advance(self, events: int) -> None:
        pass

    def done(self, seconds: Mapping[str, float]) -> None:
        pass


#: events a replay goes through between two calls of ``ReplayProgress.advance``
_ADVANCE_EVERY = 256


def replay(
    dataset: Dataset, models: Sequence[Recommender], progress: ReplayProgress | None = None
) -> tuple[dict[str, Metrics], dict[str, float]]:
    """Run the protocol; return each model's metrics and seconds spent in it."""
    said = progress or NoProgress()
    n = len(dataset)
    cut = math.floor(TRAIN_SHARE * n)
    test = n - cut
    parts = [cut + (j * test) // REFRESHES for j in range(REFRESHES + 1)]
    refresh_at = set(parts[1:-1])
    history = History(dataset.n_users, dataset.n_items)
    metrics = {m.name: Metrics(dataset.n_items) for m in models}
    seconds = dict.fromkeys(metrics, 0.0)
    users, items, times = dataset.users.tolist(), dataset.items.tolist(), dataset.times.tolist()

    def observe(u: int, i: int, at: int) -> None:
        for model in models:
            start = time.perf_counter()
            model.observe(u, i, at)
            seconds[model.name] += time.perf_counter() - start

    def refresh() -> None:
        for model in models:
            said.working(f"refreshing {model.name}")
            start = time.perf_counter()
            model.refresh(history)
            seconds[model.name] += time.perf_counter() - start
        said.working("ranking")

    def phase(
        name: str, events: range, step: Callable[[int], None], first: Callable[[], None]
    ) -> None:
        before = dict(seconds)
        said.phase(name, len(events))
        first()
        for t in events:
            step(t)
            if (t - events.start + 1) % _ADVANCE_EVERY == 0:
                said.advance(_ADVANCE_EVERY)
        said.advance(len(events) % _ADVANCE_EVERY)
        said.done({name: seconds[name] - before[name] for name in seconds})

    def train(t: int) -> None:
        history.add(users[t], items[t])
        observe(users[t], items[t], times[t])

    def score(t: int) -> None:
        if t in refresh_at:
            refresh()
        u, i, at = users[t], items[t], times[t]
        if not history.has(u, i):
            exclude = history.items(u)
            for model in models:
                start = time.perf_counter()
                recommended = model.top(u, TOP, exclude, at)
                seconds[model.name] += time.perf_counter() - start
                metrics[model.name].add(recommended, i)
        history.add(u, i)
        observe(u, i, at)

    phase("training", range(cut), train, lambda: None)
    for k in range(REFRESHES):
        events = range(parts[k], parts[k + 1])
        # Every model is refreshed on the prefix before the first test event.
        phase(f"test part {k + 1}/{REFRESHES}", events, score, refresh if k == 0 else lambda: None)
    return metrics, seconds


def make_model(name: str) -> Recommender:
    """A fresh model by name, one of ``MODELS``: ``stormproof`` (the engine
    behind the same protocol) or a baseline."""
    if name == "stormproof":
        return EngineModel()
    if name in BASELINES:
        return make_baseline(name)
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def run(
    path: Path,
    *,
    format: Literal["movielens", "csv"] = "movielens",
    user_col: str = "user",
    item_col: str = "item",
    time_col: str = "timestamp",
    sep: str = ",",
    models: Sequence[str] = MODELS,
    progress: ReplayProgress | None = None,
) -> dict[str, Any]:
    """Load ``path``, replay it through ``models`` (names in ``MODELS``), return
    the figures; ``progress`` hears how it goes."""
    said = progress or NoProgress()
    recommenders = [make_model(name) for name in models]
    said.phase("loading", 0)
    if format == "movielens":
        dataset = load_movielens(path)
    else:
        dataset = load_csv(path, user_col=user_col, item_col=item_col, time_col=time_col, sep=sep)
    said.done({})
    return evaluate(dataset, recommenders, said)


def evaluate(
    dataset: Dataset,
    models: Sequence[str] | Sequence[Recommender] = MODELS,
    progress: ReplayProgress | None = None,
) -> dict[str, Any]:
    """Replay ``dataset`` through ``models`` (names in ``MODELS``, or models
    made already), return the figures; ``progress`` hears how it goes."""
    recommenders = [make_model(m) if isinstance(m, str) else m for m in models]
    metrics, seconds = replay(dataset, recommenders, progress or NoProgress())
    first = next(iter(metrics.values()), None)
    return {
        "dataset": dataset.name,
        "events": len(dataset),
        "test_events": len(dataset) - math.floor(TRAIN_SHARE * len(dataset)),
        "scored_events": first.scored if first else 0,
        "models": {name: m.summary() for name, m in metrics.items()},
        "seconds": {name: round(s, 3) for name, s in seconds.items()},
    }
