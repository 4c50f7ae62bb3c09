"""Checkpoint saves: what one costs after a restart and then in steady use.

Takes a region's folder as ``benchmarks/recovery.py --keep`` leaves it
(``log.sqlite`` and ``views.sqlite`` at the end of the log; the folder is
only read), builds the For You engine up to ``--tail`` entries before the
end and saves it — the checkpoint a region would restart from — then, as a
restarted region does: loads it, replays the tail from the keys view, saves
(the first save after a restart), replays ``--then`` more entries and saves
again (a save in steady use). Each save is made two ways from the same
engine, each in a forked child as the region saves, and measured in the
child's CPU seconds (the wall clock on a shared machine says little):
**full** — every user changed since the engine was loaded encoded again
(the region's saves before 2026-12-01 did this every time: what a forked
child encodes never reaches the serving process) — and **incremental**:
only the users changed since the last checkpoint, the others copied from
that file as they lie there. Both must give the same bytes for every user;
the script checks. Both merge the pair rows' pending changes in one pass
over every cell; merging them row by row, as before, is timed apart, and
``before_cpu_s_estimated`` is full + row by row - one pass.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/checkpoint_save.py FOLDER
       [--tail 20000] [--then 5000] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from foryou import machine

from stormproof.log.sqlite import SqliteLog
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.views import all_views
from stormproof.views.keys import applied_after
from stormproof.views.store import ViewStore


async def _engine_until(log_path: Path, stop: int) -> Engine:
    log, engine = SqliteLog(log_path), Engine()
    try:
        after = 0
        while after < stop:
            entries = await log.read(0, after, min(5000, stop - after))
            engine.apply(entries, (entries[-1].seq,))
            after = entries[-1].seq
    finally:
        await log.close()
    return engine


def _cpu(fn: Any) -> tuple[Any, float]:
    started = time.process_time()
    found = fn()
    return found, round(time.process_time() - started, 3)


def _in_child(fn: Any) -> float:
    """CPU seconds a forked child takes to run ``fn``, as the region saves."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            gc.disable()
            fn()
            code = 0
        finally:
            os._exit(code)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("a save failed")
    return round(usage.ru_utime + usage.ru_stime, 3)


def _both(engine: Engine, path: Path) -> dict[str, Any]:
    """Both ways of saving ``engine``, each in a forked child as the region
    does (so the engine here learns nothing from either); the incremental
    one over the checkpoint at ``path``, as the region would."""
    base = engine.checkpoint_base
    assert base is not None and base[0] == path
    scratch = path.with_name("full.checkpoint")
    full_s = _in_child(lambda: checkpoint._write(engine.config, *engine.parts(), scratch))
    with engine.lock:
        changed, position = engine.take_unsaved(), engine.position
    quick_s = _in_child(lambda: checkpoint._save(engine, path, base, changed))
    engine.saved(path, position)
    if checkpoint._saved_users(scratch, engine.config, position) != checkpoint._saved_users(
        path, engine.config, position
    ):
        raise RuntimeError("the two saves differ")
    by_row_s = _in_child(lambda: list(engine.pairs.copy()))
    at_once_s = _in_child(lambda: engine.pairs.copied().arrays())
    return {
        "users_changed_since_last_save": len(changed),
        "full_cpu_s": full_s,
        "incremental_cpu_s": quick_s,
        "pairs_row_by_row_cpu_s": by_row_s,
        "pairs_in_one_pass_cpu_s": at_once_s,
        "before_cpu_s_estimated": round(full_s + by_row_s - at_once_s, 3),
    }


def run(folder: Path, tail: int, then: int) -> dict[str, Any]:
    store = ViewStore(folder / "views.sqlite", all_views())
    top = store.position()
    work = Path(tempfile.mkdtemp(prefix="checkpoint-save-"))
    try:
        path = work / "foryou.checkpoint"
        engine = asyncio.run(_engine_until(folder / "log.sqlite", top[0] - tail - then))
        checkpoint.save(engine, path)
        del engine
        gc.collect()
        loaded, load_s = _cpu(lambda: checkpoint.load(path, EngineConfig(), top))
        if loaded is None:
            raise RuntimeError("the checkpoint just saved did not load")
        engine = loaded
        gc.freeze()
        entries = applied_after(store.reader(), engine.position, top)
        first, rest = entries[:tail], entries[tail:]
        _, replay_s = _cpu(lambda: engine.apply(first, (first[-1].seq,)))
        after_restart = _both(engine, path)
        _, then_s = _cpu(lambda: engine.apply(rest, top))
        steady = _both(engine, path)
        return {
            "entries": top[0],
            "load_cpu_s": load_s,
            "tail": len(first),
            "tail_replay_cpu_s": replay_s,
            "tail_entries_per_cpu_s": round(len(first) / replay_s),
            "first_save_after_restart": after_restart,
            "then": len(rest),
            "then_replay_cpu_s": then_s,
            "save_in_steady_use": steady,
            "checkpoint_bytes": path.stat().st_size,
        }
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a region folder (log.sqlite, views.sqlite)")
    parser.add_argument("--tail", type=int, default=20_000, help="entries replayed after the load")
    parser.add_argument("--then", type=int, default=5_000, help="entries before the second save")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = run(args.folder, args.tail, args.then)
    print(json.dumps({**figures, "machine": machine()}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
