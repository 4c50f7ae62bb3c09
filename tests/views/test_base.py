"""A view's digest: equal for equal content whatever order rows came in,
different for different content, and pinned (regions on other releases of
Python or SQLite compare digests with this one)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from itertools import combinations
from typing import Any, ClassVar

import pytest

from stormproof.views.base import DIGEST_BATCH, View


class _Notes(View):
    """Tables of each kind a digest reads: a primary key SQLite lets hold
    NULL, a key of NOT NULL columns, a key with a local column, no key."""

    name = "notes"
    tables = ("notes", "pairs", "copies", "loose")
    local_columns: ClassVar[frozenset[str]] = frozenset({"seq"})
    schema = """
    CREATE TABLE notes (note_id TEXT PRIMARY KEY, body BLOB, at INTEGER);
    CREATE TABLE pairs (a TEXT NOT NULL, b TEXT NOT NULL, n INTEGER, PRIMARY KEY (a, b));
    CREATE TABLE copies (key TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (seq, key));
    CREATE TABLE loose (value);
    """


def _filled(rows: dict[str, Sequence[tuple[Any, ...]]], shuffle: int | None = None) -> str:
    """The digest of a fresh database holding ``rows`` per table, inserted
    in the order given or, with ``shuffle``, in a random one (so rowids differ)."""
    db = sqlite3.connect(":memory:")
    db.executescript(_Notes.schema)
    for table, values in rows.items():
        if not values:
            continue
        values = list(values)
        if shuffle is not None:
            random.Random(shuffle).shuffle(values)
        marks = ", ".join("?" * len(values[0]))
        db.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return _Notes().digest(db)


def _content(size: int) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "notes": [(f"n{i:06}", bytes([i % 256]) * (i % 7), i) for i in range(size)]
        + [(None, b"nameless", 1), (None, b"nameless", 1), (None, None, 2)],
        "pairs": [(f"a{i % 10}", f"b{i}", i) for i in range(size)],
        "copies": [(f"k{i}", i) for i in range(50)],
        "loose": [(None,), ("",), (0,), (0,), ("0",), (b"0",), (1.5,)],
    }


def test_the_order_rows_were_inserted_in_does_not_change_the_digest() -> None:
    # Guards: regions apply the same entries in other orders (partitions
    # interleave differently), so their rowids differ; digests must not.
    # More rows than a batch, so the batches split the same way too.
    content = _content(DIGEST_BATCH + 7)
    in_order = _filled(content)
    assert _filled(content, shuffle=1) == in_order
    assert _filled(content, shuffle=2) == in_order


def test_local_columns_are_left_out() -> None:
    content = _content(3)
    moved = {**content, "copies": [(key, seq + 1000) for key, seq in content["copies"]]}
    assert _filled(moved) == _filled(content)


@pytest.mark.parametrize(
    "table, variants",
    [
        # NULL, '', 'null', 'None', 0, '0', 0.0, b'', b'0' and b'0''s hex all differ
        ("loose", [[(None,)], [("",)], [("null",)], [("None",)], [(0,)], [("0",)],
                   [(0.0,)], [(b"",)], [(b"0",)], [("30",)]]),
        # where one value ends and the next begins; one row or two
        ("pairs", [[("a,b", "c", 1)], [("a", "b,c", 1)], [("a", "b", 1), ("c", "d", 2)],
                   [("a", "b", 1)], [("a", "d", 1), ("c", "b", 2)], []]),
        # a row once or twice (no key to keep it unique)
        ("loose", [[("x",)], [("x",), ("x",)]]),
        # NULL keys: which rows have them, and what else they hold
        ("notes", [[(None, b"a", 1)], [(None, b"a", 1), (None, b"a", 1)], [("", b"a", 1)],
                   [(None, b"b", 1)], [(None, b"a", 1), ("n", b"a", 1)]]),
    ],
)  # fmt: skip
def test_different_content_gives_different_digests(
    table: str, variants: list[list[tuple[Any, ...]]]
) -> None:
    digests = [_filled({table: rows}) for rows in variants]
    for (i, one), (j, other) in combinations(enumerate(digests), 2):
        assert one != other, f"{variants[i]} and {variants[j]} digest alike"


def test_the_table_name_and_columns_are_digested() -> None:
    class _Renamed(_Notes):
        tables = ("loose",)

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE loose (value)")
    empty = _Renamed().digest(db)
    db.execute("ALTER TABLE loose RENAME COLUMN value TO other")
    assert _Renamed().digest(db) != empty


def test_the_digest_is_pinned() -> None:
    # Guards: a digest computed on another release of Python (the encoding
    # of values) or SQLite (the order of rows) must be this one, or regions
    # would reject each other's snapshots. A change here changes every digest.
    content = {
        "notes": [("n2", b"\x00\xff", 3), ("n1", None, -(2**40)), (None, b"", 0)],
        "pairs": [("b", "é", 2), ("a", "z", 1)],
        "copies": [("k", 9)],
        "loose": [(1.25,), ("ünï",), (None,), (7,)],
    }
    assert _filled(content) == "4e17a30e3d6174c209df8b2c8a6b6a2b7bf6431fb59cb3507d494ed1ff2f61e9"
