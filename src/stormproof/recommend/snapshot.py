"""The For You engine's state as plain data, and how it is encoded.

A :class:`Snapshot` is what :meth:`~stormproof.recommend.engine.Engine.state`
gives: every user, video and trending slot as JSON-ready data ordered by id,
and the co-engagement weights as a :class:`PairTable` of integer arrays. Equal
engines give equal snapshots whatever order they applied events in, so the
snapshot is what regions compare (:meth:`Snapshot.digest`); a checkpoint
keeps the engine's arrays instead (:mod:`~stormproof.recommend.checkpoint`),
and each user's row of this data as encoded here. ``FORMAT`` changes whenever
the data's shape does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FORMAT", "Encoded", "PairTable", "Snapshot"]

Ints = npt.NDArray[np.int64]
FORMAT = 2


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Encoded(bytes):
    """A JSON value already encoded (compact, as :meth:`Snapshot.data_json`
    writes values): a user's row as a checkpoint kept it, or as ordering the
    state made it once."""

    @classmethod
    def of(cls, value: object) -> Encoded:
        return cls(_compact(value).encode())


def _element(value: object) -> bytes:
    return value if isinstance(value, Encoded) else _compact(value).encode()


@dataclass(frozen=True)
class PairTable:
    """Co-engagement weights by id: ``ids`` sorted, and each nonzero cell as
    (rank of row id, rank of column id, weight), ordered by row then column."""

    ids: list[str]
    rows: Ints
    cols: Ints
    vals: Ints

    @classmethod
    def of(cls, ids: list[str], by_id: list[int], rows: list[tuple[int, Ints, Ints]]) -> PairTable:
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.array(by_id, dtype=np.int64)] = np.arange(len(ids))
        lengths = [len(cols) for _, cols, _ in rows]
        row = rank[np.repeat(np.array([i for i, _, _ in rows], dtype=np.int64), lengths)]
        empty = np.zeros(0, dtype=np.int64)
        col = rank[np.concatenate([cols for _, cols, _ in rows] or [empty])]
        val = np.concatenate([vals for _, _, vals in rows] or [empty])
        order = np.lexsort((col, row))
        return cls([ids[i] for i in by_id], row[order], col[order], val[order])


@dataclass(frozen=True)
class Snapshot:
    """The engine's state: plain data, and the pair table as arrays."""

    data: dict[str, Any]
    pairs: PairTable

    def data_json(self) -> bytes:
        """``data`` as compact JSON — the bytes ``json.dumps`` would give, made
        one list element at a time: one call over the whole state would hold
        the interpreter lock for seconds and stall every request meanwhile.
        :class:`Encoded` elements go in as they are."""
        parts = []
        for key, value in self.data.items():
            name = _compact(key).encode()
            if isinstance(value, list):
                parts.append(name + b":[" + b",".join(_element(v) for v in value) + b"]")
            else:
                parts.append(name + b":" + _compact(value).encode())
        return b"{" + b",".join(parts) + b"}"

    def digest(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.data_json())
        digest.update(_compact(self.pairs.ids).encode())
        for array in (self.pairs.rows, self.pairs.cols, self.pairs.vals):
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        return digest.hexdigest()
