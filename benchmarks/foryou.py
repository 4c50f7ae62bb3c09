"""For You: feed latency, events absorbed per second, and freshness, at catalog scale.

Seeds a fresh embedded log with a KuaiRand-shaped catalog (100,000 videos,
10,000 users with ~40 interactions each; the shape is in
``benchmarks/foryou_catalog.py``), then in one run:

1. in process: ``Engine.apply`` over every entry read back from the log
   (events/s, interactions/s), then ``rank()`` alone for signed-in users,
   and how long a checkpoint save holds the engine's lock;
2. starts ``stormproof serve`` on the seeded folder (a real process on
   loopback) and times its catch-up until ``/v1/health`` says ready;
3. ``GET /v1/feed/for-you?limit=10`` from ``--clients`` concurrent clients
   (one connection each) for ``--seconds``, for a few hundred signed-in
   users; next to it, ``GET /v1/health`` under the same load (the HTTP
   floor) and the feed from one sequential client (service time);
4. freshness: a user watches to the end and likes a video V they never saw,
   then asks For You with ``min_seq`` of the ack; the time from the ack to the
   first page that shows it (V absent, and the page changed or an item is
   ``because_of`` V);
5. ``POST /v1/events`` batches from several clients: interactions/s, each
   acknowledged only once views and engine applied it.

The load generator shares the machine with the server: the health
figure shows what the HTTP path and the client cost on their own.

Usage: .venv/bin/python benchmarks/foryou.py [--scale 1] [--seconds 25] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import foryou_catalog
import httpx
import numpy as np
from foryou_catalog import PASSWORD, Catalog, KuaiRand
from rich.console import Console
from rich.table import Table

from stormproof.log import Entry
from stormproof.log.sqlite import SqliteLog
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine
from stormproof.recommend.ranker import rank
from stormproof.testing import free_port

KUAIRAND = (
    Path(__file__).resolve().parents[2]
    / "shared/data/kuairand-pure-sideinfo/video_features_basic_pure.csv"
)
FEED = "/v1/feed/for-you"
console = Console(width=120)
Figures = dict[str, Any]


def machine() -> Figures:
    model = ""
    with Path("/proc/cpuinfo").open() as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def summary(seconds: list[float], elapsed: float, errors: int = 0) -> Figures:
    """Latency percentiles in milliseconds, and the rate over ``elapsed``."""
    ms = np.array(seconds) * 1000
    return {
        "requests": len(seconds),
        "errors": errors,
        "per_s": round(len(seconds) / elapsed, 1),
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)},
        "max_ms": round(float(ms.max()), 2),
    }


# -- 1. in process --------------------------------------------------------------


async def read_log(path: Path) -> list[Entry]:
    log = SqliteLog(path)
    try:
        entries: list[Entry] = []
        while batch := await log.read(0, entries[-1].seq if entries else 0, 5000):
            entries += batch
        return entries
    finally:
        await log.close()


class Pauses:
    """How often, and how long, Python's full (generation 2) collection ran."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds.append(time.perf_counter() - self._began)

    def figures(self) -> Figures:
        total = sum(self.seconds)
        mean = total / len(self.seconds) if self.seconds else 0.0
        return {"full_gc_passes": len(self.seconds), "full_gc_mean_s": round(mean, 3)}


class HeldLock:
    """The engine's lock, timing how long each holder keeps it."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._since = 0.0
        self.seconds: list[float] = []

    def __enter__(self) -> None:
        self._lock.acquire()
        self._since = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds.append(time.perf_counter() - self._since)
        self._lock.release()


def in_process(log_path: Path, users: list[str], calls: int, folder: Path) -> Figures:
    """Engine and ranker alone, on the seeded log. Run it in a fresh process
    (:func:`isolated`): the heap then holds what a server's does, and no more,
    so garbage collection pauses are the server's too."""
    started = time.perf_counter()
    entries = asyncio.run(read_log(log_path))
    read_s = time.perf_counter() - started
    interactions = sum(len(getattr(e.event.data, "items", ())) for e in entries)
    engine = Engine()
    started = time.perf_counter()
    engine.apply(entries, (entries[-1].seq,))
    apply_s = time.perf_counter() - started
    del entries
    gc.collect()

    pauses = Pauses()
    gc.callbacks.append(pauses)
    now = int(time.time() * 1000)
    timings = []
    for n in range(calls):
        started = time.perf_counter()
        rank(engine, users[n % len(users)], limit=10, now=now)
        timings.append(time.perf_counter() - started)
    gc.callbacks.remove(pauses)
    held = HeldLock(engine.lock)
    engine.lock = held  # type: ignore[assignment]
    started = time.perf_counter()
    checkpoint.save(engine, folder / "foryou.checkpoint")
    save_s = time.perf_counter() - started
    state_s = max(held.seconds)  # the copy under the lock: feeds and writes wait
    return {
        "log_entries": engine.position[0],
        "read_decode_s": round(read_s, 2),
        "apply_s": round(apply_s, 2),
        "events_per_s": round(engine.position[0] / apply_s),
        "interactions_per_s": round(interactions / apply_s),
        "rank": summary(timings, sum(timings)),
        "rank_gc": pauses.figures(),
        "gc_tracked_objects": len(gc.get_objects()),
        "checkpoint_lock_s": round(state_s, 2),
        "checkpoint_save_s": round(save_s, 2),
    }


def isolated(*args: Any) -> Figures:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(in_process, *args).result()


# -- 2. the server ---------------------------------------------------------------


class Server:
    """``stormproof serve`` on the seeded folder, as its own process."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = (data.parent / "server.log").open("wb")
        command = [str(Path(sys.executable).with_name("stormproof")), "serve", "--no-demo"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--data", str(data)]
        self.process = subprocess.Popen(command, stdout=self.output, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 900) -> float:
        started = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=5) as c:
            while time.monotonic() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.process.returncode})")
                try:
                    if c.get("/v1/health").json()["ready"]:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.close()


# -- 3. load ---------------------------------------------------------------------


def http(url: str, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(base_url=url, timeout=60, limits=limits)


async def sign_in(url: str, usernames: list[str]) -> list[dict[str, str]]:
    """An Authorization header per user, logging in 8 at a time."""
    async with http(url, 8) as c:
        gate = asyncio.Semaphore(8)

        async def one(name: str) -> dict[str, str]:
            async with gate:
                body = {"username": name, "password": PASSWORD}
                response = await c.post("/v1/sessions", json=body)
                response.raise_for_status()
                return {"Authorization": f"Bearer {response.json()['token']}"}

        return list(await asyncio.gather(*(one(name) for name in usernames)))


Request = Callable[[httpx.AsyncClient, int], Awaitable[int]]


async def load(url: str, clients: int, seconds: float, request: Request, zero: float) -> Figures:
    """``clients`` loops of ``request(client, n)`` (an HTTP status, 0 for a
    wrong answer) for ``seconds``, once each has connected. Failures are
    counted by status; requests slower than a second by when they started,
    in seconds after ``zero``."""
    timings: list[float] = []
    failures: Counter[int] = Counter()
    slow: set[int] = set()
    connected = asyncio.Barrier(clients + 1)
    start = 0.0

    async def loop(i: int) -> None:
        nonlocal start
        # A client (and connection) each: one pool shared by 100 tasks is
        # itself the bottleneck (httpx/httpcore, ~120 requests/s here).
        async with http(url, 1) as c:
            await request(c, i)  # untimed: opens the connection
            await connected.wait()
            start = start or time.perf_counter()
            n = i + clients
            while time.perf_counter() - start < seconds:
                began = time.perf_counter()
                status = await request(c, n)
                took = time.perf_counter() - began
                timings.append(took)
                if status // 100 != 2:
                    failures[status] += 1
                if took > 1.0:
                    slow.add(int(began - zero))
                n += clients

    loops = [asyncio.create_task(loop(i)) for i in range(clients)]
    await connected.wait()
    await asyncio.gather(*loops)
    figures = summary(timings, time.perf_counter() - start, sum(failures.values()))
    if failures:
        figures["failures"] = {str(k): v for k, v in failures.items()}
    if slow:
        figures["over_1s_started_at_s"] = sorted(slow)
    return figures


async def feed_and_health(
    url: str, auths: list[dict[str, str]], clients: int, seconds: float, zero: float
) -> Figures:
    async def feed(c: httpx.AsyncClient, n: int) -> int:
        response = await c.get(FEED, params={"limit": 10}, headers=auths[n % len(auths)])
        full = response.status_code != 200 or len(response.json()["items"]) == 10
        return response.status_code if full else 0

    async def health(c: httpx.AsyncClient, n: int) -> int:
        return (await c.get("/v1/health")).status_code

    results: Figures = {}
    for name, request, count, length in (
        ("feed_concurrent", feed, clients, seconds),
        ("health_concurrent", health, clients, seconds / 2),
        ("feed_sequential", feed, 1, seconds / 2),
    ):
        results[name] = await load(url, count, length, request, zero)
        console.print(f"{name}: {results[name]}")
    return results


# -- 4. freshness ----------------------------------------------------------------


def page(response: httpx.Response) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def freshness(
    url: str, catalog: Catalog, users: list[int], auths: list[dict[str, str]], patience: float
) -> Figures:
    """Per user: watch and like a popular unseen video V of their taste, then
    ask For You (``min_seq`` of the ack) until a page shows it."""
    delays, posts, first, because, never = [], [], 0, 0, 0
    failures: Counter[str] = Counter()
    async with http(url, 1) as c:
        for user, auth in zip(users, auths, strict=True):
            params: dict[str, Any] = {"limit": 10, "explain": 1}
            before = [
                i["video"]["id"] for i in page(await c.get(FEED, params=params, headers=auth))
            ]
            v = next(
                v
                for cluster in catalog.tastes[user]
                for v in catalog.by_cluster[cluster].tolist()
                if v not in catalog.seen[user] and catalog.video_ids[v] not in before
            )
            catalog.seen[user].add(v)
            video, duration = catalog.video_ids[v], int(catalog.duration_ms[v])
            events = [
                {"type": "watch", "video_id": video, "watched_ms": duration, "completed": True},
                {"type": "like", "video_id": video},
            ]
            began = time.perf_counter()
            ack = await c.post("/v1/events", json={"events": events}, headers=auth)
            acked = time.perf_counter()
            posts.append(acked - began)
            ack.raise_for_status()
            params["min_seq"] = ack.json()["seq"]
            for attempt in itertools.count():
                response = await c.get(FEED, params=params, headers=auth)
                if response.status_code != 200:
                    failures[f"{response.status_code} {response.json().get('code')}"] += 1
                else:
                    items = page(response)
                    ids = [i["video"]["id"] for i in items]
                    cited = any(video in i["explain"]["because_of"] for i in items)
                    if video not in ids and (cited or ids != before):
                        delays.append(time.perf_counter() - acked)
                        first += attempt == 0
                        because += cited
                        break
                if time.perf_counter() - acked > patience:
                    never += 1
                    break
    return {
        "trials": len(users),
        "ack_to_effect": {**summary(delays, 1), "per_s": ""} if delays else {},
        "post_events": summary(posts, sum(posts)),
        "effect_on_first_request": first,
        "cites_video": because,
        f"no_effect_within_{patience:g}_s": never,
        "failed_reads_after_ack": dict(failures),
    }


# -- 5. ingest -------------------------------------------------------------------


def batches(catalog: Catalog, count: int, size: int, seed: int) -> list[dict[str, Any]]:
    """Bodies for ``POST /v1/events``: watches of random videos, half completed,
    a fifth of those liked."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        events: list[dict[str, Any]] = []
        while len(events) < size:
            v = rng.randrange(len(catalog.video_ids))
            video, duration = catalog.video_ids[v], int(catalog.duration_ms[v])
            completed = rng.random() < 0.5
            watched = duration if completed else rng.randrange(duration // 10, duration)
            events.append(
                {"type": "watch", "video_id": video, "watched_ms": watched, "completed": completed}
            )
            if completed and rng.random() < 0.2:
                events.append({"type": "like", "video_id": video})
        bodies.append({"events": events[:size]})
    return bodies


async def ingest(
    url: str,
    catalog: Catalog,
    auths: list[dict[str, str]],
    size: int,
    seconds: float,
    zero: float,
) -> Figures:
    bodies = [batches(catalog, 50, size, seed) for seed in range(len(auths))]

    async def post(c: httpx.AsyncClient, n: int) -> int:
        client = n % len(auths)
        body = bodies[client][n // len(auths) % len(bodies[client])]
        return (await c.post("/v1/events", json=body, headers=auths[client])).status_code

    figures = await load(url, len(auths), seconds, post, zero)
    return {
        "clients": len(auths),
        "batch": size,
        "requests": figures,
        "interactions_per_s": round(figures["per_s"] * size),
    }


# -- the report ------------------------------------------------------------------


def report(r: Figures) -> None:
    m, cat, eng, srv = r["machine"], r["catalog"], r["in_process"], r["served"]
    out = console.print
    out(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, {m['platform']}")
    out(f"code: {r['code']['commit']}, {len(r['code']['src_changed'])} files changed in src/")
    out(
        f"catalog: {cat['users']:,} users, {cat['creators']:,} creators, {cat['videos']:,} "
        f"videos, {cat['interactions']:,} interactions in {cat['interaction_batches']:,} "
        f"batches, {cat['follows']:,} follows = {cat['log_entries']:,} log entries; "
        f"drawn in {cat['draw_s']} s, appended in {cat['append_s']} s"
    )
    out(
        f"engine in process: {eng['log_entries']:,} entries read and decoded in "
        f"{eng['read_decode_s']} s, applied in {eng['apply_s']} s = {eng['events_per_s']:,} "
        f"events/s, {eng['interactions_per_s']:,} interactions/s"
    )
    gc_ = eng["rank_gc"]
    out(
        f"  during {eng['rank']['requests']} rank() calls: {gc_['full_gc_passes']} full GC "
        f"passes of {gc_['full_gc_mean_s']} s ({eng['gc_tracked_objects']:,} objects tracked); "
        f"a checkpoint save: {eng['checkpoint_save_s']} s, {eng['checkpoint_lock_s']} s of "
        "it holding the engine lock"
    )
    out(f"server start: ready (views and engine caught up) after {r['catch_up_s']} s")
    clients, fresh, ingest_ = r["args"]["clients"], srv["freshness"], srv["ingest"]
    table = Table("", "requests", "errors", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms")
    rows = (
        (f"GET for-you, {clients} concurrent", srv["feed_concurrent"]),
        (f"GET health, {clients} concurrent", srv["health_concurrent"]),
        ("GET for-you, 1 sequential", srv["feed_sequential"]),
        ("rank() in process", eng["rank"]),
        ("POST events (watch+like), 1 client", fresh["post_events"]),
        (f"POST events x{ingest_['batch']}, {ingest_['clients']} clients", ingest_["requests"]),
        ("freshness: ack -> effect", fresh["ack_to_effect"]),
    )
    for name, f in rows:
        keys = ("requests", "errors", "per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
        table.add_row(name, *(str(f.get(k, "")) for k in keys))
    out(table)
    for name, f in rows:
        if "over_1s_started_at_s" in f or "failures" in f:
            out(
                f"  {name}: failures {f.get('failures', {})}, requests over 1 s started at "
                f"{f.get('over_1s_started_at_s', [])} s after the server was ready"
            )
    never = next(v for k, v in fresh.items() if k.startswith("no_effect"))
    out(
        f"freshness: {fresh['trials']} trials; the effect on the first request in "
        f"{fresh['effect_on_first_request']}, V cited in because_of in {fresh['cites_video']}, "
        f"no effect in time in {never}; failed reads after an ack: "
        f"{fresh['failed_reads_after_ack']}"
    )
    out(f"ingest: {ingest_['interactions_per_s']:,} interactions/s through POST /v1/events")
    out(f"wall time {r['wall_s']} s")


# -- the run ---------------------------------------------------------------------


async def served(
    args: argparse.Namespace, catalog: Catalog, picked: list[int], url: str, zero: float
) -> Figures:
    """Sign the picked users in: readers, then freshness trials, then writers."""
    started = time.perf_counter()
    auths = await sign_in(url, [catalog.usernames[u] for u in picked])
    results: Figures = {"sign_in_s": round(time.perf_counter() - started, 2)}
    readers = auths[: args.signed_in]
    results.update(await feed_and_health(url, readers, args.clients, args.seconds, zero))
    tried = slice(args.signed_in, args.signed_in + args.trials)
    results["freshness"] = await freshness(url, catalog, picked[tried], auths[tried], 10.0)
    console.print(f"freshness: {results['freshness']}")
    writers = auths[args.signed_in + args.trials :]
    results["ingest"] = await ingest(url, catalog, writers, args.batch, args.seconds / 2, zero)
    console.print(f"ingest: {results['ingest']}")
    return results


def code() -> Figures:
    """Which code ran: src/ is edited while benchmarks run."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout

    changed = git("status", "--porcelain", "--", "src").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "src_changed": changed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kuairand", type=Path, default=KUAIRAND, help="video_features_basic_pure.csv"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="x 10,000 users, 100,000 videos")
    parser.add_argument("--seconds", type=float, default=25.0, help="concurrent feed load")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--signed-in", type=int, default=300)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rank-calls", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    if not args.kuairand.is_file():
        parser.error(f"KuaiRand side information not found at {args.kuairand} (--kuairand PATH)")
    began = time.perf_counter()
    results: Figures = {"machine": machine(), "code": code()}
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    with tempfile.TemporaryDirectory(prefix="foryou-") as tmp:
        data = Path(tmp) / "region"
        started = time.perf_counter()
        catalog = foryou_catalog.build(
            KuaiRand.read(args.kuairand),
            users=round(10_000 * args.scale),
            videos=round(100_000 * args.scale),
        )
        drawn = time.perf_counter() - started
        asyncio.run(foryou_catalog.write(catalog, data / "log.sqlite"))
        results["catalog"] = {
            **catalog.counts(),
            "draw_s": round(drawn, 1),
            "append_s": round(time.perf_counter() - started - drawn, 1),
        }
        console.print(f"seeded {results['catalog']}")
        # The events are in the log now; keep the load generator's heap small,
        # so its own garbage collection does not show up as server latency.
        catalog.events.clear()
        gc.collect()
        gc.freeze()
        wanted = args.signed_in + args.trials + args.writers
        picked = random.Random(11).sample(range(len(catalog.usernames)), wanted)
        readers = [catalog.user_ids[u] for u in picked[: args.signed_in]]
        results["in_process"] = isolated(data / "log.sqlite", readers, args.rank_calls, Path(tmp))
        console.print(f"in process {results['in_process']}")
        server = Server(data)
        try:
            results["catch_up_s"] = round(server.wait_ready(), 1)
            console.print(f"server ready after {results['catch_up_s']} s")
            zero = time.perf_counter()
            results["served"] = asyncio.run(served(args, catalog, picked, server.url, zero))
        finally:
            server.stop()
    results["wall_s"] = round(time.perf_counter() - began, 1)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
