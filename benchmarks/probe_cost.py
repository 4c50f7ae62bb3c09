"""What probing costs a region: log entries per second due to its prober,
against the write capacity of the same region, and the CPU it takes.

Measures, in one run, on one live region (``LiveServer``, real HTTP, default
settings: a probe round every 10 s, the production password cost):
  1. idle but for its prober, from its first recorded round on for
     ``--seconds``: the log entries appended per second (every one is a
     probe's: nobody else writes), by event type, and the process's CPU
     time per second (the prober, and the region answering it);
  2. its write capacity: ``POST /v1/events`` (one log append each) from
     ``--clients`` concurrent clients for ``--capacity-seconds``, as in
     ``benchmarks/write_path.py``.
It prints both, the share one is of the other, and what the same prober
writes per region of an N-region cluster (every prober checks every region).

Usage: .venv/bin/python benchmarks/probe_cost.py [--seconds 60] [--capacity-seconds 10]
       [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from stormproof.events import ProbesRecorded
from stormproof.log import Entry
from stormproof.log.sqlite import SqliteLog
from stormproof.media import make_video
from stormproof.settings import Settings
from stormproof.testing import LiveServer


def entries(live: LiveServer) -> list[Entry]:
    async def read() -> list[Entry]:
        log = SqliteLog(live.settings.log_path)
        try:
            return await log.read(0, 0, limit=1_000_000)
        finally:
            await log.close()

    return asyncio.run(read())


def first_round(live: LiveServer, timeout: float = 60) -> Entry:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rounds = [e for e in entries(live) if isinstance(e.event.data, ProbesRecorded)]
        if rounds:
            return rounds[0]
        time.sleep(0.5)
    raise SystemExit("the prober recorded no round")


def idle(live: LiveServer, seconds: float) -> tuple[float, float, Counter[str], int]:
    """Entries per second, CPU seconds per second, entries by type, rounds."""
    start = first_round(live)
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    window = [e for e in entries(live) if e.seq > start.seq]
    types = Counter(e.event.type for e in window)
    return len(window) / wall, cpu / wall, types, types["probes.recorded"]


def capacity(live: LiveServer, folder: Path, seconds: float, clients: int) -> float:
    """Log appends per second through POST /v1/events (a batch of 10 each)."""
    with httpx.Client(base_url=live.url, timeout=30) as setup:
        credentials = {"username": "bench", "password": "benchmark-password"}
        setup.post("/v1/accounts", json=credentials).raise_for_status()
        token = setup.post("/v1/sessions", json=credentials).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        clip = make_video(folder / "clip.mp4", seconds=0.5)
        with clip.open("rb") as f:
            uploaded = setup.post("/v1/videos", headers=auth, files={"file": f})
        video_id = uploaded.json()["id"]
    batch = {"events": [{"type": "watch", "video_id": video_id, "watched_ms": 100}] * 10}

    async def client(deadline: float) -> int:
        done = 0
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as c:
            while time.perf_counter() < deadline:
                response = await c.post("/v1/events", json=batch, headers=auth)
                assert response.status_code == 202, response.text
                done += 1
        return done

    async def run() -> tuple[int, float]:
        start = time.perf_counter()
        counts = await asyncio.gather(*(client(start + seconds) for _ in range(clients)))
        return sum(counts), time.perf_counter() - start

    requests, elapsed = asyncio.run(run())
    return requests / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--capacity-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # One client writes as fast as it can: the per-person write limit out of the way.
        unlimited = {"writes_per_s": 1e9, "writes_burst": 10**9}
        live = LiveServer(
            Settings(data_dir=folder / "region", region="bench", transcode=False, **unlimited)
        )
        live.start()
        try:
            per_s, cpu, types, rounds = idle(live, args.seconds)
            appends = capacity(live, folder, args.capacity_seconds, args.clients)
        finally:
            live.stop()
    settings = Settings()
    period, every = settings.probe_every_s, settings.probe_upload_every_rounds
    print(f"probe period {period:.0f} s; {rounds} rounds in {args.seconds:.0f} s idle")
    for kind, count in sorted(types.items()):
        print(f"  {kind:28s} {count:5d}")
    print(f"log entries due to probes     {per_s:10.3f} /s")
    print(f"CPU while idle but probing    {cpu:10.3f} s/s  (one core = 1)")
    print(f"write capacity (POST /v1/events, {args.clients} clients) {appends:8.0f} appends/s")
    print(f"probes' share of capacity     {per_s / appends:10.4%}")
    # Each round a prober writes its round, and per region it checks a
    # watch and a message, plus an upload and its deletion every `every`
    # rounds; the session sign-ins reuse one session a day.
    for n in (1, 3, 5):
        steady = (1 + 2 * n + 2 * n / every) / period
        print(f"  steady state in a {n}-region cluster: {steady:.3f} entries/s per prober")


if __name__ == "__main__":
    main()
