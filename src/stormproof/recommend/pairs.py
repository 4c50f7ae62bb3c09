"""Co-engagement counts: how many users engaged with both of two videos.

A symmetric sparse matrix of integers, one row per item. Counts only ever
change by integer steps, so the matrix reached does not depend on the order
in which changes come — the property every region relies on.

Rows are read far more often than a single cell is written, and a read
wants numpy arrays. So each row keeps sorted arrays plus a small dict of
pending changes, merged on the next read of that row (or when it grows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

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
        #: rows changed since the last checkpoint (:meth:`take_unsaved`)
        self._unsaved: set[int] = set()

    def add(self, i: int, j: int, delta: int) -> None:
        """Change the count of the pair (i, j) — both directions — by
        ``delta``. The caller marks the rows it changes (:meth:`mark`): once
        per run of changes, not once per cell, in the engine's hottest loop."""
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
        """Every nonempty row as it stands now, by item index: :meth:`copied`'s rows."""
        return self.copied().rows()

    def copied(self, only: Iterable[int] | None = None) -> PairCounts:
        """The counts as they stand now. Only references and the small
        pending dicts are copied at the call (rows are never changed, only
        replaced); merging happens as the copy is read, so a lock need only
        cover the call. ``only``: the pending changes of those rows alone
        (a copy to read just them, :meth:`arrays` with ``only``)."""
        taken = PairCounts()
        taken._rows = dict(self._rows)
        pending = self._pending
        if only is None:
            taken._pending = {item: dict(changes) for item, changes in pending.items()}
        else:
            taken._pending = {item: dict(pending[item]) for item in only if item in pending}
        taken._start, taken._stop = self._start, self._stop
        taken._cols, taken._vals = self._cols, self._vals
        return taken

    def mark(self, items: Iterable[int]) -> None:
        """Rows about to change: the next delta checkpoint writes them (a
        row changed but not marked would be missing from it)."""
        self._unsaved.update(items)

    def take_unsaved(self) -> set[int]:
        """The rows changed since the last checkpoint, marked saved from now on."""
        taken, self._unsaved = self._unsaved, set()
        return taken

    def unsaved(self, items: set[int]) -> None:
        """Rows a failed save took: the next save writes them again."""
        self._unsaved.update(items)

    def arrays(self, only: Ints | None = None) -> tuple[Ints, Ints, Ints, Ints]:
        """Every nonempty row as :meth:`load` takes them: (items ascending,
        bounds, cols, vals). Equal to :meth:`rows` laid end to end, made in
        one pass over every cell instead of row by row: between two
        checkpoints tens of thousands of rows gather pending changes, and
        merging each alone costs tens of microseconds of numpy calls (most
        of a checkpoint's time, measured at 250,000 log entries).

        ``only`` (ascending item indexes): just those rows, each of them —
        an empty one too (a delta checkpoint says it became empty) — in one
        pass over their cells alone."""
        # The cells as merged so far, keyed by (row, column): the loaded
        # rows no later row replaced, then the replaced and new ones.
        if only is None:
            cells = np.flatnonzero(self._stop > self._start)
            replaced_items = sorted(self._rows)
            pending = self._pending
        else:
            cells = only[only < len(self._start)]
            cells = cells[self._stop[cells] > self._start[cells]]
            wanted = only.tolist()
            replaced_items = [item for item in wanted if item in self._rows]
            pending = {item: self._pending[item] for item in wanted if item in self._pending}
        counts = self._stop[cells] - self._start[cells]
        replaced = np.fromiter(self._rows, dtype=np.int64, count=len(self._rows))
        kept = ~np.isin(cells, replaced)
        cells, counts = cells[kept], counts[kept]
        rows = [np.repeat(cells, counts)]
        cols = [_slices(self._cols, self._start[cells], counts)]
        vals = [_slices(self._vals, self._start[cells], counts)]
        for item in replaced_items:
            row_cols, row_vals = self._rows[item]
            rows.append(np.full(len(row_cols), item, dtype=np.int64))
            cols.append(row_cols)
            vals.append(row_vals)
        # Pending changes as arrays (dicts keep their order: keys and values agree).
        sizes = np.fromiter(map(len, pending.values()), np.int64, len(pending))
        at_rows = np.repeat(np.fromiter(pending, np.int64, len(pending)), sizes)
        total = int(sizes.sum())
        at_cols = np.fromiter(chain.from_iterable(pending.values()), np.int64, total)
        deltas = np.fromiter(
            chain.from_iterable(p.values() for p in pending.values()), np.int64, total
        )
        row_keys, col_keys = np.concatenate([*rows, at_rows]), np.concatenate([*cols, at_cols])
        width = int(max(row_keys.max(initial=0), col_keys.max(initial=0))) + 1
        keys = row_keys[: len(row_keys) - total] * width + col_keys[: len(col_keys) - total]
        values = np.concatenate(vals)
        order = np.argsort(keys, kind="stable")  # two sorted runs: a merge
        keys, values = keys[order], values[order]
        if total:  # summed per cell, then added or inserted at once
            more, where = np.unique(at_rows * width + at_cols, return_inverse=True)
            summed = np.zeros(len(more), dtype=np.int64)
            np.add.at(summed, where, deltas)
            at = np.asarray(np.searchsorted(keys, more), dtype=np.int64)
            present = np.zeros(len(more), dtype=bool)
            inside = at < len(keys)
            present[inside] = keys[at[inside]] == more[inside]
            values[at[present]] += summed[present]
            new = ~present
            keys = np.insert(keys, at[new], more[new])
            values = np.insert(values, at[new], summed[new])
        nonzero = values != 0
        keys, values = keys[nonzero], values[nonzero]
        owner, col = keys // width, keys % width
        starts = np.flatnonzero(np.diff(owner, prepend=-1)) if len(owner) else owner
        bounds = np.append(starts, len(owner)).astype(np.int64)
        if only is None:
            return owner[starts], bounds, col, values
        sizes = np.zeros(len(only), dtype=np.int64)
        sizes[np.searchsorted(only, owner[starts])] = np.diff(bounds)
        return only, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64), col, values

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
        self._rows, self._pending, self._unsaved = {}, {}, set()

    def replace(self, items: Ints, bounds: Ints, cols: Ints, vals: Ints) -> None:
        """Replace rows as a delta checkpoint saved them (after :meth:`load`):
        row ``items[k]`` holds ``cols[bounds[k]:bounds[k + 1]]`` — possibly
        none — kept as views of these arrays."""
        if len(bounds) != len(items) + 1 or len(cols) != len(vals):
            raise ValueError("pair rows and their bounds differ in number")
        if len(cols) != (int(bounds[-1]) if len(bounds) else 0) or (np.diff(bounds) < 0).any():
            raise ValueError("pair cells and their bounds do not fit")
        if len(items) and int(items.min()) < 0:
            raise ValueError("pair rows out of range")
        cols, vals = cols.astype(np.int64, copy=False), vals.astype(np.int64, copy=False)
        edges = bounds.tolist()
        for k, item in enumerate(items.tolist()):
            self._rows[item] = cols[edges[k] : edges[k + 1]], vals[edges[k] : edges[k + 1]]
            self._pending.pop(item, None)


def _slices(array: Ints, starts: Ints, counts: Ints) -> Ints:
    """``array[starts[k]:starts[k] + counts[k]]`` for every k, end to end."""
    if not len(starts):
        return _EMPTY
    ends = np.cumsum(counts)
    offsets = np.repeat(starts - (ends - counts), counts)
    found: Ints = array[np.arange(int(ends[-1])) + offsets]
    return found
