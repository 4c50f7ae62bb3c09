"""Co-engagement counts: loaded rows that go on changing equal counts that never
stopped, whatever is read how (a row, every row, a copy taken under a lock)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.recommend.pairs import PairCounts

changes = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(-3, 3)), max_size=80
)


def as_dict(rows: object) -> dict[tuple[int, int], int]:
    return {
        (item, col): val
        for item, cols, vals in rows  # type: ignore[attr-defined]
        for col, val in zip(cols.tolist(), vals.tolist(), strict=True)
    }


def saved(counts: PairCounts) -> PairCounts:
    """What a checkpoint gives back: the rows as one set of arrays."""
    rows = list(counts.rows())
    loaded = PairCounts()
    loaded.load(
        np.array([item for item, _, _ in rows], dtype=np.int64),
        np.cumsum([0, *(len(cols) for _, cols, _ in rows)], dtype=np.int64),
        np.concatenate([cols for _, cols, _ in rows] or [np.zeros(0, np.int64)]),
        np.concatenate([vals for _, _, vals in rows] or [np.zeros(0, np.int64)]),
    )
    return loaded


@settings(max_examples=100, deadline=None)
@given(before=changes, after=changes)
def test_loaded_counts_that_go_on_equal_counts_that_never_stopped(
    before: list[tuple[int, int, int]], after: list[tuple[int, int, int]]
) -> None:
    kept = PairCounts()
    for i, j, delta in before:
        kept.add(i, j, delta)
    loaded = saved(kept)
    copied = loaded.copy()  # taken before the changes below: must not see them
    expected_then = as_dict(kept.rows())
    for counts in (kept, loaded):
        for i, j, delta in after:
            counts.add(i, j, delta)
    assert as_dict(copied) == expected_then
    assert as_dict(loaded.rows()) == as_dict(kept.rows()) == as_dict(loaded.copy())
    for item in range(32):
        mine, theirs = loaded.row(item), kept.row(item)
        assert mine[0].tolist() == theirs[0].tolist() and mine[1].tolist() == theirs[1].tolist()


@settings(max_examples=200, deadline=None)
@given(before=changes, after=changes, read=st.sets(st.integers(0, 30)))
def test_every_row_at_once_is_every_row_laid_end_to_end(
    before: list[tuple[int, int, int]], after: list[tuple[int, int, int]], read: set[int]
) -> None:
    """:meth:`PairCounts.arrays` (one pass over every cell, for a checkpoint)
    equals :meth:`PairCounts.rows` one by one: loaded rows, rows changed
    since and merged (read), and changes still pending, zeros dropped."""
    counts = PairCounts()
    for i, j, delta in before:
        counts.add(i, j, delta)
    counts = saved(counts)
    for i, j, delta in after:
        counts.add(i, j, delta)
    for item in sorted(read):
        counts.row(item)  # merged: now a row of its own, replacing the loaded one
    items, bounds, cols, vals = counts.copied().arrays()
    rows = list(counts.copied().rows())
    assert items.tolist() == [item for item, _, _ in rows]
    assert bounds.tolist() == np.cumsum([0, *(len(c) for _, c, _ in rows)]).tolist()
    assert cols.tolist() == [c for _, row_cols, _ in rows for c in row_cols.tolist()]
    assert vals.tolist() == [v for _, _, row_vals in rows for v in row_vals.tolist()]
    assert all(a.dtype == np.int64 for a in (items, bounds, cols, vals))
