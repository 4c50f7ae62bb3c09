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

Most saves write a *delta* beside that file instead of a whole new one
(ADR 032, :mod:`~stormproof.recommend.deltas`): only what changed since the
file before it, with the base's id, the previous file's id and position,
and a SHA-256 of its body. A load takes the base and then its deltas in
order, as far as they form an unbroken, undamaged chain no further than the
views: a delta torn by a kill, damaged, of another base or past the views
ends the chain there, and the tail past it is replayed. Once the deltas add
up to ``COMPACT_AT`` of the base's bytes (or ``MAX_DELTAS`` files), the next
save writes a whole new base — with a new id, so older deltas no longer
apply — and deletes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import hashlib
import io
import itertools
import json
import math
import mmap
import os
import secrets
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stormproof.durable import write_atomically
from stormproof.log import Entry, Log, Position
from stormproof.priority import lower_this_thread
from stormproof.recommend.deltas import Delta, OnDisk, Unsaved, merged
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.readahead import ALIGN, delta_files
from stormproof.recommend.snapshot import FORMAT, Encoded
from stormproof.views.keys import applied_after, first_copy
from stormproof.views.store import ViewStore

__all__ = [
    "COMPACT_AT",
    "COMPACT_FLOOR",
    "MAX_DELTAS",
    "Saving",
    "catch_up",
    "compact_to",
    "delta_files",
    "header_for",
    "load",
    "read_header",
    "resume",
    "save",
    "save_in_child",
    "saved_by_child",
]

_MAGIC = b"stormproof-foryou-checkpoint\n"
_DELTA_MAGIC = b"stormproof-foryou-delta\n"

#: a save writes a delta while the deltas since the base add up to less
#: than this share of the base's bytes (or than COMPACT_FLOOR bytes, for a
#: small base) and number fewer than MAX_DELTAS; otherwise a new base (each
#: delta makes every load a little longer)
COMPACT_AT = 0.5
COMPACT_FLOOR = 1 << 20
MAX_DELTAS = 32


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


def _delta_path(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.delta-{number:06d}")


@dataclasses.dataclass(frozen=True)
class Saving:
    """A save under way: what it took as changed, where it writes
    (``file``: a delta, or the base itself), and what will be on disk once
    it is done (``on_disk``, the new file's bytes not yet counted)."""

    taken: Unsaved
    since: OnDisk | None
    delta: bool
    file: Path
    on_disk: OnDisk


def _plan(engine: Engine, path: Path, *, full: bool) -> Saving:
    """A delta over the checkpoint on disk, or a whole new base; takes the
    engine's changes (call under its lock, as the save's copy is taken)."""
    since = engine.checkpoint_base
    taken = engine.take_unsaved()
    new_id = secrets.token_hex(8)
    n, creators = len(engine.item_ids), len(engine.creators)
    delta = (
        not full
        and since is not None
        and since.path == path
        and since.base_id != ""
        and since.number < MAX_DELTAS
        and since.delta_bytes < max(COMPACT_AT * since.base_bytes, COMPACT_FLOOR)
    )
    if delta:
        assert since is not None
        number = since.number + 1
        on_disk = dataclasses.replace(
            since, position=engine.position, last_id=new_id, number=number, items=n,
            creators=creators,
        )  # fmt: skip
        return Saving(taken, since, True, _delta_path(path, number), on_disk)
    on_disk = OnDisk(path, engine.position, new_id, new_id, 0, n, creators, 0, 0)
    return Saving(taken, since, False, path, on_disk)


def _write_planned(engine: Engine, saving: Saving) -> None:
    """Write what ``saving`` planned: the delta, or the base (then the
    deltas of the base before are dropped)."""
    path, config, on_disk, since = saving.on_disk.path, engine.config, saving.on_disk, saving.since
    if saving.delta:
        assert since is not None
        position, data, arrays = engine.delta_parts(saving.taken, since)
        for number, stale in delta_files(path).items():
            if number >= on_disk.number:  # of a chain a load found broken there
                stale.unlink(missing_ok=True)
        chain = {
            "id": on_disk.last_id,
            "base": on_disk.base_id,
            "previous": since.last_id,
            "number": on_disk.number,
            "after": list(since.position),
        }
        head = {**header_for(config, position), "delta": chain}
        _write_file(_DELTA_MAGIC, head, data, arrays, saving.file, checksum=True)
        return
    unchanged = None
    if since is not None and since.path == path:
        unchanged = _saved_users(since, config)
    position, data, arrays = engine.parts(unchanged, saving.taken.users)
    arrays["id"] = np.frombuffer(bytes.fromhex(on_disk.base_id), dtype=np.uint8)
    _write(config, position, data, arrays, path)
    for stale in delta_files(path).values():  # they extend the base just replaced
        stale.unlink(missing_ok=True)


def _done(engine: Engine, saving: Saving, *, ok: bool) -> None:
    if not ok:
        engine.unsaved(saving.taken)
        if not saving.delta:
            # It may have died with its base in place and the deltas still
            # there: deltas over the old base would never load. Whole again.
            engine.saved(None)
        return
    size = saving.file.stat().st_size
    on_disk = saving.on_disk
    if saving.delta:
        on_disk = dataclasses.replace(on_disk, delta_bytes=on_disk.delta_bytes + size)
    else:
        on_disk = dataclasses.replace(on_disk, base_bytes=size)
    engine.saved(on_disk)


def save(engine: Engine, path: Path, *, full: bool = False) -> Position:
    """Write the engine's state and position to ``path`` — a delta beside
    the checkpoint there when one will do, unless ``full`` — and return the
    position.

    Holds the engine's lock throughout, so that what is taken as changed
    and the state copied agree (a region saves in a child instead:
    :func:`save_in_child`)."""
    with engine.lock:
        saving = _plan(engine, path, full=full)
        try:
            _write_planned(engine, saving)
        except BaseException:
            engine.unsaved(saving.taken)
            raise
        _done(engine, saving, ok=True)
        return saving.on_disk.position


def save_in_child(
    engine: Engine, path: Path, *, full: bool = False
) -> tuple[int, Position, Saving]:
    """:func:`save` in a forked child: this process only forks, holding the
    engine's lock so that the child's copy-on-write image of the engine is
    one consistent state (every change to it holds that lock). The child —
    one thread — copies, orders, encodes and writes it, on its own core and
    with its own GIL, and exits 0 once the file is in place. Returns the
    child's pid (wait for it), the position it saves and what it took as
    changed since the last checkpoint: once the child exited, tell the
    engine with :func:`saved_by_child`.

    Copying takes tenths of a second after thousands of users changed, and
    ordering and encoding seconds of CPU at catalog scale: in the serving
    process they held up writes (the lock) and requests (the GIL). The
    child runs at the priority of work for later, so on a busy machine the
    requests get the cores first."""
    with engine.lock:
        saving = _plan(engine, path, full=full)
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                lower_this_thread()  # work for later: below the parent's requests (ADR 034)
                gc.disable()  # it lives for seconds and frees everything at exit
                _write_planned(engine, saving)
                code = 0
            finally:
                os._exit(code)
        return pid, saving.on_disk.position, saving


def saved_by_child(
    engine: Engine, path: Path, position: Position, saving: Saving, *, ok: bool
) -> None:
    """What a child of :func:`save_in_child` did: ``ok``, the checkpoint at
    ``path`` stands at ``position`` (``saving`` says how); otherwise what it
    took as changed is still to be saved."""
    assert saving.on_disk.path == path and saving.on_disk.position == position
    _done(engine, saving, ok=ok)


def compact_to(path: Path, target: Path, config: EngineConfig | None = None) -> bool:
    """Write to ``target`` one whole checkpoint of what is saved at
    ``path``: its base and deltas merged (a copy of the base when it has
    none). What a peer's snapshot ships (ADR 017): one file, verified as
    before. A save replacing the base meanwhile can only shorten the chain
    read, never mix two: each delta names its base and the one before it.
    False if there is no usable checkpoint at ``path``."""
    config = config or EngineConfig()
    if not delta_files(path):
        try:
            shutil.copyfile(path, target)
        except FileNotFoundError:
            return False
        return True
    header = read_header(path)
    position = header.get("position") if header else None
    if not isinstance(position, list):
        return False
    engine = load(path, config, (2**62,) * len(position))
    if engine is None:
        return False
    _write(config, *engine.parts(), target)
    return True


def _map(path: Path, access: int) -> mmap.mmap | None:
    try:
        with path.open("rb") as f:
            return mmap.mmap(f.fileno(), 0, access=access)
    except (FileNotFoundError, ValueError, OSError):  # missing, or empty
        return None


def _saved_users(on_disk: OnDisk, config: EngineConfig) -> dict[str, Encoded] | None:
    """Every user's row in the checkpoint ``on_disk`` (its base, then its
    deltas), if the files there are still those; None otherwise (replaced
    by a peer's snapshot, deleted, damaged)."""
    mapped = _map(on_disk.path, mmap.ACCESS_READ)
    if mapped is None:
        return None
    try:
        header, arrays = _read(mapped)
        position = tuple(int(seq) for seq in header["position"])
        if header != header_for(config, position) or _base_id(arrays) != on_disk.base_id:
            return None
        if on_disk.base_id == "" and position != on_disk.position:
            return None  # a file of before delta checkpoints: its position tells
        data = json.loads(arrays["meta"].tobytes())
        rows = arrays["user_rows"].tobytes()
        bounds = arrays["user_bounds"].tolist()
        user_ids = data["user_ids"]
        if len(bounds) != len(user_ids) + 1:
            return None
        users = {
            str(user_id): Encoded(rows[bounds[k] : bounds[k + 1]])
            for k, user_id in enumerate(user_ids)
        }
        if on_disk.number:
            chain = _chain(on_disk.path, config, on_disk.base_id, position, on_disk.position)
            if len(chain) < on_disk.number or chain[on_disk.number - 1].id != on_disk.last_id:
                return None
            for delta in chain[: on_disk.number]:
                edges = np.asarray(delta.arrays["user_bounds"]).tolist()
                later = np.asarray(delta.arrays["user_rows"]).tobytes()
                for k, user_id in enumerate(delta.data["user_ids"]):
                    users[str(user_id)] = Encoded(later[edges[k] : edges[k + 1]])
        return users
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        return None


def _base_id(arrays: dict[str, npt.NDArray[Any]]) -> str:
    """A base checkpoint's id; "" for one written before delta checkpoints."""
    found = arrays.pop("id", None)
    return "" if found is None else bytes(found.tobytes()).hex()


def _chain(
    path: Path, config: EngineConfig, base_id: str, at: Position, not_after: Position
) -> list[Delta]:
    """The deltas that extend the base ``base_id`` at ``at``, in order, as
    far as each one is whole, names the one before and stands between it
    and ``not_after``."""
    if not base_id:
        return []
    files = delta_files(path)
    chain: list[Delta] = []
    previous = base_id
    for number in itertools.count(1):
        file = files.get(number)
        delta = None if file is None else _read_delta(file, config, number)
        if delta is None or delta.base != base_id or delta.previous != previous:
            break
        if delta.after != at or len(delta.position) != len(at):
            break
        pairs = zip(at, delta.position, not_after, strict=True)
        if any(seq < before or seq > top for before, seq, top in pairs):
            break
        chain.append(delta)
        previous, at = delta.id, delta.position
    return chain


def _read_delta(file: Path, config: EngineConfig, number: int) -> Delta | None:
    """The delta in ``file`` if it is whole (its SHA-256), of this format and
    configuration, and numbered ``number``; None otherwise."""
    mapped = _map(file, mmap.ACCESS_READ)
    if mapped is None:
        return None
    try:
        header, arrays = _read(mapped, _DELTA_MAGIC)
        position = tuple(int(seq) for seq in header["position"])
        chain = header.pop("delta")
        digest = header.pop("sha256")
        if header != header_for(config, position) or chain["number"] != number:
            return None
        if digest != _body_digest(mapped):
            return None
        data = json.loads(arrays.pop("meta").tobytes())
        after = tuple(int(seq) for seq in chain["after"])
        return Delta(
            str(chain["id"]), str(chain["base"]), str(chain["previous"]), after, position,
            data, arrays, len(mapped),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, AttributeError):
        return None


def _body_digest(mapped: mmap.mmap) -> str:
    """SHA-256 of a file's table line and everything after its head."""
    mapped.seek(0)
    lines = [mapped.readline() for _ in range(3)]
    head = mapped.tell()
    return hashlib.sha256(lines[2] + mapped[head + -head % ALIGN :]).hexdigest()


#: array kinds a checkpoint may hold; anything else is refused on load
_DTYPES = {"<i8", "<i4", "|u1", "|b1"}


def _write(
    config: EngineConfig,
    position: Position,
    data: dict[str, object],
    arrays: dict[str, npt.NDArray[Any]],
    path: Path,
) -> None:
    """Write a base checkpoint (:func:`_write_file`)."""
    _write_file(_MAGIC, header_for(config, position), data, arrays, path)


def _write_file(
    magic: bytes,
    header: dict[str, object],
    data: dict[str, object],
    arrays: dict[str, npt.NDArray[Any]],
    path: Path,
    *,
    checksum: bool = False,
) -> None:
    """Layout: the magic line, the header line, a line listing the arrays
    (name -> dtype, shape, offset and size in bytes from the first array),
    blank padding to ``ALIGN``, then each array's bytes, aligned. With
    ``checksum``, the header holds the SHA-256 of the table line and all
    that follows the padding (a delta: small, and a kill may tear it)."""
    meta = np.frombuffer(json.dumps(data, separators=(",", ":")).encode(), dtype=np.uint8)
    laid: dict[str, npt.NDArray[Any]] = {"meta": meta}
    for name, array in arrays.items():
        laid[name] = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    table: dict[str, tuple[str, list[int], int, int]] = {}
    offset = 0
    for name, array in laid.items():
        table[name] = (array.dtype.str, list(array.shape), offset, array.nbytes)
        offset += -(-array.nbytes // ALIGN) * ALIGN
    line = json.dumps(table).encode() + b"\n"
    body = io.BytesIO()
    for name, array in laid.items():
        body.seek(table[name][2])
        body.write(array.data)
    end = max(offset + size for _, _, offset, size in table.values())
    body.write(b" " * (end - body.seek(0, io.SEEK_END)))
    if checksum:
        header = {**header, "sha256": hashlib.sha256(line + body.getbuffer()).hexdigest()}
    head = magic + json.dumps(header).encode() + b"\n" + line
    out = io.BytesIO()
    out.write(head + b" " * (-len(head) % ALIGN))
    out.write(body.getbuffer())
    write_atomically(path, out.getbuffer())


def load(path: Path, config: EngineConfig, not_after: Position) -> Engine | None:
    """The engine saved at ``path`` — the base, then the deltas beside it
    that extend it — or None if there is none we can use.

    The base is mapped copy-on-write, not read: its arrays are the engine's
    from the first moment (pages come in as they are touched, and a change
    stays in this process's memory), so a restart costs no copy of them.
    The deltas' users and pair rows are laid over the base's."""
    mapped = _map(path, mmap.ACCESS_COPY)
    if mapped is None:
        return None
    try:
        header, arrays = _read(mapped)
        position = tuple(int(seq) for seq in header["position"])
        if header != header_for(config, position) or len(position) != len(not_after):
            return None
        if any(seq > top for seq, top in zip(position, not_after, strict=True)):
            return None
        data = json.loads(arrays.pop("meta").tobytes())
        base_id = _base_id(arrays)
        chain = _chain(path, config, base_id, position, not_after)
        # Millions of new objects, all long-lived: the collector would walk
        # them again and again as they are made (the caller freezes them).
        collecting = gc.isenabled()
        gc.disable()
        try:
            while True:
                try:
                    engine = _engine(
                        path, config, position, base_id, len(mapped), (data, arrays), chain
                    )
                except (ValueError, KeyError, TypeError, IndexError, OverflowError):
                    if not chain:
                        raise
                    # Whole files that do not fit together (never a torn one:
                    # their checksums held): the base alone, and the tail.
                    chain = []
                    continue
                return engine
        finally:
            if collecting:
                gc.enable()
    except (ValueError, KeyError, TypeError, IndexError, OverflowError):
        return None


def _engine(
    path: Path,
    config: EngineConfig,
    position: Position,
    base_id: str,
    base_bytes: int,
    base: tuple[dict[str, Any], dict[str, npt.NDArray[Any]]],
    chain: list[Delta],
) -> Engine:
    """The engine a base's parts and its deltas hold, told what is on disk."""
    (merged_data, merged_arrays), users, pairs = merged(base, chain)
    at = chain[-1].position if chain else position
    engine = Engine.from_parts(at, merged_data, merged_arrays, config, users, pairs)
    last_id = chain[-1].id if chain else base_id
    sizes = sum(delta.size for delta in chain)
    n, creators = len(engine.item_ids), len(engine.creators)
    engine.saved(OnDisk(path, at, base_id, last_id, len(chain), n, creators, base_bytes, sizes))
    return engine


def _read(
    mapped: mmap.mmap, magic: bytes = _MAGIC
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The header and the arrays of a mapped checkpoint, each array a view
    of the mapping. A file of another kind raises ``ValueError``."""
    mapped.seek(0)
    lines = [mapped.readline() for _ in range(3)]
    if lines[0] != magic:
        raise ValueError("not a checkpoint")
    header, table = json.loads(lines[1]), json.loads(lines[2])
    if not isinstance(header, dict) or not isinstance(table, dict):
        raise ValueError("a checkpoint header that is not an object")
    head = mapped.tell()
    start = head + -head % ALIGN
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
