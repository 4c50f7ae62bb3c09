"""A checkpoint's pages are asked for ahead of its load: exactly the arrays
the load touches at once and the deltas, never the rows read on demand; the
kernel then reads them (seen through mincore(2)); and a missing or foreign
file asks for nothing and raises nothing."""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import time
from pathlib import Path

import numpy as np
import pytest

from stormproof.recommend import checkpoint, readahead
from stormproof.recommend.engine import Engine, EngineConfig


def _engine(videos: int = 400, users: int = 300) -> Engine:
    """An engine with every kind of array: videos, users' rows, pair rows."""
    engine = Engine()
    for v in range(videos):
        engine.upload(f"v{v}", f"c{v % 37}", 1000 + v, 15_000)
    for u in range(users):
        for k in range(6):
            video = f"v{(u * 7 + k * 13) % videos}"
            engine.interact(f"u{u}", video, "watch", (1 + u * 6 + k, f"e{u}.{k}", 0), 9_000, True)
    engine.position = (users * 6 + 1,)
    return engine


def _table(path: Path) -> tuple[int, dict[str, list[int]]]:
    """Where a checkpoint's arrays start, and its table: name -> (offset, size)."""
    with path.open("rb") as f:
        f.readline()
        f.readline()
        table = json.loads(f.readline())
        head = f.tell()
    return head + -head % readahead.ALIGN, {n: [w[2], w[3]] for n, w in table.items()}


def _resident(path: Path) -> list[bool]:
    """Whether each page of ``path`` is in the page cache now (mincore(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long,
    ]  # fmt: skip
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            found = (ctypes.c_ubyte * pages)()
            assert libc.mincore(address, size, found) == 0, os.strerror(ctypes.get_errno())
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)
    return [bool(page & 1) for page in found]


def _drop(path: Path) -> None:
    """Drop the file's (clean) pages from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_the_ranges_asked_for_are_every_array_the_load_touches_and_none_read_on_demand(
    tmp_path: Path,
) -> None:
    path = tmp_path / "foryou.checkpoint"
    checkpoint.save(_engine(), path, full=True)
    start, table = _table(path)
    # Guards a rename: an array read on demand that the file no longer holds
    # by that name would be read ahead whole at every start.
    assert set(table) >= readahead.READ_ON_DEMAND
    with path.open("rb") as f:
        ranges = readahead._eager_ranges(f)
    covered = set()
    for at, size in ranges:
        covered |= set(range(at, at + size))
    for name, (offset, size) in table.items():
        spans = set(range(start + offset, start + offset + size))
        if name in readahead.READ_ON_DEMAND:
            assert not spans & covered, name
        else:
            assert spans <= covered, name
    assert readahead.ask(path) == sum(size for _, size in ranges)


def test_the_kernel_reads_the_ranges_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    checkpoint.save(_engine(videos=20_000, users=3_000), path, full=True)
    _drop(path)
    if any(_resident(path)):
        pytest.skip("this file system keeps the file's pages (tmpfs?): nothing to read ahead")
    with path.open("rb") as f:
        ranges = readahead._eager_ranges(f)
    wanted = {
        page
        for at, size in ranges
        for page in range(at // mmap.PAGESIZE, (at + size - 1) // mmap.PAGESIZE + 1)
    }
    assert readahead.ask(path) > 0
    deadline = time.monotonic() + 60  # a wait for the disk, not a measure of it
    while not all(_resident(path)[page] for page in wanted):
        assert time.monotonic() < deadline, "the pages asked for were never read"
        time.sleep(0.05)


def test_an_array_larger_than_the_kernels_readahead_window_is_read_whole(tmp_path: Path) -> None:
    # Guards the pieces: Linux reads at most the device's readahead window
    # (8 MiB here, 128 KiB by default) of what one posix_fadvise asks for,
    # and drops the rest; one call for a 29 MB array read its first 8 MiB.
    path = tmp_path / "large.checkpoint"
    big = np.frombuffer(os.urandom(24 << 20), dtype=np.uint8)
    checkpoint._write(EngineConfig(), (1,), {}, {"big": big}, path)
    _drop(path)
    if any(_resident(path)):
        pytest.skip("this file system keeps the file's pages (tmpfs?): nothing to read ahead")
    thread = readahead.in_background(path)
    thread.join()
    start, table = _table(path)
    offset, size = table["big"]
    first, last = (start + offset) // mmap.PAGESIZE, (start + offset + size - 1) // mmap.PAGESIZE
    deadline = time.monotonic() + 60  # a wait for the disk, not a measure of it
    while not all(_resident(path)[first : last + 1]):
        assert time.monotonic() < deadline, "the array was not read whole"
        time.sleep(0.05)


def test_deltas_are_asked_for_whole(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine = _engine()
    checkpoint.save(engine, path, full=True)
    base = readahead.ask(path)
    engine.interact("u1", "v3", "like", (10_000, "later", 0), 0, True)
    engine.position = (10_000,)
    checkpoint.save(engine, path)
    deltas = checkpoint.delta_files(path)
    assert len(deltas) == 1
    assert readahead.ask(path) == base + sum(p.stat().st_size for p in deltas.values())


def test_a_missing_or_foreign_file_asks_for_nothing(tmp_path: Path) -> None:
    assert readahead.ask(tmp_path / "none") == 0
    foreign = tmp_path / "foreign"
    foreign.write_bytes(b"not a checkpoint\n" * 3 + b"\xff" * 100)
    assert readahead.ask(foreign) == 0
    endless = tmp_path / "endless"  # no line ends: the table is never found
    endless.write_bytes(b"x" * 300_000)
    assert readahead.ask(endless) == 0
