"""Engine checkpoints, and catching an engine up with the views.

A checkpoint is the engine's state as arrays (:meth:`Engine.parts`) with the
position it stands at, written atomically: a magic line, a JSON header line
(format, layout, configuration, position), a line listing the arrays, then
the arrays — among them each user's row of :meth:`Engine.state` as encoded
JSON, decoded when that user is first asked for. Loading maps the file and
uses the arrays in place, not a Python object per signal: decoding JSON and
zlib took 16 s at 250,000 log entries, 78 s at a million (ADR 018).
A restart loads it and replays the log
from there up to where the views stand — applying only the copy of each
write the views applied (the keys view says which), so engine and views
agree on what counts once. A checkpoint that is unreadable, of another
format or configuration, or ahead of the views (they lost a tail in a
crash) is ignored: the engine is rebuilt from sequence 0 instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import io
import json
import math
import mmap
import os
import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stormproof.durable import write_atomically
from stormproof.log import Entry, Log, Position
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.snapshot import FORMAT, Encoded
from stormproof.views.keys import applied_after, first_copy
from stormproof.views.store import ViewStore

__all__ = [
    "catch_up",
    "header_for",
    "load",
    "read_header",
    "resume",
    "save",
    "save_in_child",
    "saved_by_child",
]

_MAGIC = b"stormproof-foryou-checkpoint\n"


#: how the file is laid out; a checkpoint of another layout is ignored
LAYOUT = 4


def header_for(config: EngineConfig, position: Position) -> dict[str, object]:
    """The header of a checkpoint of this format and ``config`` at ``position``."""
    return {
        "format": FORMAT,
        "layout": LAYOUT,
        "config": dataclasses.asdict(config),
        "position": list(position),
    }


def read_header(path: Path) -> dict[str, object] | None:
    """The header of the checkpoint at ``path`` (format, configuration,
    position), read without its state; None if the file holds none."""
    try:
        with path.open("rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC:
                return None
            line = f.readline(1024 * 1024)
    except FileNotFoundError:
        return None
    try:
        found = json.loads(line)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def save(engine: Engine, path: Path) -> Position:
    """Write the engine's state and position to ``path``; return the position.

    Holds the engine's lock throughout, so that the users taken as changed
    and the state copied agree (a region saves in a child instead:
    :func:`save_in_child`)."""
    with engine.lock:
        base, changed = engine.checkpoint_base, engine.take_unsaved()
        try:
            position = _save(engine, path, base, changed)
        except BaseException:
            engine.unsaved(changed)
            raise
        engine.saved(path, position)
        return position


def _save(
    engine: Engine, path: Path, base: tuple[Path, Position] | None, changed: Collection[str]
) -> Position:
    """Write the checkpoint. When ``base`` is the checkpoint now at
    ``path``, the users not in ``changed`` are copied from it as they lie
    there, and only ``changed`` ones encoded (:meth:`Engine.parts`)."""
    unchanged = None
    if base is not None and base[0] == path:
        unchanged = _saved_users(path, engine.config, base[1])
    position, data, arrays = engine.parts(unchanged, changed)
    _write(engine.config, position, data, arrays, path)
    return position


def save_in_child(engine: Engine, path: Path) -> tuple[int, Position, set[str]]:
    """:func:`save` in a forked child: this process only forks, holding the
    engine's lock so that the child's copy-on-write image of the engine is
    one consistent state (every change to it holds that lock). The child —
    one thread — copies, orders, encodes and writes it, on its own core and
    with its own GIL, and exits 0 once the file is in place. Returns the
    child's pid (wait for it), the position it saves and the users it takes
    as changed since the last checkpoint: once the child exited, tell the
    engine with :func:`saved_by_child`.

    Copying takes tenths of a second after thousands of users changed, and
    ordering and encoding seconds of CPU at catalog scale: in the serving
    process they held up writes (the lock) and requests (the GIL)."""
    with engine.lock:
        base, changed = engine.checkpoint_base, engine.take_unsaved()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                gc.disable()  # it lives for seconds and frees everything at exit
                _save(engine, path, base, changed)
                code = 0
            finally:
                os._exit(code)
        return pid, engine.position, changed


def saved_by_child(
    engine: Engine, path: Path, position: Position, changed: set[str], *, ok: bool
) -> None:
    """What a child of :func:`save_in_child` did: ``ok``, the checkpoint at
    ``path`` stands at ``position``; otherwise the users it took as changed
    are still to be saved."""
    if ok:
        engine.saved(path, position)
    else:
        engine.unsaved(changed)


def _saved_users(path: Path, config: EngineConfig, position: Position) -> dict[str, Encoded] | None:
    """Every user's row in the checkpoint at ``path``, if it is the one of
    this configuration at ``position``; None otherwise (it was replaced)."""
    try:
        with path.open("rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (FileNotFoundError, ValueError, OSError):
        return None
    try:
        header, arrays = _read(mapped)
        if header != header_for(config, position):
            return None
        data = json.loads(arrays["meta"].tobytes())
        rows = arrays["user_rows"].tobytes()
        bounds = arrays["user_bounds"].tolist()
        user_ids = data["user_ids"]
        if len(bounds) != len(user_ids) + 1:
            return None
        return {
            str(user_id): Encoded(rows[bounds[k] : bounds[k + 1]])
            for k, user_id in enumerate(user_ids)
        }
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        return None


#: array kinds a checkpoint may hold; anything else is refused on load
_DTYPES = {"<i8", "|u1", "|b1"}
#: arrays start at multiples of this many bytes
_ALIGN = 64


def _write(
    config: EngineConfig,
    position: Position,
    data: dict[str, object],
    arrays: dict[str, npt.NDArray[Any]],
    path: Path,
) -> None:
    """Layout: the magic line, the header line, a line listing the arrays
    (name -> dtype, shape, offset and size in bytes from the first array),
    blank padding to ``_ALIGN``, then each array's bytes, aligned."""
    meta = np.frombuffer(json.dumps(data, separators=(",", ":")).encode(), dtype=np.uint8)
    laid: dict[str, npt.NDArray[Any]] = {"meta": meta}
    for name, array in arrays.items():
        laid[name] = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    table: dict[str, tuple[str, list[int], int, int]] = {}
    offset = 0
    for name, array in laid.items():
        table[name] = (array.dtype.str, list(array.shape), offset, array.nbytes)
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    head = _MAGIC + json.dumps(header_for(config, position)).encode() + b"\n"
    head += json.dumps(table).encode() + b"\n"
    out = io.BytesIO()
    out.write(head + b" " * (-len(head) % _ALIGN))
    start = out.tell()
    for name, array in laid.items():
        out.seek(start + table[name][2])
        out.write(array.data)
    end = max(start + offset + size for _, _, offset, size in table.values())
    out.write(b" " * (end - out.seek(0, io.SEEK_END)))
    write_atomically(path, out.getbuffer())


def load(path: Path, config: EngineConfig, not_after: Position) -> Engine | None:
    """The engine saved at ``path``, or None if there is none we can use.

    The file is mapped copy-on-write, not read: its arrays are the engine's
    from the first moment (pages come in as they are touched, and a change
    stays in this process's memory), so a restart costs no copy of them."""
    try:
        with path.open("rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    except (FileNotFoundError, ValueError, OSError):  # missing, or empty
        return None
    try:
        header, arrays = _read(mapped)
        position = tuple(int(seq) for seq in header["position"])
        if header != header_for(config, position) or len(position) != len(not_after):
            return None
        if any(seq > top for seq, top in zip(position, not_after, strict=True)):
            return None
        data = json.loads(arrays.pop("meta").tobytes())
        # Millions of new objects, all long-lived: the collector would walk
        # them again and again as they are made (the caller freezes them).
        collecting = gc.isenabled()
        gc.disable()
        try:
            engine = Engine.from_parts(position, data, arrays, config)
            engine.saved(path, position)
            return engine
        finally:
            if collecting:
                gc.enable()
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        return None


def _read(mapped: mmap.mmap) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The header and the arrays of a mapped checkpoint, each array a view
    of the mapping. A file of another kind raises ``ValueError``."""
    lines = [mapped.readline() for _ in range(3)]
    if lines[0] != _MAGIC:
        raise ValueError("not a checkpoint")
    header, table = json.loads(lines[1]), json.loads(lines[2])
    if not isinstance(header, dict) or not isinstance(table, dict):
        raise ValueError("a checkpoint header that is not an object")
    head = mapped.tell()
    start = head + -head % _ALIGN
    return header, {name: _mapped(mapped, start, *where) for name, where in table.items()}


def _mapped(
    mapped: mmap.mmap, start: int, dtype: str, shape: list[int], offset: int, size: int
) -> npt.NDArray[Any]:
    """One array of the file, as a view of its mapping."""
    if dtype not in _DTYPES or offset < 0 or any(d < 0 for d in shape):
        raise ValueError("a checkpoint array of an unknown kind or shape")
    kind = np.dtype(dtype)
    count = math.prod(shape)
    if count * kind.itemsize != size or start + offset + size > len(mapped):
        raise ValueError("a checkpoint array does not fit in the file")
    if count == 0:
        return np.zeros(shape, dtype=kind)
    return np.frombuffer(mapped, dtype=kind, count=count, offset=start + offset).reshape(shape)


def _tail(
    db: sqlite3.Connection, store: ViewStore, after: Position
) -> tuple[Position, list[Entry]]:
    """Where the views stand, and the writes they applied past ``after``,
    read in one transaction so that the two agree."""
    db.execute("BEGIN")
    try:
        target = store.position(db)
        return target, applied_after(db, after, target)
    finally:
        db.execute("COMMIT")


def _first_copies(db: sqlite3.Connection, entries: list[Entry]) -> list[Entry]:
    """The entries whose write the views applied from this very copy."""
    return [e for e in entries if first_copy(db, e.key) == (e.partition, e.seq)]


def resume(path: Path, views_at: Position, config: EngineConfig | None = None) -> Engine:
    """The engine saved at ``path`` if it is usable with views at ``views_at``,
    else an empty one; either way, :func:`catch_up` brings it to the views."""
    config = config or EngineConfig()
    return load(path, config, views_at) or Engine(config, partitions=len(views_at))


#: a tail up to this many entries behind the views is read from the views'
#: own record of applied writes; a longer one from the log, in batches
TAIL_FROM_VIEWS = 50_000


async def catch_up(engine: Engine, log: Log, store: ViewStore, *, batch: int = 1000) -> None:
    """Replay into the engine up to the views' position, each write once.

    A short tail — a restart past a recent checkpoint — comes from the keys
    view, which holds every write the views applied, as applied: a local
    read, where the log's may go over the network to a server that is
    itself still starting (3,400 to 4,000 entries/s from JetStream at 1M
    entries, ADR 018). A long one is read from the log a batch at a time,
    so memory stays bounded."""
    target = store.position()
    behind = sum(t - a for t, a in zip(target, engine.position, strict=True))
    if 0 < behind <= TAIL_FROM_VIEWS:
        read = functools.partial(_tail, store=store, after=engine.position)
        views_at, tail = await store.query(read)
        await asyncio.to_thread(engine.apply, tail, views_at)
        return
    for partition in range(log.partitions):
        while (after := engine.position[partition]) < target[partition]:
            entries = await log.read(partition, after, min(batch, target[partition] - after))
            entries = [entry for entry in entries if entry.seq <= target[partition]]
            if not entries:
                return  # the log is behind the views: the projector will notice
            fresh = await store.query(functools.partial(_first_copies, entries=entries))
            reached = list(engine.position)
            reached[partition] = entries[-1].seq
            await asyncio.to_thread(engine.apply, fresh, tuple(reached))
