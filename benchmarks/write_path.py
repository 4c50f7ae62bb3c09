"""Embedded write path: what the API costs over the log it writes to.

Measures, in one run on the same disk:
  1. raw SQLite inserts with WAL + synchronous=FULL (one commit each) — the floor;
  2. ``SqliteLog.append`` (the same, plus encoding and the worker thread);
  3. ``POST /v1/events`` through a live uvicorn server (a batch of 10
     interactions per request), from N concurrent clients.

Usage: .venv/bin/python benchmarks/write_path.py [--seconds 5] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from stormproof.events import FollowStarted, new_event
from stormproof.log.sqlite import SqliteLog
from stormproof.media import make_video
from stormproof.settings import Settings
from stormproof.testing import LiveServer


def raw_sqlite(folder: Path, seconds: float) -> float:
    db = sqlite3.connect(folder / "raw.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, key TEXT UNIQUE, body BLOB)")
    body = b"x" * 200
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("INSERT INTO log (key, body) VALUES (?, ?)", (f"k{n}", body))
        n += 1
    return n / (time.perf_counter() - start)


async def log_append(folder: Path, seconds: float) -> float:
    log = SqliteLog(folder / "log.sqlite")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await log.append(f"k{n}", new_event(FollowStarted(followee_id="u"), actor="a"))
        n += 1
    await log.close()
    return n / (time.perf_counter() - start)


def api_events(folder: Path, seconds: float, clients: int) -> tuple[float, float]:
    live = LiveServer(Settings(data_dir=folder / "region", transcode=False)).start()
    try:
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
        return requests / elapsed, requests * 10 / elapsed
    finally:
        live.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw = raw_sqlite(folder, args.seconds)
        appended = asyncio.run(log_append(folder, args.seconds))
        requests, events = api_events(folder, args.seconds, args.clients)
    print(f"raw SQLite FULL-sync inserts      {raw:10.0f} /s")
    print(f"SqliteLog.append (sequential)      {appended:10.0f} /s  ({appended / raw:.0%} of raw)")
    print(f"POST /v1/events, {args.clients} clients      {requests:10.0f} requests/s")
    print(f"  = interaction events              {events:10.0f} /s")
    print(f"  = log appends                     {requests:10.0f} /s  ({requests / raw:.0%} of raw)")


if __name__ == "__main__":
    main()
