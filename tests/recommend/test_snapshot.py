"""The engine's state as data: JSON made piecewise, and an encoding that round-trips."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from stormproof.recommend.engine import Engine
from stormproof.recommend.snapshot import Snapshot


def engine_with_a_little_of_everything() -> Engine:
    engine = Engine()
    for n in range(4):
        engine.upload(f"v{n}", f"c{n % 2}", 10 + n, 1000)
    for n, (user, kind) in enumerate([("ü", "like"), ("u2", "watch"), ("ü", "share")] * 3):
        engine.interact(user, f"v{n % 4}", kind, (100 + n, f"e{n}", 0), 800, kind == "watch")
    engine.follow("ü", "c1", (7, "f", 0), True)
    engine.delete("v3", "c1")
    return engine


def test_the_snapshot_json_is_what_json_dumps_gives() -> None:
    snapshot = engine_with_a_little_of_everything().state()
    whole = json.dumps(snapshot.data, separators=(",", ":"), ensure_ascii=False).encode()
    assert snapshot.data_json() == whole


def test_a_decoded_snapshot_equals_the_encoded_one() -> None:
    snapshot = engine_with_a_little_of_everything().state()
    assert len(snapshot.pairs.ids) > 1 and len(snapshot.pairs.vals) > 0
    decoded = Snapshot.decode(snapshot.encode())
    # JSON has no tuples: compare with the data as its JSON reads back.
    assert decoded.data == json.loads(snapshot.data_json())
    assert decoded.digest() == snapshot.digest()
    assert decoded.pairs.ids == snapshot.pairs.ids
    for mine, theirs in zip(
        (decoded.pairs.rows, decoded.pairs.cols, decoded.pairs.vals),
        (snapshot.pairs.rows, snapshot.pairs.cols, snapshot.pairs.vals),
        strict=True,
    ):
        assert mine.dtype == np.int64 and np.array_equal(mine, theirs)
    assert decoded.digest() == snapshot.digest()


def test_damaged_bytes_raise_what_a_checkpoint_load_catches() -> None:
    raw = engine_with_a_little_of_everything().state().encode()
    with pytest.raises(Exception) as caught:
        Snapshot.decode(raw[: len(raw) // 2])
    caught_by_load = (ValueError, KeyError, TypeError, IndexError, EOFError, OSError, zlib.error)
    assert isinstance(caught.value, caught_by_load)
