"""Co-engagement counts: how many users engaged with both of two videos.

A symmetric sparse matrix of integers, one row per item. Counts only ever
change by integer steps, so the matrix reached does not depend on the order
in which changes come — the property every region relies on.

Rows are read far more often than a single cell is written, and a read
wants numpy arrays. So each row keeps sorted arrays plus a small dict of
pending changes, merged on the next read of that row (or when it grows).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

__all__ = ["PairCounts", "merged"]

Ints = npt.NDArray[np.int64]
_EMPTY: Ints = np.zeros(0, dtype=np.int64)
_MERGE_AT = 256


def merged(cols: Ints, vals: Ints, pending: dict[int, int]) -> tuple[Ints, Ints]:
    """A row (``cols`` ascending) with ``pending`` changes added, zeros dropped;
    new arrays — the ones given are never changed, so copies of them stay valid."""
    keys = np.fromiter(pending.keys(), dtype=np.int64, count=len(pending))
    deltas = np.fromiter(pending.values(), dtype=np.int64, count=len(pending))
    order = np.argsort(keys)
    keys, deltas = keys[order], deltas[order]
    at = np.searchsorted(cols, keys)
    present = at < len(cols)
    present[present] = cols[at[present]] == keys[present]
    vals = vals.copy()
    vals[at[present]] += deltas[present]
    new = ~present
    if new.any():
        cols = np.insert(cols, at[new], keys[new])
        vals = np.insert(vals, at[new], deltas[new])
    keep = vals != 0
    if not keep.all():
        cols, vals = cols[keep], vals[keep]
    return cols, vals


class PairCounts:
    """``count(i, j)`` for item indexes, with ``count(i, j) == count(j, i)``."""

    def __init__(self) -> None:
        self._cols: list[Ints] = []
        self._vals: list[Ints] = []
        self._pending: list[dict[int, int]] = []

    def _grow(self, item: int) -> None:
        more = item + 1 - len(self._cols)
        if more > 0:
            self._cols.extend([_EMPTY] * more)
            self._vals.extend([_EMPTY] * more)
            self._pending.extend([{} for _ in range(more)])

    def add(self, i: int, j: int, delta: int) -> None:
        """Change the count of the pair (i, j) — both directions — by ``delta``."""
        self._grow(max(i, j))
        for a, b in ((i, j), (j, i)):
            pending = self._pending[a]
            pending[b] = pending.get(b, 0) + delta
            if len(pending) >= _MERGE_AT:
                self._merge(a)

    def _merge(self, item: int) -> None:
        pending = self._pending[item]
        if pending:
            self._cols[item], self._vals[item] = merged(self._cols[item], self._vals[item], pending)
            pending.clear()

    def row(self, item: int) -> tuple[Ints, Ints]:
        """(column indexes ascending, counts) of the nonzero cells of a row."""
        if item >= len(self._cols):
            return _EMPTY, _EMPTY
        self._merge(item)
        return self._cols[item], self._vals[item]

    def rows(self) -> Iterator[tuple[int, Ints, Ints]]:
        """Every nonempty row, by item index."""
        for item in range(len(self._cols)):
            cols, vals = self.row(item)
            if len(cols):
                yield item, cols, vals

    def copy(self) -> Iterator[tuple[int, Ints, Ints]]:
        """Every nonempty row as it stands now, by item index. Only references
        and the small pending dicts are copied at the call; the merging
        happens as the iterator is read, so a lock need only cover the call."""
        taken = [
            (item, cols, vals, dict(pending))
            for item, (cols, vals, pending) in enumerate(
                zip(self._cols, self._vals, self._pending, strict=True)
            )
            if len(cols) or pending
        ]
        return (
            (item, *merged(cols, vals, pending)) if pending else (item, cols, vals)
            for item, cols, vals, pending in taken
        )

    def set_row(self, item: int, cols: Ints, vals: Ints) -> None:
        """Load a row as saved (a checkpoint); ``cols`` ascending, no zeros."""
        self._grow(item)
        self._cols[item], self._vals[item] = cols, vals
        self._pending[item] = {}

    def load(self, items: Ints, bounds: Ints, cols: Ints, vals: Ints) -> None:
        """Load rows as saved (a checkpoint): row ``items[k]`` holds the cells
        ``cols[bounds[k]:bounds[k + 1]]`` (ascending, no zeros) and their
        counts in ``vals`` — kept as views of these arrays, never changed."""
        items_list, bounds_list = items.tolist(), bounds.tolist()
        if len(bounds_list) != len(items_list) + 1 or len(cols) != len(vals):
            raise ValueError("pair rows and their bounds differ in number")
        if len(cols) != (bounds_list[-1] if bounds_list else 0):
            raise ValueError("pair cells and their bounds differ in number")
        cols, vals = cols.astype(np.int64, copy=False), vals.astype(np.int64, copy=False)
        self._grow(max(items_list, default=-1))
        for item, start, stop in zip(items_list, bounds_list, bounds_list[1:], strict=False):
            self._cols[item], self._vals[item] = cols[start:stop], vals[start:stop]
            self._pending[item] = {}
