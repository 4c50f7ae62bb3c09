"""Recovery of one region of a 3-region JetStream cluster (``recovery.py --cluster``).

A local cluster (``stormproof.cluster.LocalCluster``: per region a
nats-server and an API process on loopback) is filled with the history of
the embedded runs — the cached log of ``--cluster-entries`` entries, read
back and appended through ``JetStreamLog``, ``--in-flight`` appends at a
time spread over the three partitions — while every region follows it.
Once all three have applied everything, one region (``--region``, default
the last) is:

1. killed (SIGKILL of its nats-server and API) and restored with its disks
   intact, ``--restarts`` times;
2. killed and restored with ``--wipe``: its folder is gone, so its
   nats-server copies every stream back from its peers and its API rebuilds
   views and engine.

Each is timed from the restore to ``/v1/health`` ready, and split into: the
region's nats-server holding a current replica of every log stream (lag 0 in
JetStream's stream info, asked of the stream's leader), the catch-up phases
the health answer reports (views, engine), if it does, and the blob buckets'
streams (empty here: the seeded videos name a placeholder blob, so the blob
part of a rebuild is not exercised).

Filling is slow — every publish is fsynced by three servers, and the three
regions apply each entry as it arrives, on the same two cores: 580-1,060
entries/s here (256 in flight, as loaded as the machine was), so 250,000
entries take 4-7 min to append and the regions finish applying them minutes
later; 1M would take 15-30 min to append alone. The default size is
therefore 250,000 (``--cluster-entries``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from recovery_watch import CatchUp, appeared
from rich.console import Console
from rich.table import Table

from stormproof.cluster import LocalCluster, free_base_port
from stormproof.events import decode
from stormproof.jetstream.links import ApiError, Links, Unreachable
from stormproof.log.jetstream import JetStreamLog

__all__ = ["cluster", "report"]

Figures = dict[str, Any]
console = Console(width=140)


async def fill(urls: list[str], log_path: Path, in_flight: int) -> Figures:
    """Append every entry of the embedded log at ``log_path``, in its order,
    ``in_flight`` at a time, entry n to partition n mod 3."""
    log = JetStreamLog(urls, 0, ack_timeout=10.0, deadline=120.0)
    source = sqlite3.connect(f"file:{log_path}?mode=ro", uri=True)
    try:
        await log.start()
        rows = enumerate(source.execute("SELECT key, body FROM log ORDER BY seq"))
        done, started = 0, time.monotonic()

        async def writer() -> None:
            nonlocal done
            for n, (key, body) in rows:
                await log.append(key, decode(body), partition=n % len(urls))
                done += 1
                if done % 25_000 == 0:
                    rate = done / (time.monotonic() - started)
                    console.print(f"  filled {done:,} entries, {rate:,.0f}/s")

        await asyncio.gather(*(writer() for _ in range(in_flight)))
        seconds = time.monotonic() - started
        last = await log.last_seqs()
    finally:
        source.close()
        await log.close()
    return {
        "entries": done,
        "in_flight": in_flight,
        "seconds": round(seconds, 1),
        "per_s": round(done / seconds),
        "log": last,
    }


async def health(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = (await http.get("/v1/health", headers=headers)).json()
    except (httpx.TransportError, ValueError):
        return None
    return body


async def applied_everywhere(lc: LocalCluster, total: int, timeout: float, poll: float) -> Figures:
    """Wait until every region is ready with views at the log's end (``total``
    entries); how long after the fill each took."""
    zero, took, unanswered = time.monotonic(), {}, 0
    async with httpx.AsyncClient(timeout=5) as http:
        for name in lc.names:
            while True:
                try:
                    answer = await http.get(lc.spec(name).url + "/v1/health", headers=lc.operator)
                except httpx.TransportError:  # three regions applying on two cores: try again
                    unanswered += 1
                    continue
                body = answer.json()
                views = body.get("views") or {}
                lag = max((v["lag"] for v in views.values()), default=None)
                if body.get("ready") and lag == 0 and body.get("log_seq", 0) >= total:
                    took[name] = round(time.monotonic() - zero, 1)
                    break
                if time.monotonic() - zero > timeout:
                    raise TimeoutError(f"{name} did not apply the fill in {timeout} s: {body}")
                await asyncio.sleep(poll * 5)
    return {**took, "health_unanswered_in_5_s": unanswered}


async def replica(links: Links, stream: str, server: str, since: float) -> Figures | None:
    """``server``'s replica of ``stream`` as the stream's leader sees it (None:
    no answer). It counts as current only if the leader heard from it less
    than ``since`` seconds ago: a replica killed a moment ago may still look
    current to a leader that has not yet missed it."""
    try:
        info = await links.any_api(f"$JS.API.STREAM.INFO.{stream}", timeout=1)
    except (Unreachable, ApiError):
        return None
    cluster = info.get("cluster") or {}
    messages = (info.get("state") or {}).get("messages")
    if cluster.get("leader") == server:
        return {"current": True, "lag": 0, "messages": messages}
    for r in cluster.get("replicas") or []:
        if r.get("name") == server:
            heard = r.get("active", 0) / 1e9 < since
            current = bool(r.get("current")) and not r.get("offline") and heard
            return {"current": current, "lag": r.get("lag", 0), "messages": messages}
    return {"current": False, "lag": None, "messages": messages}


class Replicas:
    """When a region's server first held a current replica of each stream."""

    def __init__(self, streams: list[str], server: str, zero: float) -> None:
        self.server, self.zero = server, zero
        self.current: dict[str, float | None] = dict.fromkeys(streams)
        self.max_lag: dict[str, int] = {}
        self.messages: dict[str, int | None] = {}

    async def follow(self, links: Links, poll: float) -> None:
        while pending := [s for s, t in self.current.items() if t is None]:
            for stream in pending:
                since = time.monotonic() - self.zero
                state = await replica(links, stream, self.server, since)
                if state is None:
                    continue
                self.messages[stream] = state["messages"]
                if state["current"] and not state["lag"]:
                    self.current[stream] = round(time.monotonic() - self.zero, 2)
                else:
                    lag = max(self.max_lag.get(stream, 0), state["lag"] or 0)
                    self.max_lag[stream] = lag
            await asyncio.sleep(poll)


async def watch_health(url: str, headers: dict[str, str], seen: CatchUp, poll: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            if seen.saw(await health(http, headers), time.monotonic()):
                return
            await asyncio.sleep(poll)


async def recover(
    lc: LocalCluster, name: str, *, wipe: bool, links: Links, args: argparse.Namespace
) -> Figures:
    """Kill region ``name`` and restore it (its folder wiped with ``wipe``):
    time to ready, and when its server held a current replica of each stream."""
    streams = [f"{kind}_{i}" for kind in ("LOG", "OBJ_BLOBS") for i in range(len(lc.names))]
    await asyncio.to_thread(lc.kill, name)
    zero = time.monotonic()
    seen, replicas = CatchUp(zero), Replicas(streams, name, zero)
    # restore() returns once the region is ready (it polls too); the watches
    # time it more finely, and the streams until every replica is current.
    await asyncio.wait_for(
        asyncio.gather(
            asyncio.to_thread(lc.restore, name, wipe=wipe, timeout=args.timeout),
            watch_health(lc.spec(name).url, lc.operator, seen, args.poll),
            replicas.follow(links, args.poll),
        ),
        args.timeout,
    )
    checkpoint = lc.region_dir(name) / "region" / "foryou.checkpoint"
    stored = await asyncio.to_thread(appeared, checkpoint, zero, args.timeout)
    logs = [t for s, t in replicas.current.items() if s.startswith("LOG_") and t is not None]
    return {
        **seen.figures(),
        "wipe": wipe,
        "log_replicas_current_s": max(logs),
        "replica_current_s": replicas.current,
        "max_lag_seen": replicas.max_lag,
        "stream_messages": replicas.messages,
        "checkpoint_on_disk_s": stored,
    }


async def measure(
    lc: LocalCluster, log_path: Path, entries: int, args: argparse.Namespace
) -> Figures:
    filled = await fill(lc.nats_urls, log_path, args.in_flight)
    console.print(f"  filled: {filled}")
    total = sum(filled["log"])
    applied = await applied_everywhere(lc, total, args.timeout, args.poll)
    console.print(f"  every region applied it: {applied} s after the fill")
    name = args.region or lc.names[-1]
    links = Links(lc.nats_urls)
    links.start()
    try:
        restarts = []
        for _ in range(args.restarts):
            restarts.append(await recover(lc, name, wipe=False, links=links, args=args))
            console.print(f"  {name} restarted: ready after {restarts[-1]['ready_s']} s")
        wiped = await recover(lc, name, wipe=True, links=links, args=args)
        console.print(f"  {name} restored from nothing: ready after {wiped['ready_s']} s")
    finally:
        await links.close()
    ready = [r["ready_s"] for r in restarts]
    blobs = sum(wiped["stream_messages"].get(f"OBJ_BLOBS_{i}") or 0 for i in range(3))
    return {
        "entries": entries,
        "fill": filled,
        "log_entries": total,
        "applied_after_fill_s": applied,
        "region": name,
        "restarts": restarts,
        "restart_median_s": statistics.median(ready) if ready else None,
        "restart_max_s": max(ready, default=None),
        "wipe": wiped,
        "wipe_entries_per_s": round(total / wiped["ready_s"]),
        "blob_messages": blobs,
        "blobs_exercised": blobs > 0,
    }


def cluster(
    log_path: Path, built: Figures, folder: Path, args: argparse.Namespace, env: dict[str, str]
) -> Figures:
    """The cluster part, in ``folder``, with the history at ``log_path``."""
    console.print(f"[bold]cluster, {built['log_entries']:,} entries")
    shutil.rmtree(folder, ignore_errors=True)
    lc = LocalCluster.create(folder, 3, free_base_port(3))
    lc.env = {"PYTHONPATH": env["PYTHONPATH"]}
    try:
        started = time.monotonic()
        lc.up(timeout=120)
        up_s = round(time.monotonic() - started, 1)
        figures = asyncio.run(measure(lc, log_path, built["log_entries"], args))
    finally:
        lc.down()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return {"history": built, "up_s": up_s, **figures}


def report(runs: list[Figures], console: Console) -> None:
    table = Table(f"cluster: one region of 3 ({runs[0]['region']})",
                  *(f"{r['log_entries']:,} entries" for r in runs))  # fmt: skip

    def phases(run: Figures) -> str:
        split = run.get("phase_split") or []
        return ", ".join(f"{p['phase']} {p['from_s']}-{p['to_s']} s" for p in split) or "none"

    rows: list[tuple[str, list[str]]] = [
        ("fill through JetStreamLog",
         [f"{r['fill']['per_s']:,}/s ({r['fill']['in_flight']} in flight, "
          f"{r['fill']['seconds']} s)" for r in runs]),
        ("every region applied it, s after the fill",
         [", ".join(f"{k} {v}" for k, v in r["applied_after_fill_s"].items()) for r in runs]),
        ("restart after SIGKILL: median / max",
         [f"{r['restart_median_s']} / {r['restart_max_s']} s" for r in runs]),
        ("  each: ready (its log replicas current)",
         [", ".join(f"{x['ready_s']} ({x['log_replicas_current_s']})" for x in r["restarts"])
          for r in runs]),
        ("restore --wipe: ready after", [f"{r['wipe']['ready_s']} s" for r in runs]),
        ("  entries/s", [f"{r['wipe_entries_per_s']:,}" for r in runs]),
        ("  log replicas current after",
         [f"{r['wipe']['log_replicas_current_s']} s" for r in runs]),
        ("  first answer", [f"{r['wipe']['first_answer_s']} s" for r in runs]),
        ("  phases (health catch_up)", [phases(r["wipe"]) for r in runs]),
        ("  blobs", ["not exercised (placeholder blobs: buckets empty)"
                     if not r["blobs_exercised"] else f"{r['blob_messages']} messages"
                     for r in runs]),
    ]  # fmt: skip
    for name, cells in rows:
        table.add_row(name, *cells)
    console.print(table)
