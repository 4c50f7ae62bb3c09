"""Checkpoint saves: what one costs after a restart and then in steady use.

Takes a region's folder as ``benchmarks/recovery.py --keep`` leaves it
(``log.sqlite`` and ``views.sqlite`` at the end of the log; the folder is
only read), builds the For You engine up to ``--tail`` + ``--then``
entries before the end and saves it whole — the checkpoint a region would
restart from — then, as a restarted region does: loads it, replays the
tail from the keys view, saves (the first save after a restart), then
replays ``--then`` more entries ``--every`` at a time, saving after each
(saves in steady use). Every save is made in a forked child as the region
saves, and measured in the child's CPU seconds (the wall clock on a shared
machine says little), with the bytes it wrote and the wall time of the
fork in this process. The first save after the restart and the last one
are made three ways from the same engine: **full** — every user changed
since the engine was loaded encoded again (the region's saves before
2026-12-01); **incremental** — a whole file, the users unchanged since the
last save copied from the files on disk (ADR 026); **delta** — only what
changed, beside the last file (ADR 032), the one kept. Then the base and
its deltas are loaded (CPU seconds; with ``--verify`` the loaded engine's
digest is checked against the one that saved them), compacted into a new
base (a whole save, in a child), and that loaded.

Usage: PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/checkpoint_save.py FOLDER
       [--tail 20000] [--then 12000] [--every 1500] [--verify] [--compact-at F] [--json OUT]
       or FOLDER --policy N: the tail a kill would leave, under each save rule
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
from stormproof.region import SAVE_CREDIT_S
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


def _fork_and_wait(engine: Engine, path: Path, *, full: bool = False) -> dict[str, Any]:
    """A save as the region makes it (:func:`checkpoint.save_in_child`): the
    wall time this process spends forking (under the engine's lock), the
    child's CPU seconds, and the bytes it wrote."""
    began = time.perf_counter()
    pid, position, saving = checkpoint.save_in_child(engine, path, full=full)
    fork_s = time.perf_counter() - began
    _, status, usage = os.wait4(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    checkpoint.saved_by_child(engine, path, position, saving, ok=ok)
    if not ok:
        raise RuntimeError("a save failed")
    return {
        "kind": "delta" if saving.delta else "full",
        "users": len(saving.taken.users),
        "videos": len(saving.taken.items),
        "pair_rows": len(saving.taken.pair_rows),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "fork_ms": round(fork_s * 1000, 1),
        "bytes": saving.file.stat().st_size,
    }


def _three_ways(engine: Engine, path: Path) -> dict[str, Any]:
    """One save of ``engine`` made three ways, each in a forked child as the
    region saves (so this process learns nothing from the first two):
    **full** — every user changed since the load encoded again (before
    2026-12-01); **incremental** — a whole file, the users unchanged since
    the last save copied from the files on disk (ADR 026); **delta** — only
    what changed, beside the last file (ADR 032), which is then kept."""
    since = engine.checkpoint_base
    assert since is not None
    scratch = path.with_name("full.checkpoint")
    full_s = _in_child(lambda: checkpoint._write(engine.config, *engine.parts(), scratch))
    full_bytes = scratch.stat().st_size
    with engine.lock:
        taken = engine.take_unsaved()
    engine.unsaved(taken)

    def incremental() -> None:
        unchanged = checkpoint._saved_users(since, engine.config)
        assert unchanged is not None, "the files on disk are not the ones recorded"
        checkpoint._write(engine.config, *engine.parts(unchanged, taken.users), scratch)

    quick_s = _in_child(incremental)
    scratch.unlink()
    delta = _fork_and_wait(engine, path)
    assert delta["kind"] == "delta"
    return {
        "users_changed_since_last_save": len(taken.users),
        "videos_changed": len(taken.items),
        "pair_rows_changed": len(taken.pair_rows),
        "full_cpu_s": full_s,
        "incremental_cpu_s": quick_s,
        "delta_cpu_s": delta["cpu_s"],
        "whole_file_bytes": full_bytes,
        "delta_bytes": delta["bytes"],
        "fork_ms": delta["fork_ms"],
    }


def _load(path: Path, top: tuple[int, ...]) -> tuple[Engine, float]:
    gc.collect()
    loaded, load_s = _cpu(lambda: checkpoint.load(path, EngineConfig(), top))
    if loaded is None:
        raise RuntimeError("the checkpoint just saved did not load")
    return loaded, load_s


def run(folder: Path, tail: int, then: int, every: int, verify: bool) -> dict[str, Any]:
    store = ViewStore(folder / "views.sqlite", all_views())
    top = store.position()
    work = Path(tempfile.mkdtemp(prefix="checkpoint-save-"))
    try:
        path = work / "foryou.checkpoint"
        engine = asyncio.run(_engine_until(folder / "log.sqlite", top[0] - tail - then))
        checkpoint.save(engine, path, full=True)
        del engine
        engine, load_s = _load(path, top)
        gc.freeze()
        entries = applied_after(store.reader(), engine.position, top)
        first, rest = entries[:tail], entries[tail:]
        _, replay_s = _cpu(lambda: engine.apply(first, (first[-1].seq,)))
        after_restart = _three_ways(engine, path)
        steps = []
        replay_then_s = 0.0
        for start in range(0, len(rest), every):
            part = rest[start : start + every]
            last = start + every >= len(rest)
            reach = top if last else (part[-1].seq,)
            _, took = _cpu(lambda part=part, reach=reach: engine.apply(part, reach))
            replay_then_s += took
            if last:  # the save in steady use, three ways
                steady = _three_ways(engine, path)
                saved = {"cpu_s": steady["delta_cpu_s"], "bytes": steady["delta_bytes"],
                         "fork_ms": steady["fork_ms"]}  # fmt: skip
            else:
                saved = _fork_and_wait(engine, path)
            steps.append(
                {"entries": len(part), **{k: saved[k] for k in ("cpu_s", "bytes", "fork_ms")}}
            )
        on_disk = engine.checkpoint_base
        assert on_disk is not None
        base_bytes = path.stat().st_size
        loaded, chain_load_s = _load(path, top)
        assert loaded.position == engine.position == top
        equal = None
        if verify:
            equal = loaded.digest() == engine.digest()
            if not equal:
                raise RuntimeError("base + deltas load as another engine")
        del loaded
        compaction = _fork_and_wait(engine, path, full=True)
        _, compacted_load_s = _load(path, top)
        return {
            "entries": top[0],
            "load_cpu_s": load_s,
            "tail": len(first),
            "tail_replay_cpu_s": replay_s,
            "tail_entries_per_cpu_s": round(len(first) / replay_s),
            "first_save_after_restart": after_restart,
            "then": len(rest),
            "then_replay_cpu_s": round(replay_then_s, 3),
            "every": every,
            "deltas_in_steady_use": steps,
            "save_in_steady_use": steady,
            "chain": {
                "deltas": on_disk.number,
                "delta_bytes": on_disk.delta_bytes,
                "base_bytes": base_bytes,
                "load_cpu_s": chain_load_s,
                "equal_digests": equal,
            },
            "compact_at": checkpoint.COMPACT_AT,
            "compaction": compaction,
            "compacted_load_cpu_s": compacted_load_s,
            "checkpoint_bytes": path.stat().st_size,
        }
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)


def _policy_run(
    engine: Engine, path: Path, entries: list[Any], top: tuple[int, ...], *, old: bool
) -> dict[str, Any]:
    """Apply ``entries`` as fast as the engine goes (a catch-up: the most
    entries per second a region sees) while saves run as the region's rule
    has them, each in a forked child running beside this process, and
    sample after every 100 entries how far the engine stands past the last
    save that finished: what a SIGKILL at that moment would leave to replay.

    New rule (region.py): a delta once 1,500 entries past, not within 0.5 s
    of the last save, while the credit of a third of a CPU second per second
    (up to ``SAVE_CREDIT_S``) is not spent. Old rule: a whole save once
    5,000 entries past, not within 10 s nor twice the last save's time (on
    the clock). Also reported: the saves' wall time, and the longest."""
    many, gap = (5_000, 10.0) if old else (1_500, 0.5)
    saved_at, credit, counted = sum(engine.position), 0.0, time.monotonic()
    last_end, took = time.monotonic(), 0.0
    running: tuple[int, Any, Any, float] | None = None
    tails: list[int] = []
    walls: list[float] = []
    kinds = {"delta": 0, "full": 0}
    child_cpu = 0.0
    began = time.monotonic()
    for start in range(0, len(entries), 100):
        part = entries[start : start + 100]
        engine.apply(part, top if start + 100 >= len(entries) else (part[-1].seq,))
        now = time.monotonic()
        credit, counted = min(SAVE_CREDIT_S, credit + (now - counted) / 3), now
        if running is not None:
            pid, position, saving, started = running
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                ok = os.waitstatus_to_exitcode(status) == 0
                checkpoint.saved_by_child(engine, path, position, saving, ok=ok)
                if not ok:
                    raise RuntimeError("a save failed")
                saved_at, running = sum(position), None
                last_end, took = now, now - started
                cpu_s = usage.ru_utime + usage.ru_stime
                credit -= cpu_s  # the region charges the child's CPU, not the clock
                child_cpu += cpu_s
                walls.append(took)
                kinds["delta" if saving.delta else "full"] += 1
        behind = sum(engine.position) - saved_at
        tails.append(behind)
        since = now - last_end
        due = since >= max(gap, 2 * took) if old else since >= gap and credit >= 0
        if running is None and behind >= many and due:
            pid, position, saving = checkpoint.save_in_child(engine, path, full=old)
            running = (pid, position, saving, now)
    if running is not None:
        os.waitpid(running[0], 0)
    tails.sort()
    return {
        "rule": "old: whole saves" if old else "new: deltas",
        "entries": len(entries),
        "seconds": round(time.monotonic() - began, 2),
        "saves": kinds,
        "saves_child_cpu_s": round(child_cpu, 2),
        "save_wall_s_mean": round(sum(walls) / max(1, len(walls)), 2),
        "save_wall_s_max": round(max(walls, default=0.0), 2),
        "tail_median": tails[len(tails) // 2],
        "tail_p90": tails[len(tails) * 9 // 10],
        "tail_max": tails[-1],
    }


def policies(folder: Path, count: int) -> list[dict[str, Any]]:
    """Both rules over the last ``count`` entries, from one base loaded twice."""
    store = ViewStore(folder / "views.sqlite", all_views())
    top = store.position()
    work = Path(tempfile.mkdtemp(prefix="checkpoint-policy-"))
    try:
        found = []
        base = work / "base.checkpoint"
        engine = asyncio.run(_engine_until(folder / "log.sqlite", top[0] - count))
        checkpoint.save(engine, base, full=True)
        del engine
        for old in (False, True):
            path = work / ("old" if old else "new") / "foryou.checkpoint"
            path.parent.mkdir()
            shutil.copyfile(base, path)
            engine, _ = _load(path, top)
            entries = applied_after(store.reader(), engine.position, top)
            found.append(_policy_run(engine, path, entries, top, old=old))
            del engine
        return found
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a region folder (log.sqlite, views.sqlite)")
    parser.add_argument("--tail", type=int, default=20_000, help="entries replayed after the load")
    parser.add_argument("--then", type=int, default=12_000, help="entries saved as deltas")
    parser.add_argument("--every", type=int, default=1_500, help="entries between two deltas")
    parser.add_argument("--verify", action="store_true", help="digest base + deltas, loaded")
    parser.add_argument(
        "--compact-at", type=float, help="deltas' share of the base that makes a new base"
    )
    parser.add_argument(
        "--policy", type=int, metavar="N", help="instead: both save rules over the last N entries"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.compact_at is not None:
        checkpoint.COMPACT_AT = args.compact_at
    if args.policy:
        figures: dict[str, Any] = {"policies": policies(args.folder, args.policy)}
    else:
        figures = run(args.folder, args.tail, args.then, args.every, args.verify)
    print(json.dumps({**figures, "machine": machine()}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
