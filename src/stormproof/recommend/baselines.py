"""The recommender interface the offline replay drives, and five baselines behind it.

Contract (``Recommender``), as ``evaluate.replay`` calls it:

- ``refresh(history)`` is called once on the training prefix and again before
  each tenth of the test part: retrain here. The model may keep ``history``
  and read it later; the replay only ever appends to it.
- ``observe(user, item, at)`` is called after each event is applied to the
  history — the training prefix too, before the first ``refresh`` — repeats
  included, with the event's time (unix ms): online learners update here
  (the baselines read the history lazily and need nothing).
- ``top(user, k, exclude, at)`` returns up to ``k`` item indexes, best first, only
  among items the history has seen and never one in ``exclude``. A user the
  model knows nothing about gets the most popular items; ties always break by
  current popularity, then by index.

Users and items are dense indexes (``0 .. n-1``) given by the replay.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

__all__ = [
    "ALS",
    "BASELINES",
    "History",
    "ItemKNN",
    "Popular",
    "Recommender",
    "make_baseline",
    "rank",
]

Scores = npt.NDArray[np.float64]


class History:
    """Every interaction applied so far: popularity, seen items, each user's items."""

    def __init__(self, n_users: int, n_items: int) -> None:
        self.n_users = n_users
        self.n_items = n_items
        self.counts = np.zeros(n_items, dtype=np.int64)
        self.seen = np.zeros(n_items, dtype=bool)
        self._first: list[list[int]] = [[] for _ in range(n_users)]
        self._last: list[dict[int, None]] = [{} for _ in range(n_users)]

    def add(self, user: int, item: int) -> None:
        self.counts[item] += 1
        self.seen[item] = True
        last = self._last[user]
        if item in last:
            del last[item]
        else:
            self._first[user].append(item)
        last[item] = None

    def has(self, user: int, item: int) -> bool:
        return item in self._last[user]

    def items(self, user: int) -> list[int]:
        """The user's distinct items in order of first interaction (append-only)."""
        return self._first[user]

    def recent(self, user: int, n: int) -> list[int]:
        """The user's last ``n`` distinct items, most recent last."""
        return list(self._last[user])[-n:]

    def matrix(self) -> csr_matrix:
        """The binary users x items matrix, as float32."""
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(items) for items in self._first])
        indices = np.fromiter(
            (i for items in self._first for i in items), dtype=np.int32, count=int(indptr[-1])
        )
        data = np.ones(len(indices), dtype=np.float32)
        matrix = csr_matrix((data, indices, indptr), shape=(self.n_users, self.n_items))
        matrix.sort_indices()
        return matrix


def rank(scores: Scores | None, history: History, exclude: Collection[int], k: int) -> list[int]:
    """The ``k`` best seen items not in ``exclude``: by score, then popularity, then index."""
    candidate = history.seen.copy()
    if exclude:
        candidate[np.fromiter(exclude, dtype=np.int64, count=len(exclude))] = False
    idx = np.flatnonzero(candidate)
    counts = history.counts[idx]
    if scores is None:
        order = np.lexsort((idx, -counts))
    else:
        order = np.lexsort((idx, -counts, -scores[idx]))
    return [int(i) for i in idx[order[:k]]]


class Recommender(Protocol):
    name: str

    def refresh(self, history: History) -> None: ...

    def observe(self, user: int, item: int, at: int) -> None: ...

    def top(self, user: int, k: int, exclude: Collection[int], at: int) -> list[int]: ...


class Popular:
    """Most interactions so far (every event counts, repeats included)."""

    name = "popular"

    def __init__(self) -> None:
        self._history = History(0, 0)

    def refresh(self, history: History) -> None:
        self._history = history

    def observe(self, user: int, item: int, at: int) -> None:
        pass

    def top(self, user: int, k: int, exclude: Collection[int], at: int = 0) -> list[int]:
        return rank(None, self._history, exclude, k)


class ItemKNN:
    """Cosine similarity of items on the binary matrix, fixed between refreshes.

    A user's score for an item sums its similarities to all the user's items
    (or, with ``recent=n``, to the user's last ``n`` distinct items only).
    Similarities are a sparse items x items matrix; each user's summed scores
    are cached and extended with the rows of items added since.
    """

    def __init__(self, recent: int | None = None) -> None:
        self.name = "itemknn" if recent is None else "recent_itemknn"
        self._recent = recent
        self._history = History(0, 0)
        self._sim = csr_matrix((0, 0), dtype=np.float64)
        self._cache: dict[int, tuple[Scores, int]] = {}

    def refresh(self, history: History) -> None:
        self._history = history
        x = history.matrix().astype(np.float64)
        co = (x.T @ x).tocsr()
        norms = np.sqrt(co.diagonal())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
        co.data *= inv[rows] * inv[co.indices]
        self._sim = co
        self._cache = {}

    def observe(self, user: int, item: int, at: int) -> None:
        pass

    def _add_rows(self, scores: Scores, items: list[int]) -> None:
        sim = self._sim
        for j in items:
            lo, hi = sim.indptr[j], sim.indptr[j + 1]
            scores[sim.indices[lo:hi]] += sim.data[lo:hi]

    def scores(self, user: int) -> Scores:
        if self._recent is not None:
            scores = np.zeros(self._history.n_items)
            self._add_rows(scores, self._history.recent(user, self._recent))
            return scores
        items = self._history.items(user)
        scores, done = self._cache.get(user, (np.zeros(self._history.n_items), 0))
        self._add_rows(scores, items[done:])
        self._cache[user] = (scores, len(items))
        return scores

    def top(self, user: int, k: int, exclude: Collection[int], at: int = 0) -> list[int]:
        if not self._history.items(user):
            return rank(None, self._history, exclude, k)
        return rank(self.scores(user), self._history, exclude, k)


class ALS:
    """implicit's CPU AlternatingLeastSquares on the binary matrix, refit at each refresh.

    Items unseen at the last fit rank after every fitted item. Without
    ``fold_in``, users unseen at the last fit get the popular list; with it,
    each user's vector is recomputed from their full current history at every
    call (what implicit's ``recommend(..., recalculate_user=True)`` does).
    """

    def __init__(
        self,
        *,
        fold_in: bool = False,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        random_state: int = 0,
    ) -> None:
        self.name = "als_foldin" if fold_in else "als"
        self._fold_in = fold_in
        self._params = {
            "factors": factors,
            "regularization": regularization,
            "iterations": iterations,
            "random_state": random_state,
        }
        self._history = History(0, 0)
        self._item_factors = np.zeros((0, factors), dtype=np.float32)
        self._user_factors = np.zeros((0, factors), dtype=np.float32)
        self._trained_users = np.zeros(0, dtype=bool)
        self._trained_items = np.zeros(0, dtype=bool)
        self._model: Any = None

    def refresh(self, history: History) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self._history = history
        x = history.matrix()
        with threadpool_limits(1, "blas"):  # implicit warns (and slows) otherwise
            model = AlternatingLeastSquares(**self._params)
            model.fit(x, show_progress=False)
        self._model = model
        self._user_factors = np.asarray(model.user_factors)
        self._item_factors = np.asarray(model.item_factors)
        self._trained_users = np.diff(x.indptr) > 0
        self._trained_items = history.seen.copy()

    def observe(self, user: int, item: int, at: int) -> None:
        pass

    def _user_vector(self, user: int) -> npt.NDArray[np.float32] | None:
        if not self._fold_in:
            return self._user_factors[user] if self._trained_users[user] else None
        items = np.array(self._history.items(user), dtype=np.int32)
        items = np.sort(items[self._trained_items[items]])
        if not len(items):
            return None
        row = csr_matrix(
            (np.ones(len(items), dtype=np.float32), items, [0, len(items)]),
            shape=(1, self._history.n_items),
        )
        vector: npt.NDArray[np.float32] = self._model.recalculate_user(user, row)
        return vector

    def top(self, user: int, k: int, exclude: Collection[int], at: int = 0) -> list[int]:
        vector = self._user_vector(user)
        if vector is None:
            return rank(None, self._history, exclude, k)
        scores = (self._item_factors @ vector).astype(np.float64)
        scores[~self._trained_items] = -np.inf
        return rank(scores, self._history, exclude, k)


BASELINES = ("popular", "itemknn", "recent_itemknn", "als", "als_foldin")


def make_baseline(name: str) -> Recommender:
    """A fresh baseline by name, one of ``BASELINES``. (The engine itself is
    ``evaluate.make_model("stormproof")``: it depends on this module, not
    the other way round.)"""
    if name == "popular":
        return Popular()
    if name == "itemknn":
        return ItemKNN()
    if name == "recent_itemknn":
        return ItemKNN(recent=5)
    if name == "als":
        return ALS()
    if name == "als_foldin":
        return ALS(fold_in=True)
    raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
