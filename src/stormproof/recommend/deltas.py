"""Delta checkpoints: what changed since the last save, and base + deltas merged.

A full checkpoint (the *base*) holds the whole engine (ADR 018). A *delta*
holds only what changed since the file before it — base or delta — as
whole replacements, never as increments: the users changed, encoded; each
pair-table row changed, as it now stands (possibly empty); each video whose
per-video state changed (counters, trending slots, upload, deletion), as its
rows of the per-video arrays; the video and creator ids added since; who is
blocked by whom for the people whose blockers changed; the latest trending
bucket; the position. Replacements make loading order-independent within a
file and a file's meaning independent of how often it is applied; later
files win.

:func:`merged` turns a base's parts and its deltas' parts, in order, into
the parts :meth:`~stormproof.recommend.engine.Engine.from_parts` takes — the
per-video arrays and the trending slots merged, the catalog's order kept —
plus the users and pair rows the deltas replace, laid over the base's
(mapped) rows rather than copied into them (ADR 032).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stormproof.log import Position
from stormproof.recommend.snapshot import Encoded

__all__ = ["Delta", "OnDisk", "Unsaved", "merged"]

Ints = npt.NDArray[np.int64]
Arrays = dict[str, npt.NDArray[Any]]
Parts = tuple[dict[str, Any], Arrays]

#: the per-video arrays a checkpoint holds, one row per video
VIDEO_ARRAYS = ("creator", "born", "duration_ms", "live", "tie", "counters")
#: the pair table's arrays, ``pair_`` + each
PAIR_ARRAYS = ("items", "bounds", "cols", "vals")


@dataclass
class Unsaved:
    """What changed since the checkpoint on disk: the users, videos (item
    indexes), pair-table rows, and people whose blockers changed."""

    users: set[str] = field(default_factory=set)
    items: set[int] = field(default_factory=set)
    pair_rows: set[int] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)

    def update(self, other: Unsaved) -> None:
        self.users |= other.users
        self.items |= other.items
        self.pair_rows |= other.pair_rows
        self.blocked |= other.blocked


@dataclass(frozen=True)
class OnDisk:
    """The checkpoint on disk the engine's unsaved changes are counted from:
    the base at ``path`` (``base_id``, ``base_bytes``) and ``number`` deltas
    after it (the last one ``last_id``, together ``delta_bytes``), standing
    at ``position`` with ``items`` videos and ``creators`` creators."""

    path: Path
    position: Position
    base_id: str
    last_id: str
    number: int
    items: int
    creators: int
    base_bytes: int
    delta_bytes: int


@dataclass(frozen=True)
class Delta:
    """One delta file as read: its header's chain fields and its parts."""

    id: str
    base: str
    previous: str
    after: Position
    position: Position
    data: dict[str, Any]
    arrays: Arrays
    size: int


def merged(base: Parts, deltas: list[Delta]) -> tuple[Parts, dict[str, Encoded], list[Arrays]]:
    """The parts of the engine a base and its deltas (in order) hold:
    (data, arrays) for :meth:`~stormproof.recommend.engine.Engine.from_parts`,
    the users the deltas saved, and their pair rows, each delta's arrays
    (``pair_items``, ``pair_bounds``…) to lay over the base's in order. Parts that do not fit raise
    ``ValueError``, ``KeyError``, ``TypeError`` or ``IndexError``."""
    data, arrays = dict(base[0]), dict(base[1])
    if not deltas:
        return (data, arrays), {}, []
    ids = list(data["item_ids"])
    creators = list(data["creators"])
    n0 = len(ids)
    for delta in deltas:
        if int(delta.data["items_from"]) != len(ids):
            raise ValueError("a delta checkpoint's new videos do not follow the last file's")
        if int(delta.data["creators_from"]) != len(creators):
            raise ValueError("a delta checkpoint's new creators do not follow the last file's")
        ids.extend(str(video_id) for video_id in delta.data["new_item_ids"])
        creators.extend(str(who) for who in delta.data["new_creators"])
    n = len(ids)
    columns: dict[str, npt.NDArray[Any]] = {}
    for name in VIDEO_ARRAYS:
        saved = np.asarray(arrays[name])
        if len(saved) != n0:
            raise ValueError(f"checkpoint array {name} has {len(saved)} rows, not {n0}")
        grown = np.zeros((n, *saved.shape[1:]), dtype=saved.dtype)
        grown[:n0] = saved
        columns[name] = grown
    # which file last saved each video: -1 the base, k the k-th delta
    last = np.full(n, -1, dtype=np.int64)
    deletions = dict(data["deletions"])
    blocked_by = dict(data["blocked_by"])
    users: dict[str, Encoded] = {}
    pairs: list[Arrays] = []
    for k, delta in enumerate(deltas):
        d, a = delta.data, delta.arrays
        items = np.asarray(a["items"], dtype=np.int64)
        grew = int(d["items_from"]) + len(d["new_item_ids"])
        if len(items) and (int(items.min()) < 0 or int(items.max()) >= grew):
            raise ValueError("a delta checkpoint names a video it does not hold")
        if not np.isin(np.arange(int(d["items_from"]), grew), items).all():
            raise ValueError("a delta checkpoint adds a video without its rows")
        for name in VIDEO_ARRAYS:
            rows = np.asarray(a[name])
            if rows.shape != (len(items), *columns[name].shape[1:]):
                raise ValueError(f"delta checkpoint array {name} has shape {rows.shape}")
            columns[name][items] = rows
        last[items] = k
        for item in items.tolist():
            deletions.pop(str(item), None)
        deletions.update({str(i): list(who) for i, who in d["deletions"].items()})
        for who, by in d["blocked_by"].items():
            if by:
                blocked_by[who] = list(by)
            else:
                blocked_by.pop(who, None)
        bounds = np.asarray(a["user_bounds"], dtype=np.int64)
        rows_bytes = np.asarray(a["user_rows"], dtype=np.uint8).tobytes()
        user_ids = d["user_ids"]
        if len(bounds) != len(user_ids) + 1 or (len(bounds) and bounds[-1] != len(rows_bytes)):
            raise ValueError("delta checkpoint users and their bounds do not fit")
        edges = bounds.tolist()
        for j, user_id in enumerate(user_ids):
            users[str(user_id)] = Encoded(rows_bytes[edges[j] : edges[j + 1]])
        pairs.append({f"pair_{name}": a[f"pair_{name}"] for name in PAIR_ARRAYS})
    if columns["creator"].max(initial=-1) >= len(creators):
        raise ValueError("a delta checkpoint names a creator it does not hold")
    trend = np.asarray(arrays["trend"], dtype=np.int64).reshape(-1, 4)
    kept = [trend[last[trend[:, 0]] == -1]]
    for k, delta in enumerate(deltas):
        rows = np.asarray(delta.arrays["trend"], dtype=np.int64).reshape(-1, 4)
        kept.append(rows[last[rows[:, 0]] == k])
    arrays.update(columns)
    arrays["trend"] = np.concatenate(kept)
    arrays["catalog"] = _catalog(np.asarray(base[1]["catalog"]), n0, columns, ids)
    data.update(item_ids=ids, creators=creators, deletions=deletions, blocked_by=blocked_by)
    data["last_bucket"] = int(deltas[-1].data["last_bucket"])
    return (data, arrays), users, pairs


def _catalog(saved: Ints, n0: int, columns: dict[str, npt.NDArray[Any]], ids: list[str]) -> Ints:
    """The live videos' order (upload time, id, index): the base's order
    without those no longer live, and the videos that became live since
    put in place. A video becomes live once (its upload) and stops once (a
    deletion by its creator), so these are all the changes there are. Only
    the videos added are compared as tuples — with those of the same upload
    time — not the whole catalog (400,000 videos at 1M entries)."""
    live, born = columns["live"], columns["born"]
    saved = np.asarray(saved, dtype=np.int64)
    if len(saved) and (int(saved.min()) < 0 or int(saved.max()) >= n0):
        raise ValueError("the checkpoint's catalog names a video it does not hold")
    was = np.zeros(len(live), dtype=bool)
    was[saved] = True
    kept: Ints = saved[live[saved]]
    added = np.flatnonzero(live & ~was)
    if not len(added):
        return kept
    times = born[kept]
    if len(times) > 1 and (np.diff(times) < 0).any():
        raise ValueError("the checkpoint's catalog is out of order")
    order = sorted(added.tolist(), key=lambda i: (int(born[i]), ids[i], i))
    places = []
    for i in order:
        at = (int(born[i]), ids[i], i)
        lo = int(np.searchsorted(times, at[0], side="left"))
        hi = int(np.searchsorted(times, at[0], side="right"))
        while lo < hi:  # the same upload time: by id, then index
            mid = (lo + hi) // 2
            k = int(kept[mid])
            if (int(born[k]), ids[k], k) < at:
                lo = mid + 1
            else:
                hi = mid
        places.append(lo)
    return np.insert(kept, places, order).astype(np.int64)
