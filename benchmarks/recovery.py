"""Recovery: how long a region takes to serve again, after a power cut and after losing its disks.

For each log size (``--entries``, default 250,000 and 1,000,000), a
KuaiRand-shaped history (``benchmarks/foryou_catalog.py``, users and videos
scaled together: scale 1 is 250,382 entries) is written in bulk to an
embedded log file and cached in ``--work`` (a rerun with the same folder
skips building; delete the folder to draw anew). Then, with real
``stormproof serve`` processes on loopback (their health polled every
``--poll`` s with the operator token, see ``recovery_watch.py``):

1. **disks lost, log kept**: a data folder holding only ``log.sqlite`` and
   the secret; time from starting the process to ``/v1/health`` ready
   (views and For You engine rebuilt), entries/s, and the catch-up phases
   the health answer reports (``catch_up.phase``), when it reports them;
2. **restart after SIGKILL, disks intact**, ``--restarts`` times: once ready
   and ``foryou.checkpoint`` on disk, SIGKILL the server's process group and
   start it again; median and max time to ready;
3. each part alone, for the split: the For You engine applying the same
   entries in a process of its own (read and decode, apply, checkpoint save
   and load), and the views alone (``stormproof rebuild``, whose process
   start and imports are counted in);
4. **reference floor**: every row of every table the views hold after the
   rebuild, inserted into a fresh SQLite file of the same schema (tables and
   indexes) and PRAGMAs (WAL, synchronous=NORMAL) by plain ``executemany``,
   ``--batch`` rows a transaction. ``reference_s / rebuild_s`` is the
   rebuild's throughput against it.

Targets (issue 12, set at 1M entries): restart ready < 5 s; disks lost
ready < 60 s; rebuild throughput >= 0.5 of the reference. With ``--cluster``,
the same questions for one region of a 3-region JetStream cluster at
``--cluster-entries`` (``benchmarks/recovery_cluster.py`` says how).

How long it takes, here (2 shared cores, load average ~3 from other work):
the history is drawn in a process of its own and written 50,000 rows a
transaction, 76 s at 250k entries and ~5 min at 1M; the embedded part then
took 13 min at 250k and about an hour at 1M, most of it the rebuild, the
views alone and the engine's checkpoint saved and loaded at every start.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/recovery.py [--entries 250000,1000000]
       [--restarts 3] [--work DIR] [--keep] [--cluster] [--cluster-entries 250000]
       [--json OUT] [--no-transcode]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import foryou_catalog
import httpx
from foryou import code, machine
from recovery_watch import appeared, watch
from rich.console import Console
from rich.table import Table

import stormproof
from stormproof.log.sqlite import SqliteLog
from stormproof.operators import load_secret, operator_headers
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.testing import free_port

KUAIRAND = (
    Path(__file__).resolve().parents[2]
    / "shared/data/kuairand-pure-sideinfo/video_features_basic_pure.csv"
)
#: log entries of the catalog at scale 1 (10,000 users, 100,000 videos)
ENTRIES_AT_SCALE_1 = 250_382
#: issue 12's targets, at 1M entries
TARGET_RESTART_S, TARGET_REBUILD_S, TARGET_RATIO = 5.0, 60.0, 0.5
console = Console(width=140)
Figures = dict[str, Any]
T = TypeVar("T")


def isolated(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a fresh process: its heap (a catalog, an engine) goes
    with it, and the benchmark stays small beside the servers it measures."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def subprocess_env() -> dict[str, str]:
    """The environment of the servers: they run the stormproof this script
    imported. No prober: these regions are copies of one log, not a cluster,
    and a prober's writes would go to one copy only — a peer's snapshot would
    then stand past the restoring region's log, and rightly be refused."""
    src = str(Path(stormproof.__file__).resolve().parents[1])
    paths = [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        "STORMPROOF_PROBE_EVERY_S": "0",
    }


def stormproof_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "stormproof.cli", *args]


# -- the history ---------------------------------------------------------------


def build_history(kuairand: Path, target: int, path: Path) -> Figures:
    """Draw a catalog of about ``target`` entries and write it to ``path``."""
    started = time.perf_counter()
    scale = target / ENTRIES_AT_SCALE_1
    catalog = foryou_catalog.build(
        foryou_catalog.KuaiRand.read(kuairand),
        users=max(1, round(10_000 * scale)),
        videos=max(1, round(100_000 * scale)),
    )
    drawn = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    foryou_catalog.write_bulk(catalog, partial)
    partial.rename(path)
    return {
        **catalog.counts(),
        "scale": round(scale, 4),
        "draw_s": round(drawn - started, 1),
        "write_s": round(time.perf_counter() - drawn, 1),
        "log_bytes": path.stat().st_size,
    }


def history(work: Path, target: int, kuairand: Path) -> tuple[Path, Figures]:
    """The log of about ``target`` entries, built once per ``work`` folder."""
    path, meta = work / f"log-{target}.sqlite", work / f"log-{target}.json"
    if path.exists() and meta.exists():
        return path, {**json.loads(meta.read_text()), "cached": True}
    console.print(f"building a history of ~{target:,} entries…")
    figures = isolated(build_history, kuairand, target, path)
    meta.write_text(json.dumps(figures, indent=2) + "\n")
    return path, {**figures, "cached": False}


# -- each part alone -----------------------------------------------------------


def engine_alone(log_path: Path, folder: Path, batch: int = 5000) -> Figures:
    """The For You engine alone, from sequence 0, as foryou.py measures it
    (read in batches, so the heap holds the engine and one batch)."""

    async def replay() -> tuple[Engine, float, float]:
        log, engine = SqliteLog(log_path), Engine()
        read_s = apply_s = 0.0
        try:
            after = 0
            while True:
                started = time.perf_counter()
                entries = await log.read(0, after, batch)
                read_s += time.perf_counter() - started
                if not entries:
                    return engine, read_s, apply_s
                started = time.perf_counter()
                engine.apply(entries, (entries[-1].seq,))
                apply_s += time.perf_counter() - started
                after = entries[-1].seq
        finally:
            await log.close()

    engine, read_s, apply_s = asyncio.run(replay())
    position, path = engine.position, folder / "foryou.checkpoint"
    started = time.perf_counter()
    checkpoint.save(engine, path)
    save_s = time.perf_counter() - started
    del engine
    gc.collect()
    started = time.perf_counter()
    loaded = checkpoint.load(path, EngineConfig(), position)
    load_s = time.perf_counter() - started
    if loaded is None:
        raise RuntimeError("the checkpoint just saved did not load")
    entries = position[0]
    return {
        "entries": entries,
        "read_decode_s": round(read_s, 2),
        "apply_s": round(apply_s, 2),
        "entries_per_s": round(entries / (read_s + apply_s)),
        "checkpoint_save_s": round(save_s, 2),
        "checkpoint_load_s": round(load_s, 2),
        "checkpoint_bytes": path.stat().st_size,
    }


def views_alone(log_path: Path, folder: Path, env: dict[str, str]) -> Figures:
    """``stormproof rebuild`` (the views from sequence 0, no engine) on a copy of the log."""
    data = folder / "views-alone"
    data.mkdir()
    shutil.copyfile(log_path, data / "log.sqlite")
    started = time.perf_counter()
    done = subprocess.run(
        stormproof_command("rebuild", "--data", str(data)), env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": (done.stdout + done.stderr)[-2000:]}
    return {"seconds": round(seconds, 2), "said": " ".join(done.stdout.split())}


# -- the server ----------------------------------------------------------------


class Server:
    """``stormproof serve`` on ``data``, in a process group of its own (so a
    power cut takes whatever it forked too)."""

    def __init__(self, data: Path, env: dict[str, str], output: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = stormproof_command("serve", "--no-demo", "--host", "127.0.0.1",
                                     "--port", str(self.port), "--data", str(data))  # fmt: skip
        self.started = time.monotonic()
        with output.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()


def empty_region(folder: Path, env: dict[str, str], args: argparse.Namespace) -> Figures:
    """A region with an empty log: what starting the process costs by itself."""
    data = folder / "empty-region"
    data.mkdir()
    headers = operator_headers(load_secret(data / "secret"))
    server = Server(data, env, folder / "empty-region.log")
    try:
        seen = watch(server.url, headers, server.started, server.process, poll=args.poll,
                     timeout=args.timeout)  # fmt: skip
    finally:
        server.stop()
    shutil.rmtree(data, ignore_errors=True)
    return {"ready_s": seen.ready, "first_answer_s": seen.answered}


def served(log_path: Path, folder: Path, env: dict[str, str], args: argparse.Namespace) -> Figures:
    """Disks lost (only the log and the secret), then ``--restarts`` power cuts."""
    data = folder / "region"
    data.mkdir()
    shutil.copyfile(log_path, data / "log.sqlite")
    headers = operator_headers(load_secret(data / "secret"))
    output = folder / "server.log"

    def until_ready(server: Server) -> Figures:
        seen = watch(server.url, headers, server.started, server.process, poll=args.poll,
                     timeout=args.timeout)  # fmt: skip
        stored = appeared(data / "foryou.checkpoint", server.started, args.timeout)
        return {**seen.figures(), "checkpoint_on_disk_s": stored}

    server = Server(data, env, output)
    try:
        rebuild = until_ready(server)
        console.print(f"  rebuilt from the log: ready after {rebuild['ready_s']} s")
        restarts = []
        for _ in range(args.restarts):
            server.kill()
            server = Server(data, env, output)
            restarts.append(until_ready(server))
            console.print(f"  restart after SIGKILL: ready after {restarts[-1]['ready_s']} s")
        snapshot = from_a_peer(server, data, folder, env, args)
        console.print(f"  disks lost, from a peer's snapshot: {_from_a_peer(snapshot)}")
    finally:
        server.stop()
    return {"rebuild": rebuild, "restarts": restarts, "from_a_peer": snapshot}


def from_a_peer(
    peer: Server, peer_data: Path, folder: Path, env: dict[str, str], args: argparse.Namespace
) -> Figures:
    """Disks lost, with a peer: a second region with only the log (a copy of
    the same one) and the secret, told of ``peer``, restores the views and
    the engine's checkpoint from the peer's snapshot (ADR 017) and replays
    the tail. Timed from its start to ready. The peer makes the snapshot
    when asked, so its making is in the time — unless ``--snapshot-every``
    made one ahead: then the restoring region starts once the peer has one."""
    waited = 0.0
    if args.snapshot_every:
        began = time.monotonic()
        while not list((peer_data / "snapshots").glob("*/manifest.json")):
            if time.monotonic() - began > args.timeout:
                raise TimeoutError("the peer made no snapshot ahead")
            time.sleep(0.5)
        waited = round(time.monotonic() - began, 1)
    data = folder / "restored"
    data.mkdir()
    shutil.copyfile(peer_data / "log.sqlite", data / "log.sqlite")
    shutil.copyfile(folder / "region" / "secret", data / "secret")
    headers = operator_headers(load_secret(data / "secret"))
    # Whatever the size: a log under restore_min_entries would rebuild instead.
    told = {**env, "STORMPROOF_PEERS": peer.url, "STORMPROOF_RESTORE_MIN_ENTRIES": "0"}
    server = Server(data, told, folder / "restored.log")
    try:
        seen = watch(server.url, headers, server.started, server.process, poll=args.poll,
                     timeout=args.timeout)  # fmt: skip
        with httpx.Client(base_url=server.url, timeout=30) as client:
            restored = client.get("/v1/health", headers=headers).json().get("restored")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    return {**seen.figures(), "restored": restored, "made_ahead": bool(args.snapshot_every),
            "waited_for_one_s": waited}  # fmt: skip


def restarts_of(
    region: Path, folder: Path, env: dict[str, str], args: argparse.Namespace
) -> Figures:
    """``--restarts`` power cuts of a copy of an existing region's folder
    (``--restarts-of``, e.g. one ``--keep`` left), then disks lost with it
    as the peer: with today's code, without rebuilding the views first. The
    first start waits for a checkpoint of today's layout on disk (one of an
    older layout is ignored: the engine is rebuilt and saved once)."""
    data = folder / "region"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(region, data)
    headers = operator_headers(load_secret(data / "secret"))
    times = []
    server = Server(data, env, folder / "server.log")
    try:
        # The first start follows a clean stop; the power cuts come after it.
        watch(server.url, headers, server.started, server.process, poll=args.poll,
              timeout=args.timeout)  # fmt: skip
        while (checkpoint.read_header(data / "foryou.checkpoint") or {}).get(
            "layout"
        ) != checkpoint.LAYOUT:
            time.sleep(1)
        for _ in range(args.restarts):
            server.kill()
            server = Server(data, env, folder / "server.log")
            seen = watch(server.url, headers, server.started, server.process, poll=args.poll,
                         timeout=args.timeout)  # fmt: skip
            times.append(seen.figures())
            console.print(f"  restart after SIGKILL: ready after {times[-1]['ready_s']} s")
        peer = None
        if not args.skip_peer:
            peer = from_a_peer(server, data, folder, env, args)
            console.print(f"  disks lost, from a peer's snapshot: {_from_a_peer(peer)}")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    ready = [t["ready_s"] for t in times]
    return {"region": str(region), "restarts": times, "median_s": statistics.median(ready),
            "max_s": max(ready), "from_a_peer": peer}  # fmt: skip


# -- the reference floor -------------------------------------------------------


def reference(views: Path, out: Path, batch: int) -> Figures:
    """Every row of ``views`` inserted into a fresh file of the same schema and
    PRAGMAs, ``batch`` rows a transaction; only the inserts are timed."""
    source = sqlite3.connect(f"file:{views}?mode=ro", uri=True)
    target = sqlite3.connect(out, isolation_level=None)
    try:
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA synchronous=NORMAL")
        schema = source.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid"
        ).fetchall()
        for _, _, sql in schema:
            target.execute(sql)
        tables = [name for kind, name, _ in schema if kind == "table"]
        counts, seconds = {}, 0.0
        for table in tables:
            rows = source.execute(f'SELECT * FROM "{table}"')
            marks = ", ".join("?" * len(rows.description))
            insert = f'INSERT INTO "{table}" VALUES ({marks})'
            while chunk := rows.fetchmany(batch):
                started = time.perf_counter()
                target.execute("BEGIN")
                target.executemany(insert, chunk)
                target.execute("COMMIT")
                seconds += time.perf_counter() - started
            (counts[table],) = target.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        copied = sum(source.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)
    finally:
        source.close()
        target.close()
    rows_ = sum(counts.values())
    return {
        "tables": len(tables),
        "indexes": sum(kind == "index" for kind, _, _ in schema),
        "rows": rows_,
        "views_rows": copied,
        "rows_by_table": counts,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows_ / seconds) if seconds else None,
        "batch": batch,
        "views_bytes": views.stat().st_size,
    }


# -- one size, embedded --------------------------------------------------------


def embedded(target: int, work: Path, args: argparse.Namespace, env: dict[str, str]) -> Figures:
    log_path, built = history(work, target, args.kuairand)
    entries = built["log_entries"]
    console.print(f"[bold]{entries:,} entries[/] ({'cached' if built['cached'] else 'built'})")
    folder = work / f"run-{target}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        try:
            alone = isolated(engine_alone, log_path, folder)
        except Exception as exc:  # internals may change under the benchmark
            alone = {"error": repr(exc)}
        console.print(f"  engine alone: {alone}")
        views = views_alone(log_path, folder, env)
        console.print(f"  views alone: {views}")
        run = served(log_path, folder, env, args)
        ref = reference(folder / "region" / "views.sqlite", folder / "reference.sqlite", args.batch)
        console.print(f"  reference: {ref['rows']:,} rows in {ref['seconds']} s")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rebuild_s = run["rebuild"]["ready_s"]
    restarts = [r["ready_s"] for r in run["restarts"]]
    figures: Figures = {
        "target_entries": target,
        "entries": entries,
        "history": built,
        "engine_alone": alone,
        "views_alone": views,
        **run,
        "restart_median_s": statistics.median(restarts) if restarts else None,
        "restart_max_s": max(restarts, default=None),
        "reference": ref,
    }
    figures["rebuild"]["entries_per_s"] = round(entries / rebuild_s)
    if "seconds" in views:
        views["entries_per_s"] = round(entries / views["seconds"])
    ref["entries_per_s"] = round(entries / ref["seconds"]) if ref["seconds"] else None
    figures["throughput_vs_reference"] = round(ref["seconds"] / rebuild_s, 3)
    figures["targets"] = {
        f"restart_max_below_{TARGET_RESTART_S:g}_s": bool(restarts)
        and max(restarts) < TARGET_RESTART_S,
        f"disks_lost_from_a_peer_below_{TARGET_REBUILD_S:g}_s": run["from_a_peer"]["ready_s"]
        < TARGET_REBUILD_S,
        f"throughput_at_least_{TARGET_RATIO:g}": figures["throughput_vs_reference"] >= TARGET_RATIO,
    }
    return figures


# -- the report ----------------------------------------------------------------


def phases(run: Figures) -> str:
    split = run.get("phase_split") or []
    return ", ".join(f"{p['phase']} {p['from_s']}-{p['to_s']} s" for p in split) or "not reported"


def _from_a_peer(run: Figures | None) -> str:
    if not run:
        return ""
    restored = run.get("restored") or {}
    if not restored.get("peer"):
        return f"{run['ready_s']} s, NOT from a snapshot: {restored.get('rejected')}"
    ahead = "made ahead" if run.get("made_ahead") else "made when asked"
    return (f"{run['ready_s']} s ({ahead}; download {restored.get('download_s')} s, verify "
            f"{restored.get('verify_s')} s; {phases(run)})")  # fmt: skip


def rows_of(e: Figures) -> list[tuple[str, str]]:
    h, alone, views, ref, rebuild = (
        e["history"], e["engine_alone"], e["views_alone"], e["reference"], e["rebuild"]
    )  # fmt: skip
    made = "cached" if h["cached"] else f"drawn {h['draw_s']} s, written {h['write_s']} s"
    restarts = e["restarts"]
    return [
        ("history", f"{h['log_bytes'] / 1e6:,.0f} MB log; {made}"),
        ("disks lost: ready after",
         f"{rebuild['ready_s']} s (first answer {rebuild['first_answer_s']} s)"),
        ("  entries/s", f"{rebuild['entries_per_s']:,}"),
        ("  phases (health catch_up)", phases(rebuild)),
        ("  checkpoint on disk after", f"{rebuild['checkpoint_on_disk_s']} s"),
        (f"restart after SIGKILL x{len(restarts)}: median / max",
         f"{e['restart_median_s']} / {e['restart_max_s']} s"),
        ("  each (first answer)",
         ", ".join(f"{r['ready_s']} ({r['first_answer_s']})" for r in restarts)),
        ("  phases, last restart", phases(restarts[-1]) if restarts else ""),
        ("disks lost, from a peer: ready after", _from_a_peer(e.get("from_a_peer"))),
        ("engine alone: read+decode / apply",
         f"{alone['read_decode_s']} + {alone['apply_s']} s = {alone['entries_per_s']:,}/s"
         if "apply_s" in alone else alone.get("error", "")),
        ("  checkpoint save / load",
         f"{alone['checkpoint_save_s']} / {alone['checkpoint_load_s']} s, "
         f"{alone['checkpoint_bytes'] / 1e6:,.0f} MB" if "apply_s" in alone else ""),
        ("views alone (stormproof rebuild)",
         f"{views['seconds']} s = {views['entries_per_s']:,} entries/s"
         if "seconds" in views else views.get("error", "")[-200:]),
        ("reference: plain inserts",
         f"{ref['rows']:,} rows, {ref['tables']} tables, {ref['indexes']} indexes: "
         f"{ref['seconds']} s"),
        ("  rows/s, entries/s", f"{ref['rows_per_s']:,}, {ref['entries_per_s']:,}"),
        ("  views file", f"{ref['views_bytes'] / 1e6:,.0f} MB"),
        ("reference_s / rebuild_s", f"{e['throughput_vs_reference']}"),
        *((name.replace("_", " "), "met" if met else "NOT met")
          for name, met in e["targets"].items()),
    ]  # fmt: skip


def report(r: Figures) -> None:
    m, out = r["machine"], console.print
    out(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, {m['platform']}")
    out(f"code: {r['code']['commit']}, {len(r['code']['src_changed'])} files changed in src/")
    out(f"command: {r['command']}")
    out(
        f"load average (1, 5, 15 min) at the start {r['load_average_start']}, "
        f"at the end {r['load_average_end']}: others share these {m['nproc']} CPUs"
    )
    empty = r["empty_region"]
    out(
        f"an empty region (no log entries) is ready {empty['ready_s']} s after its process "
        f"starts (first answer {empty['first_answer_s']} s): the floor of every start below"
    )
    if r["embedded"]:
        table = Table("embedded (targets set at 1M entries)",
                      *(f"{e['entries']:,} entries" for e in r["embedded"]))  # fmt: skip
        columns = [rows_of(e) for e in r["embedded"]]
        for i, (name, _) in enumerate(columns[0]):
            table.add_row(name, *(column[i][1] for column in columns))
        out(table)
    if "cluster" in r:
        from recovery_cluster import report as cluster_report

        cluster_report(r["cluster"], console)
    out(f"wall time {r['wall_s']} s")


# -- the run -------------------------------------------------------------------


def sizes(text: str) -> list[int]:
    """``250000,1000000`` (or ``250k,1M``)."""
    units = {"k": 1_000, "m": 1_000_000}
    out = []
    for part in text.lower().replace("_", "").split(","):
        part = part.strip()
        unit = units.get(part[-1:], 1)
        out.append(round(float(part.rstrip("km")) * unit))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=sizes, default=sizes("250000,1000000"),
                        help="log sizes, comma-separated (250k,1M)")  # fmt: skip
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--work", type=Path, help="keeps the built logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data folders of each run")
    parser.add_argument("--poll", type=float, default=0.1, help="health poll interval, s")
    parser.add_argument("--batch", type=int, default=10_000, help="reference rows per commit")
    parser.add_argument("--timeout", type=float, default=3600.0, help="longest wait, s")
    parser.add_argument("--cluster", action="store_true", help="also a 3-region cluster")
    parser.add_argument("--cluster-entries", type=sizes, default=[250_000])
    parser.add_argument("--in-flight", type=int, default=256, help="cluster fill: appends at once")
    parser.add_argument("--region", help="the cluster region to fail (default: the last)")
    parser.add_argument("--kuairand", type=Path, default=KUAIRAND,
                        help="video_features_basic_pure.csv")  # fmt: skip
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--snapshot-every", type=float, default=0.0,
                        help="servers make a snapshot every S seconds ahead of need")  # fmt: skip
    parser.add_argument("--skip-peer", action="store_true",
                        help="--restarts-of: no restore from it as a peer")  # fmt: skip
    parser.add_argument("--restarts-of", type=Path,
                        help="only restart a copy of this region folder, n times")  # fmt: skip
    parser.add_argument("--no-transcode", action="store_true",
                        help="regions without transcoders (see cluster_restarts.py)")  # fmt: skip
    args = parser.parse_args()
    if args.no_transcode:  # every server inherits it (Settings.from_env)
        os.environ["STORMPROOF_TRANSCODE"] = "false"
    # A SIGTERM unwinds like Ctrl-C: servers and clusters are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if not args.kuairand.is_file():
        parser.error(f"KuaiRand side information not found at {args.kuairand} (--kuairand PATH)")
    began = time.perf_counter()
    results: Figures = {
        "machine": machine(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "code": code(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": {k: str(v) for k, v in vars(args).items()},
        "embedded": [],
    }

    def save() -> None:
        results["wall_s"] = round(time.perf_counter() - began, 1)
        results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")

    work = args.work or Path(tempfile.mkdtemp(prefix="recovery-"))
    work.mkdir(parents=True, exist_ok=True)
    env = subprocess_env()
    if args.snapshot_every:
        env["STORMPROOF_SNAPSHOT_EVERY_S"] = str(args.snapshot_every)
    try:
        results["empty_region"] = empty_region(work, env, args)
        console.print(f"an empty region: {results['empty_region']}")
        if args.restarts_of:
            results["restarts_of"] = restarts_of(args.restarts_of, work, env, args)
            save()
            summary = results["restarts_of"]
            console.print({k: summary[k] for k in ("region", "median_s", "max_s")})
            return
        for target in [] if args.skip_embedded else args.entries:
            results["embedded"].append(embedded(target, work, args, env))
            save()
        if args.cluster:
            from recovery_cluster import cluster

            results["cluster"] = []
            for target in args.cluster_entries:
                log_path, built = history(work, target, args.kuairand)
                folder = work / f"cluster-{target}"
                results["cluster"].append(cluster(log_path, built, folder, args, env))
                save()
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    save()
    report(results)


if __name__ == "__main__":
    main()
