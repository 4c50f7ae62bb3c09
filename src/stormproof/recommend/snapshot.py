"""The For You engine's state as plain data, and how it is encoded.

A :class:`Snapshot` is what :meth:`~stormproof.recommend.engine.Engine.state`
gives: every user, video and trending slot as JSON-ready data ordered by id,
and the co-engagement weights as a :class:`PairTable` of integer arrays. Equal
engines give equal snapshots whatever order they applied events in, so the
snapshot is what regions compare (:meth:`Snapshot.digest`) and what a
checkpoint stores (:meth:`Snapshot.encode`, :meth:`Snapshot.decode`; the
checkpoint file adds its header, see :mod:`~stormproof.recommend.checkpoint`).
``FORMAT`` changes whenever the data's shape does.
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FORMAT", "PairTable", "Snapshot"]

Ints = npt.NDArray[np.int64]
FORMAT = 2


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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
        the interpreter lock for seconds and stall every request meanwhile."""
        parts = []
        for key, value in self.data.items():
            if isinstance(value, list):
                inner = ",".join(_compact(element) for element in value)
                parts.append(f"{_compact(key)}:[{inner}]")
            else:
                parts.append(f"{_compact(key)}:{_compact(value)}")
        return ("{" + ",".join(parts) + "}").encode()

    def digest(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.data_json())
        digest.update(_compact(self.pairs.ids).encode())
        for array in (self.pairs.rows, self.pairs.cols, self.pairs.vals):
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        return digest.hexdigest()

    def encode(self) -> bytes:
        """Layout: the length of the compressed JSON data as 8 bytes, that
        data (``{"data": ..., "pair_ids": ...}``), then the pair table's three
        arrays in numpy's ``.npy`` format (32-bit), compressed together.
        Compression is the fastest level: a checkpoint is written every
        minute and read once per start."""
        ids = json.dumps(self.pairs.ids, separators=(",", ":")).encode()
        body = zlib.compress(b'{"data":' + self.data_json() + b',"pair_ids":' + ids + b"}", 1)
        arrays = io.BytesIO()
        for array in (self.pairs.rows, self.pairs.cols, self.pairs.vals):
            np.save(arrays, array.astype(np.int32), allow_pickle=False)
        packed = zlib.compress(arrays.getvalue(), 1)
        return len(body).to_bytes(8, "big") + body + packed

    @classmethod
    def decode(cls, raw: bytes) -> Snapshot:
        """The snapshot :meth:`encode` gave ``raw``. Damaged bytes raise
        ``ValueError``, ``KeyError``, ``TypeError``, ``IndexError``,
        ``EOFError``, ``OSError`` or ``zlib.error``."""
        size = int.from_bytes(raw[:8], "big")
        data = json.loads(zlib.decompress(raw[8 : 8 + size]))
        arrays = io.BytesIO(zlib.decompress(raw[8 + size :]))
        rows, cols, vals = (np.load(arrays, allow_pickle=False).astype(np.int64) for _ in range(3))
        return cls(data["data"], PairTable(data["pair_ids"], rows, cols, vals))
