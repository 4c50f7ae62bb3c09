"""Packing a snapshot's files (ADR 035): what is packed expands to the same
bytes however it arrives, and a packed file that is damaged, cut short,
followed by anything or expanding past what its manifest says is refused
without writing more than that."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.snapshots.packing import Unpacker, UnpackError, pack, packed_name, zstd


def _packed(tmp_path: Path, data: bytes) -> bytes:
    raw = tmp_path / "views.sqlite"
    raw.write_bytes(data)
    packed = pack(raw)
    assert packed.name == packed_name("views.sqlite") == "views.sqlite.zst"
    assert not raw.exists()  # packed in its place
    return packed.read_bytes()


def _unpack(packed: bytes, limit: int, cuts: list[int] | None = None) -> bytes:
    out = io.BytesIO()
    unpacker = Unpacker(out, limit)
    edges = sorted({0, len(packed), *(c % (len(packed) + 1) for c in cuts or [])})
    for start, end in itertools.pairwise(edges):
        unpacker.feed(packed[start:end])
    unpacker.finish()
    assert unpacker.written == len(out.getvalue())
    return out.getvalue()


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=5000),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=8),
)
def test_what_is_packed_expands_to_the_same_bytes_however_it_arrives(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, cuts: list[int]
) -> None:
    packed = _packed(tmp_path_factory.mktemp("pack"), data)
    assert _unpack(packed, len(data), cuts) == data


def test_rows_of_views_pack_small(tmp_path: Path) -> None:
    data = b"".join(b"user%06d|video%06d|like\n" % (i, i * 7) for i in range(100_000))
    assert len(_packed(tmp_path, data)) * 4 < len(data)


def test_a_file_expanding_past_its_limit_is_refused_without_writing_past_it(
    tmp_path: Path,
) -> None:
    packed = _packed(tmp_path, bytes(64 * 1024 * 1024))  # 64 MiB of zeros: a few KiB packed
    out = io.BytesIO()
    unpacker = Unpacker(out, 3 * 1024 * 1024)
    with pytest.raises(UnpackError, match="expands past"):
        unpacker.feed(packed)
    assert len(out.getvalue()) <= 3 * 1024 * 1024


def test_damaged_cut_short_or_followed_by_anything_is_refused(tmp_path: Path) -> None:
    data = os.urandom(200_000) + b"tail " * 40_000
    packed = _packed(tmp_path, data)
    damaged = bytearray(packed)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(UnpackError):  # a damaged block, or the content checksum
        _unpack(bytes(damaged), len(data))
    with pytest.raises(UnpackError, match="ends before its end"):
        _unpack(packed[:-10], len(data))
    with pytest.raises(UnpackError, match="follow the end"):
        _unpack(packed + b"more", len(data))
    with pytest.raises(UnpackError, match="follow the end"):
        _unpack(packed + zstd.compress(b"another frame"), len(data) + 100)
    with pytest.raises(UnpackError):
        _unpack(b"not a frame at all" * 100, len(data))
