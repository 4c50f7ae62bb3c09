"""Reading an engine checkpoint ahead of its load, while the process imports.

A region restarted after a power cut finds nothing of its checkpoint in the
page cache. :func:`~stormproof.recommend.checkpoint.load` maps the file and
touches the arrays it needs at once one page fault at a time: one read of
the disk after another, seconds at a million log entries where reading the
same bytes in one sweep takes a fraction of that (docs/benchmarks.md).
:func:`ask` tells the kernel, before the interpreter has imported numpy or
the app, which bytes the load will touch — every array but those read one
user or one video at a time, later — from a thread of its own
(:func:`in_background`: on a slow or busy disk the asking itself waits for
the device's queue), and the disk reads them in large requests while the
process goes on importing.

The file's layout (a magic line, a header line, a table line, padding to
:data:`ALIGN`, then the arrays) is written by ``checkpoint.py``; this module
knows just enough of it to find the arrays, and imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import BinaryIO

__all__ = ["ALIGN", "READ_ON_DEMAND", "ask", "delta_files", "in_background"]

#: a checkpoint's arrays start at multiples of this many bytes
ALIGN = 64

#: arrays the load leaves on disk: users' rows are decoded when the user is
#: first asked for, pair rows read for one video at a time
READ_ON_DEMAND = frozenset({"user_rows", "pair_cols", "pair_vals"})

#: the longest table line read (a checkpoint's holds a few hundred bytes)
_TABLE_LIMIT = 1 << 16

#: bytes asked for at a time: Linux reads at most the device's readahead
#: window (``read_ahead_kb``, 128 KiB by default) or its largest request
#: of what one call asks for, and quietly drops the rest
_PIECE = 128 << 10


def delta_files(path: Path) -> dict[int, Path]:
    """The delta files beside the checkpoint at ``path``, by number."""
    found: dict[int, Path] = {}
    prefix = path.name + ".delta-"
    for file in path.parent.glob(prefix + "*"):
        number = file.name[len(prefix) :]
        if len(number) == 6 and number.isdigit():
            found[int(number)] = file
    return found


def in_background(path: Path) -> threading.Thread:
    """:func:`ask` on a daemon thread of its own, started."""
    thread = threading.Thread(target=ask, args=(path,), name="readahead", daemon=True)
    thread.start()
    return thread


def ask(path: Path) -> int:
    """Ask the kernel to read, in the background, what a load of the
    checkpoint at ``path`` touches at once: its arrays but
    :data:`READ_ON_DEMAND`, and the whole of every delta beside it (each is
    hashed whole on load). Returns the bytes asked for; 0 where there is no
    checkpoint, it is not one, or the platform has no ``posix_fadvise``.
    Never raises: at worst the load reads its pages itself, as before."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    asked = 0
    try:
        with path.open("rb") as f:
            for start, size in _eager_ranges(f):
                asked += _will_need(f.fileno(), start, size)
        for delta in delta_files(path).values():
            with delta.open("rb") as f:
                asked += _will_need(f.fileno(), 0, os.fstat(f.fileno()).st_size)
    except (OSError, ValueError, TypeError, KeyError):
        return asked
    return asked


def _will_need(fd: int, start: int, size: int) -> int:
    """Ask for ``size`` bytes of ``fd`` from ``start``, a piece at a time
    (the block layer merges neighbouring pieces into large requests)."""
    for at in range(start, start + size, _PIECE):
        os.posix_fadvise(fd, at, min(_PIECE, start + size - at), os.POSIX_FADV_WILLNEED)
    return size


def _eager_ranges(f: BinaryIO) -> list[tuple[int, int]]:
    """(offset, bytes) of each array of the open checkpoint ``f`` that a
    load touches at once, in file order, neighbours joined."""
    for _ in range(2):  # the magic line, the header line
        f.readline(_TABLE_LIMIT)
    table = json.loads(f.readline(_TABLE_LIMIT))
    head = f.tell()
    start = head + -head % ALIGN
    ranges: list[tuple[int, int]] = []
    for name, (_, _, offset, size) in sorted(table.items(), key=lambda item: item[1][2]):
        if name in READ_ON_DEMAND or size <= 0:
            continue
        at = start + int(offset)
        if ranges and ranges[-1][0] + ranges[-1][1] + ALIGN >= at:
            ranges[-1] = (ranges[-1][0], at + int(size) - ranges[-1][0])
        else:
            ranges.append((at, int(size)))
    return ranges
