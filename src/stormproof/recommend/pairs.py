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
    """``count(i, j)`` for item indexes, with ``count(i, j) == count(j, i)``.

    Rows loaded from a checkpoint (:meth:`load`) stay slices of its arrays
    until one changes; only rows changed since, and pending changes, are
    held one by one — so a load makes no object per row."""

    def __init__(self) -> None:
        #: rows made or changed since the load: item -> (cols, vals)
        self._rows: dict[int, tuple[Ints, Ints]] = {}
        self._pending: dict[int, dict[int, int]] = {}
        #: the loaded rows: item -> its cells in _cols/_vals from _start to _stop
        self._start: Ints = _EMPTY
        self._stop: Ints = _EMPTY
        self._cols: Ints = _EMPTY
        self._vals: Ints = _EMPTY

    def add(self, i: int, j: int, delta: int) -> None:
        """Change the count of the pair (i, j) — both directions — by ``delta``."""
        for a, b in ((i, j), (j, i)):
            pending = self._pending.get(a)
            if pending is None:
                pending = self._pending[a] = {}
            pending[b] = pending.get(b, 0) + delta
            if len(pending) >= _MERGE_AT:
                self._merge(a)

    def _saved(self, item: int) -> tuple[Ints, Ints]:
        """The row as it stands, pending changes aside."""
        found = self._rows.get(item)
        if found is not None:
            return found
        if item < len(self._start):
            start, stop = int(self._start[item]), int(self._stop[item])
            return self._cols[start:stop], self._vals[start:stop]
        return _EMPTY, _EMPTY

    def _merge(self, item: int) -> None:
        pending = self._pending.pop(item, None)
        if pending:
            self._rows[item] = merged(*self._saved(item), pending)

    def row(self, item: int) -> tuple[Ints, Ints]:
        """(column indexes ascending, counts) of the nonzero cells of a row."""
        self._merge(item)
        return self._saved(item)

    def rows(self) -> Iterator[tuple[int, Ints, Ints]]:
        """Every nonempty row, by item index."""
        loaded = np.flatnonzero(self._stop > self._start).tolist()
        for item in sorted(set(loaded).union(self._rows, self._pending)):
            cols, vals = self.row(item)
            if len(cols):
                yield item, cols, vals

    def copy(self) -> Iterator[tuple[int, Ints, Ints]]:
        """Every nonempty row as it stands now, by item index. Only references
        and the small pending dicts are copied at the call (rows are never
        changed, only replaced); the merging happens as the iterator is read,
        on the copy, so a lock need only cover the call."""
        taken = PairCounts()
        taken._rows = dict(self._rows)
        taken._pending = {item: dict(changes) for item, changes in self._pending.items()}
        taken._start, taken._stop = self._start, self._stop
        taken._cols, taken._vals = self._cols, self._vals
        return taken.rows()

    def set_row(self, item: int, cols: Ints, vals: Ints) -> None:
        """Load a row as saved (a checkpoint); ``cols`` ascending, no zeros."""
        self._rows[item] = cols, vals
        self._pending.pop(item, None)

    def load(self, items: Ints, bounds: Ints, cols: Ints, vals: Ints) -> None:
        """Load rows as saved (a checkpoint), replacing every row: row
        ``items[k]`` holds the cells ``cols[bounds[k]:bounds[k + 1]]``
        (ascending, no zeros) and their counts in ``vals`` — kept as views of
        these arrays, never changed."""
        if len(bounds) != len(items) + 1 or len(cols) != len(vals):
            raise ValueError("pair rows and their bounds differ in number")
        if len(cols) != (int(bounds[-1]) if len(bounds) else 0):
            raise ValueError("pair cells and their bounds differ in number")
        if len(items) and (int(items.min()) < 0 or (np.diff(bounds) < 0).any()):
            raise ValueError("pair rows out of range or out of order")
        size = int(items.max()) + 1 if len(items) else 0
        self._start = np.zeros(size, dtype=np.int64)
        self._stop = np.zeros(size, dtype=np.int64)
        self._start[items] = bounds[:-1]
        self._stop[items] = bounds[1:]
        self._cols = cols.astype(np.int64, copy=False)
        self._vals = vals.astype(np.int64, copy=False)
        self._rows, self._pending = {}, {}
