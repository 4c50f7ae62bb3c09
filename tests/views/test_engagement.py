"""The engagement view counts one person's views, completions and shares of
a video once per counting window, whatever order the events arrive in."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import Interaction, InteractionsRecorded, new_event
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.engagement import WINDOW_MS, Counts, counts_of
from stormproof.views.store import ViewStore

#: (user, video, time in tenths of a window, kind, watched_ms, completed)
Watch = tuple[str, str, int, str, int, bool]

interactions = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2"]),
        st.sampled_from(["v1", "v2"]),
        st.integers(0, 35),
        st.sampled_from(["watch", "share", "skip"]),
        st.integers(0, 3000),
        st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


def _entries(batch: list[Watch]) -> list[Entry]:
    entries = []
    for n, (user, video, tenth, kind, watched, done) in enumerate(batch):
        item = Interaction(type=kind, video_id=video, watched_ms=watched, completed=done)  # type: ignore[arg-type]
        payload = InteractionsRecorded(items=(item,))
        event = new_event(payload, actor=user, at=tenth * WINDOW_MS // 10, id=f"e{n:03d}")
        entries.append(Entry(0, n + 1, f"k{n}", event))
    return entries


def _store(path: Path, entries: list[Entry]) -> ViewStore:
    store = ViewStore(path, all_views())
    store.apply([Entry(0, seq, e.key, e.event) for seq, e in enumerate(entries, 1)])
    return store


def _expected(batch: list[Watch], video: str) -> Counts:
    """By brute force: one view per (person, window) with its longest watch,
    a completion if any watch of it completed, one share per (person, window)."""
    watches: dict[tuple[str, int], tuple[int, bool]] = {}
    shares: set[tuple[str, int]] = set()
    skips = 0
    for user, v, tenth, kind, watched, done in batch:
        if v != video:
            continue
        window = tenth // 10
        if kind == "watch":
            longest, completed = watches.get((user, window), (0, False))
            watches[(user, window)] = (max(longest, watched), completed or done)
        elif kind == "share":
            shares.add((user, window))
        else:
            skips += 1
    return Counts(
        views=len(watches),
        shares=len(shares),
        completions=sum(done for _, done in watches.values()),
        watched_ms=sum(ms for ms, _ in watches.values()),
        skips=skips,
    )


@settings(max_examples=60, deadline=None)
@given(batch=interactions, seed=st.integers(0, 2**32))
def test_counts_are_per_window_and_independent_of_order(batch: list[Watch], seed: int) -> None:
    entries = _entries(batch)
    shuffled = entries[:]
    random.Random(seed).shuffle(shuffled)
    with tempfile.TemporaryDirectory(prefix="stormproof-engagement-") as folder:
        in_order = _store(Path(folder) / "a", entries)
        out_of_order = _store(Path(folder) / "b", shuffled)
        try:
            assert in_order.digests()["views"] == out_of_order.digests()["views"]
            counts = counts_of(out_of_order.reader(), ["v1", "v2"])
            assert counts == {v: _expected(batch, v) for v in ("v1", "v2")}
        finally:
            in_order.close()
            out_of_order.close()
