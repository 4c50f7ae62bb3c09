"""A small interaction data set made on the spot, for ``stormproof eval --synthetic``.

The README's evaluation example has to run in a fresh clone, and the one real
data set we measure on (MovieLens-100K) may not be redistributed with the
code. So this makes one with the structure recommenders exploit: people in
taste groups, each group with its own videos, popular ones watched more
often (Zipf), a few interactions outside one's taste, and time running in
sessions so that what someone watched recently says what comes next. It is
deterministic (a seed), so two runs give the same figures; its figures say
the harness works end to end, not how the engine does on real data.
"""

from __future__ import annotations

import numpy as np

from stormproof.recommend.evaluate import Dataset

__all__ = ["synthetic"]


def synthetic(
    *,
    users: int = 200,
    items: int = 300,
    per_user: int = 20,
    tastes: int = 8,
    off_taste: float = 0.15,
    seed: int = 0,
) -> Dataset:
    """``users`` people with ``per_user`` interactions each over ``items``
    videos split into ``tastes`` groups; a share ``off_taste`` of each
    person's interactions is with videos of any group."""
    if tastes < 1 or items < tastes or per_user < 1 or users < 1:
        raise ValueError("need at least one person, one interaction and a video per taste")
    rng = np.random.default_rng(seed)
    group_of_item = np.arange(items) % tastes
    in_group = [np.flatnonzero(group_of_item == g) for g in range(tastes)]
    # Zipf popularity within a group: the k-th video is watched ~1/k as often.
    weights = [1.0 / np.arange(1, len(ids) + 1) for ids in in_group]
    everything = 1.0 / np.arange(1, items + 1)
    events: list[tuple[str, str, float]] = []
    for user in range(users):
        group = user % tastes
        start = float(rng.uniform(0, 30 * 86400))  # people join over a month
        for n in range(per_user):
            if rng.random() < off_taste:
                item = int(rng.choice(items, p=everything / everything.sum()))
            else:
                ids = in_group[group]
                item = int(rng.choice(ids, p=weights[group] / weights[group].sum()))
            # sessions of five, a day apart; a minute between videos of a session
            at = start + (n // 5) * 86400 + (n % 5) * 60
            events.append((f"u{user}", f"v{item}", at))
    return Dataset.from_events("synthetic", events)
