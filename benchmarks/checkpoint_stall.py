"""Checkpoint stall: how long a write waits while the For You engine saves a checkpoint.

Seeds an embedded log with a KuaiRand-shaped catalog (``--scale`` x 10,000
users and 100,000 videos, as ``benchmarks/foryou.py``), then serves it twice
with ``stormproof serve`` (a real process on loopback): once with periodic
checkpoints off — the reference — and once saving every ``--every`` seconds,
or with ``--defaults`` under the region's own rules (every 60 s, and every
``checkpoint_every_entries`` entries, most of them deltas: ADR 032).
In each, ``--clients`` clients (one by default) post ``--batch`` watch events at a time
for ``--seconds`` and
times each acknowledgement (the views and the engine applied it); it also
watches the checkpoint file, to count the saves that happened meanwhile.

Prints write latency p50/p90/p99/max for both runs. A checkpoint that holds
the engine's lock, or starves the request thread of the GIL, shows up as the
second run's maximum. A save is counted when the checkpoint or its deltas
changed between two answers.

Usage: .venv/bin/python benchmarks/checkpoint_stall.py [--scale 0.5] [--seconds 30]
       [--every 8 | --defaults] [--batch 1] [--clients 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import foryou_catalog
import httpx
from foryou import KUAIRAND, Figures, Server, machine, summary
from foryou_catalog import PASSWORD, KuaiRand


async def write_for(
    url: str,
    username: str,
    videos: list[str],
    seconds: float,
    ckpt: Path,
    batch: int,
    clients: int,
) -> Figures:
    """``clients`` clients, each posting ``batch`` watch events per request
    and waiting for the answer, for ``seconds``."""
    timings: list[float] = []
    saves, last = 0, _on_disk(ckpt)

    async def client(n: int, auth: dict[str, str], end: float) -> None:
        nonlocal saves, last
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            while time.perf_counter() < end:
                events = [
                    {"type": "watch", "video_id": rng.choice(videos), "watched_ms": 500}
                    for _ in range(batch)
                ]
                began = time.perf_counter()
                response = await c.post("/v1/events", json={"events": events}, headers=auth)
                timings.append(time.perf_counter() - began)
                response.raise_for_status()
                if (now := _on_disk(ckpt)) != last:
                    saves, last = saves + 1, now

    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        body = {"username": username, "password": PASSWORD}
        token = (await c.post("/v1/sessions", json=body)).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    await asyncio.gather(*(client(n, auth, started + seconds) for n in range(clients)))
    figures = summary(timings, time.perf_counter() - started)
    return {**figures, "events_per_s": round(figures["per_s"] * batch), "checkpoints_saved": saves}


def _on_disk(path: Path) -> tuple[tuple[str, int], ...]:
    """The checkpoint's files (the whole one and its deltas) and their times."""
    found = []
    for file in [path, *path.parent.glob(path.name + ".delta-*")]:
        try:
            found.append((file.name, file.stat().st_mtime_ns))
        except FileNotFoundError:
            continue
    return tuple(sorted(found))


#: the settings of the checkpoint rules (unset: the region's defaults)
RULES = ("STORMPROOF_CHECKPOINT_EVERY_S", "STORMPROOF_CHECKPOINT_EVERY_ENTRIES")


def serve(data: Path, every: float | None, run: Any) -> Figures:
    """Serve ``data`` saving every ``every`` seconds and never by entries;
    ``None``: under the region's default rules."""
    for name in RULES:
        os.environ.pop(name, None)
    # one person writes as fast as the server answers: no per-person limit
    os.environ["STORMPROOF_WRITES_PER_S"] = "1e9"
    os.environ["STORMPROOF_WRITES_BURST"] = str(10**9)
    if every is not None:
        os.environ["STORMPROOF_CHECKPOINT_EVERY_S"] = str(every)
        os.environ["STORMPROOF_CHECKPOINT_EVERY_ENTRIES"] = str(10**12)
    server = Server(data)
    try:
        server.wait_ready()
        figures: Figures = asyncio.run(run(server.url))
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kuairand", type=Path, default=KUAIRAND)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=8.0, help="seconds between checkpoints")
    parser.add_argument(
        "--defaults", action="store_true", help="the second run saves under the region's rules"
    )
    parser.add_argument("--batch", type=int, default=1, help="watch events per request")
    parser.add_argument("--clients", type=int, default=1, help="concurrent writers")
    args = parser.parse_args()
    results: Figures = {"machine": machine(), "args": vars(args) | {"kuairand": str(args.kuairand)}}
    with tempfile.TemporaryDirectory(prefix="ckpt-stall-") as tmp:
        data = Path(tmp) / "region"
        catalog = foryou_catalog.build(
            KuaiRand.read(args.kuairand),
            users=round(10_000 * args.scale),
            videos=round(100_000 * args.scale),
        )
        asyncio.run(foryou_catalog.write(catalog, data / "log.sqlite"))
        results["catalog"] = catalog.counts()
        username, videos = catalog.usernames[0], catalog.video_ids[:5000]
        del catalog
        ckpt = data / "foryou.checkpoint"

        def run(url: str) -> Any:
            return write_for(url, username, videos, args.seconds, ckpt, args.batch, args.clients)

        results["no_periodic_checkpoints"] = serve(data, 1e9, run)
        print(json.dumps({"no_periodic_checkpoints": results["no_periodic_checkpoints"]}))
        name = "the_regions_rules" if args.defaults else f"checkpoint_every_{args.every:g}_s"
        results[name] = serve(data, None if args.defaults else args.every, run)
        print(json.dumps({name: results[name]}))
        results["checkpoint_bytes"] = ckpt.stat().st_size
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
