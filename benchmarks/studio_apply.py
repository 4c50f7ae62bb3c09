"""The studio's share of applying the views: a views-alone rebuild, timed view by view.

What ``stormproof rebuild`` does (every view from sequence 0 of a log, in
batches of 2,000 entries, the writer tuned for catching up), in this
process, on a copy of ``--log`` (never the file itself), with each view's
handlers and flush timed: seconds per view, wall clock and CPU of the
applying thread (on a shared machine the CPU figures move less); the rest
(reading and decoding the log, the store's positions and keys, commits) is
``store``. Then the bytes the process wrote (``wchar``: the WAL, the
checkpoints), the file's size, each studio table's and index's size
(SQLite's ``dbstat``), and with ``--digests`` every view's digest and its
CPU seconds, to check that a change to the apply path rebuilds the same
views.

It imports ``stormproof`` from ``PYTHONPATH``, so an older commit can be
measured from a throwaway worktree of it (``git worktree add /tmp/x COMMIT``,
``PYTHONPATH=/tmp/x/src``); a commit with no studio has no studio rows.
``--skip VIEW`` leaves a view out and ``--only VIEW`` applies one alone
(with the keys view, which the store needs), the same code otherwise. The
timing costs two clock reads per handler call.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/studio_apply.py
       --log /tmp/rw/log-250000.sqlite [--work DIR] [--digests]
       [--skip VIEW] [--only VIEW] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stormproof
from stormproof.log.sqlite import SqliteLog
from stormproof.views import all_views
from stormproof.views.projector import Projector
from stormproof.views.store import ViewStore

Figures = dict[str, Any]


def _timed(
    name: str, fn: Callable[..., None], spent: dict[str, float], also: str = ""
) -> Callable[..., None]:
    def timed(*args: Any) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            fn(*args)
        finally:
            took, took_cpu = time.perf_counter() - started, time.thread_time() - cpu
            spent[name] += took
            spent[f"{name}:cpu"] += took_cpu
            if also:
                spent[also] += took
                spent[f"{also}:cpu"] += took_cpu

    return timed


def _time_views(views: list[Any], spent: dict[str, float]) -> None:
    """Wrap each view's handlers and flush so their time adds up in ``spent``
    (its flush's alone also under ``"<view>:flush"``)."""
    for view in views:
        handler, flush = view.handler, view.flush

        def timed_handler(event_type: str, _h: Any = handler, _n: str = view.name) -> Any:
            found = _h(event_type)
            return None if found is None else _timed(_n, found, spent)

        view.handler = timed_handler
        view.flush = _timed(view.name, flush, spent, also=f"{view.name}:flush")


def _sizes(path: Path) -> dict[str, int]:
    """Bytes of each studio table and index (``dbstat``)."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'studio%' GROUP BY name"
        ).fetchall()
        counts = {
            name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'studio%'"
            )
        }
    finally:
        db.close()
    return {
        **{f"{n}_bytes": b for n, b in sorted(rows)},
        **{f"{n}_rows": c for n, c in counts.items()},
    }


def _written() -> int:
    """Bytes this process has written through system calls (``wchar``), or -1."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return -1
    return next((int(line.split()[1]) for line in lines if line.startswith("wchar:")), -1)


def rebuild(
    log_path: Path, work: Path, *, digests: bool, skip: list[str], only: list[str]
) -> Figures:
    data = work / "studio-apply"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copyfile(log_path, data / "log.sqlite")
    # the keys view is the store's own (which entries were applied): always kept
    wanted = {*only, "keys"} if only else None
    views = [v for v in all_views() if v.name not in skip and (not wanted or v.name in wanted)]
    spent: dict[str, float] = defaultdict(float)
    _time_views(views, spent)

    cpu_s: list[float] = []
    wrote: list[int] = []
    digest_s: dict[str, float] = {}

    async def run() -> tuple[list[int], float, dict[str, str]]:
        log = SqliteLog(data / "log.sqlite")
        store = ViewStore(data / "views.sqlite", views, partitions=log.partitions)
        try:
            started, cpu, written = time.perf_counter(), time.process_time(), _written()
            position = await Projector(log, store, batch=2000).catch_up()
            seconds = time.perf_counter() - started
            cpu_s.append(time.process_time() - cpu)
            wrote.append(_written() - written)
            found: dict[str, str] = {}
            if digests:  # each view's alone, timed, through a read connection
                reader = sqlite3.connect(data / "views.sqlite", isolation_level=None)
                try:
                    for view in views:
                        took = time.process_time()
                        reader.execute("BEGIN")
                        found[view.name] = view.digest(reader)
                        reader.execute("COMMIT")
                        digest_s[view.name] = time.process_time() - took
                finally:
                    reader.close()  # so that the writer's close folds the WAL in
            return list(position), seconds, found
        finally:
            store.close()
            await log.close()

    load = os.getloadavg()
    position, seconds, found = asyncio.run(run())
    size = sum(p.stat().st_size for p in data.glob("views.sqlite*"))
    views_s = {n: s for n, s in spent.items() if ":" not in n}
    views_cpu = {
        n[: -len(":cpu")]: s for n, s in spent.items() if n.count(":") == 1 and n.endswith(":cpu")
    }
    figures: Figures = {
        "stormproof": str(Path(stormproof.__file__).parent),
        "commit": _commit(Path(stormproof.__file__).parent),
        "entries": sum(position),
        "skipped": skip,
        "only": only,
        "rebuild_s": round(seconds, 1),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "views_bytes": size,
        "per_view_s": {n: round(s, 1) for n, s in sorted(views_s.items(), key=lambda kv: -kv[1])},
        "flush_s": {n: round(s, 1) for n, s in spent.items() if n.endswith(":flush") and s >= 0.05},
        "store_s": round(seconds - sum(views_s.values()), 1),
        "studio_share": round(spent.get("studio", 0.0) / seconds, 3),
        # CPU seconds: what a busy machine's other work does not inflate as much
        "rebuild_cpu_s": round(cpu_s[0], 1),
        "per_view_cpu_s": {
            n: round(s, 1) for n, s in sorted(views_cpu.items(), key=lambda kv: -kv[1]) if s >= 0.05
        },
        "flush_cpu_s": {
            n: round(s, 1) for n, s in spent.items() if n.endswith(":flush:cpu") and s >= 0.05
        },
        "studio_cpu_share": round(spent.get("studio:cpu", 0.0) / cpu_s[0], 3),
        "written_bytes": wrote[0],
        **_sizes(data / "views.sqlite"),
    }
    if digests:
        figures["digests"] = found
        figures["digest_cpu_s"] = {n: round(s, 2) for n, s in digest_s.items() if s >= 0.01}
    shutil.rmtree(data)
    return figures


def _commit(src: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True
    )
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True, help="an embedded log (copied)")
    parser.add_argument("--work", type=Path, help="where the copy goes (default: a temp dir)")
    parser.add_argument("--digests", action="store_true", help="also print every view's digest")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--skip", action="append", default=[], help="leave this view out")
    parser.add_argument("--only", action="append", default=[], help="apply only this view")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        figures = rebuild(
            args.log, args.work or Path(temp), digests=args.digests, skip=args.skip, only=args.only
        )
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
