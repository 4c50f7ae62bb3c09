"""Engine checkpoints, and catching an engine up with the views.

A checkpoint is the engine's state as arrays (:meth:`Engine.parts`) with the
position it stands at, written atomically: a magic line, a JSON header line
(format, layout, configuration, position), then an uncompressed ``.npz``
archive — arrays a restart reads without decoding, and each user's row of
:meth:`Engine.state` as encoded JSON, decoded when that user is first asked
for. Loading is a read of the file, not a Python object per signal: JSON
and zlib took 16 s at 250,000 log entries, 78 s at a million (ADR 017).
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
import os
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stormproof.durable import write_atomically
from stormproof.log import Entry, Log, Position
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.snapshot import FORMAT
from stormproof.views.keys import first_copy
from stormproof.views.store import ViewStore

__all__ = ["catch_up", "header_for", "load", "read_header", "resume", "save", "save_in_child"]

_MAGIC = b"stormproof-foryou-checkpoint\n"


#: how the file is laid out; a checkpoint of another layout is ignored
LAYOUT = 3


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
    """Write the engine's state and position to ``path``; return the position."""
    position, data, arrays = engine.parts()
    _write(engine.config, position, data, arrays, path)
    return position


def save_in_child(engine: Engine, path: Path) -> tuple[int, Position]:
    """:func:`save` in a forked child: this process only forks, holding the
    engine's lock so that the child's copy-on-write image of the engine is
    one consistent state (every change to it holds that lock). The child —
    one thread — copies, orders, encodes and writes it, on its own core and
    with its own GIL, and exits 0 once the file is in place. Returns the
    child's pid (wait for it) and the position it saves.

    Copying takes tenths of a second after thousands of users changed, and
    ordering and encoding seconds of CPU at catalog scale: in the serving
    process they held up writes (the lock) and requests (the GIL)."""
    with engine.lock:
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                gc.disable()  # it lives for seconds and frees everything at exit
                save(engine, path)
                code = 0
            finally:
                os._exit(code)
        return pid, engine.position


def _write(
    config: EngineConfig,
    position: Position,
    data: dict[str, object],
    arrays: dict[str, npt.NDArray[Any]],
    path: Path,
) -> None:
    header = json.dumps(header_for(config, position)).encode()
    archive = io.BytesIO()
    archive.write(_MAGIC + header + b"\n")
    meta = np.frombuffer(json.dumps(data, separators=(",", ":")).encode(), dtype=np.uint8)
    np.savez(archive, allow_pickle=False, meta=meta, **arrays)
    write_atomically(path, archive.getbuffer())


def load(path: Path, config: EngineConfig, not_after: Position) -> Engine | None:
    """The engine saved at ``path``, or None if there is none we can use."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    with f:
        if f.read(len(_MAGIC)) != _MAGIC:
            return None
        try:
            header = json.loads(f.readline(1024 * 1024))
            position = tuple(int(seq) for seq in header["position"])
        except (ValueError, KeyError, TypeError):
            return None
        if header != header_for(config, position) or len(position) != len(not_after):
            return None
        if any(seq > top for seq, top in zip(position, not_after, strict=True)):
            return None
        try:
            with np.load(f, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            data = json.loads(arrays.pop("meta").tobytes())
            return Engine.from_parts(position, data, arrays, config)
        except (ValueError, KeyError, TypeError, IndexError, EOFError, OSError, zipfile.BadZipFile):
            return None


def _first_copies(db: sqlite3.Connection, entries: list[Entry]) -> list[Entry]:
    """The entries whose write the views applied from this very copy."""
    return [e for e in entries if first_copy(db, e.key) == (e.partition, e.seq)]


def resume(path: Path, views_at: Position, config: EngineConfig | None = None) -> Engine:
    """The engine saved at ``path`` if it is usable with views at ``views_at``,
    else an empty one; either way, :func:`catch_up` brings it to the views."""
    config = config or EngineConfig()
    return load(path, config, views_at) or Engine(config, partitions=len(views_at))


async def catch_up(engine: Engine, log: Log, store: ViewStore, *, batch: int = 1000) -> None:
    """Replay the log into the engine up to the views' position, each write once."""
    target = store.position()
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
