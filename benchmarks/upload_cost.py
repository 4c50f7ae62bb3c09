"""What one adversarial upload costs the server, and what it costs others.

Measures, in one run:
  1. the CPU seconds the media worker spends on each of several worst-case
     files under the default limits (``stormproof.media.worker.examine``, the
     very function a worker runs), and how each is answered;
  2. the latency of an unrelated read (``GET /v1/videos/{id}``) on a live
     server over HTTP, idle and then while 8 clients upload the costliest
     file in a loop.

Usage: .venv/bin/python benchmarks/upload_cost.py [--reads 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np

from stormproof.media import MediaLimits, make_video
from stormproof.media.worker import examine
from stormproof.settings import Settings
from stormproof.testing import LiveServer

LIMITS = MediaLimits()
MAX_DURATION_MS = Settings().max_duration_ms


def frames(path: Path, count: int, *, apart_us: int, width: int, height: int) -> Path:
    """``count`` black H.264 frames ``apart_us`` apart (cheap to encode at any size)."""
    time_base = Fraction(1, 1_000_000)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "bf": "0"})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        black = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), "rgb24")
        for index in range(count):
            black.pts = index * apart_us
            black.time_base = time_base
            out.mux(stream.encode(black))
        out.mux(stream.encode(None))
    return path


def shapes(folder: Path) -> dict[str, Path]:
    at_max_fps = round(1_000_000 / LIMITS.max_fps)
    return {
        "100,000 frames 1 us apart (the report's file)": frames(
            folder / "tiny.mp4", 100_000, apart_us=1, width=16, height=16
        ),
        "9:59 at 120.01 fps, 16x16 (refused after every packet)": frames(
            folder / "long.mp4", 71_900, apart_us=at_max_fps, width=16, height=16
        ),
        "4096x2304 at 120 fps, 1.5 s (largest thumbnail decode)": frames(
            folder / "big.mp4", 180, apart_us=at_max_fps, width=4096, height=2304
        ),
        "8192x8192, 2 frames (the report's picture)": frames(
            folder / "huge.mp4", 2, apart_us=33_333, width=8192, height=8192
        ),
        "a real 3 s 320x568 clip (reference)": make_video(folder / "clip.mp4", seconds=3.0),
    }


def cpu_cost(path: Path) -> tuple[float, str, int]:
    """CPU seconds to examine ``path`` once, its answer, and its size in bytes."""
    start = time.process_time()
    reply = examine(path, LIMITS, MAX_DURATION_MS)
    spent = time.process_time() - start
    answer = reply["error"]["code"] if "error" in reply else "accepted"
    return spent, answer, path.stat().st_size


async def read_latencies(url: str, video_id: str, reads: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for _ in range(reads):
            start = time.perf_counter()
            response = await client.get(f"/v1/videos/{video_id}")
            response.raise_for_status()
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
    return times


async def flood(url: str, auth: dict[str, str], data: bytes, stop: asyncio.Event) -> list[int]:
    codes = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while not stop.is_set():
            response = await client.post(
                "/v1/videos", headers=auth, files={"file": ("upload.mp4", data, "video/mp4")}
            )
            codes.append(response.status_code)
    return codes


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):8.1f} ms   p99 {p99:8.1f} ms   max {ms[-1]:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = shapes(folder)
        print("CPU of one upload's probe + thumbnail (the worker's code, default limits):")
        costs = {}
        for name, path in files.items():
            spent, answer, size = cpu_cost(path)
            costs[name] = spent
            print(f"  {name:56} {size / 1e6:7.2f} MB  {spent:6.3f} s CPU  -> {answer}")
        costliest = max((n for n in files if "reference" not in n), key=costs.__getitem__)
        print(f"costliest: {costliest}")

        live = LiveServer(Settings(data_dir=folder / "region", transcode=False)).start()
        try:
            with httpx.Client(base_url=live.url, timeout=60) as setup:
                credentials = {"username": "bench", "password": "benchmark-password"}
                setup.post("/v1/accounts", json=credentials).raise_for_status()
                token = setup.post("/v1/sessions", json=credentials).json()["token"]
                auth = {"Authorization": f"Bearer {token}"}
                clip = files["a real 3 s 320x568 clip (reference)"]
                with clip.open("rb") as f:
                    uploaded = setup.post("/v1/videos", headers=auth, files={"file": f})
                video_id = uploaded.json()["id"]

            async def run() -> tuple[list[float], list[float], list[int]]:
                idle = await read_latencies(live.url, video_id, args.reads)
                stop = asyncio.Event()
                data = files[costliest].read_bytes()
                floods = [
                    asyncio.create_task(flood(live.url, auth, data, stop))
                    for _ in range(args.clients)
                ]
                await asyncio.sleep(1.0)
                busy = await read_latencies(live.url, video_id, args.reads)
                stop.set()
                codes = [code for batch in await asyncio.gather(*floods) for code in batch]
                return idle, busy, codes

            idle, busy, codes = asyncio.run(run())
        finally:
            live.stop()
    print(f"GET /v1/videos/{{id}}, {args.reads} reads one at a time:")
    print(f"  idle server                          {summary(idle)}")
    print(f"  {args.clients} clients uploading the costliest  {summary(busy)}")
    answered = {code: codes.count(code) for code in sorted(set(codes))}
    print(f"  uploads answered meanwhile: {answered}")


if __name__ == "__main__":
    main()
