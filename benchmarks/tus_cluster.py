"""Resumable uploads (tus) on a 3-region cluster: throughput, and a power cut mid-upload.

Starts a fresh 3-region cluster on loopback (regions with
STORMPROOF_TRANSCODE=0: no HLS ladder shares the cores) and measures, with
the official tus client (tuspy) in chunks of ``--chunk-kib``:

1. **Throughput**: one upload of a real video of about ``--mib`` MiB to
   region A, next to the reference in the same run: a
   :class:`~stormproof.blobs.jetstream.JetStreamBlobStore` built as a region
   builds its own (the cluster's nats servers, region A's index, the same
   buckets) putting the same chunks one after the other with ``put_bytes``
   (each salted so it is a new blob, as a tus chunk is). The tus upload
   and the puts run ``--repeats`` times, interleaved, after one tus upload
   not counted (it warms the region's connections and code paths); the
   medians are compared. ``tus_last_chunk_s`` is the last chunk's share
   (median of the repeats, as ``tus_s``: the before-last-chunk rate is a
   figure of medians, not a median). The tus figure
   includes what the reference does not: HTTP, the upload's creation, one
   log append per chunk, and at the end the joining of the chunks and the
   PyAV validation of the whole file.
2. **A power cut mid-upload**, ``--rounds`` times (the cut region rotates):
   an uninterrupted upload of the same file to A, then a new upload to A
   SIGKILLed after half the chunks; the client asks region B (HEAD) for the
   offset until B answers the acknowledged one, then tuspy sends the rest
   to B (10 retries, 1 s apart, as tests/test_cluster_uploads.py). Printed:
   seconds from the kill to B's HEAD answering the acknowledged offset (and
   how many HEADs that took),
   seconds to finish after that, the extra time against the uninterrupted
   upload, and every 503 met (HEAD answers, tuspy's retries, and the 503
   lines in B's api.log after the kill, with their codes).

The video is noise encoded with MPEG-4 at high quality, so its size is
what ``--mib`` asks (generated videos of flat colour compress to a few
KiB); it is validated at the end like any upload.

Usage: .venv/bin/python benchmarks/tus_cluster.py [--mib 8] [--chunk-kib 1024]
       [--rounds 3] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from stormproof.blobs.jetstream import JetStreamBlobStore
from stormproof.cluster import LocalCluster
from stormproof.testing import temporary_cluster

sys.path.insert(0, str(Path(__file__).parent))
from foryou import machine

#: the regions make no HLS ladder: this measures uploads, not transcoding
NO_LADDER = {"STORMPROOF_TRANSCODE": "0"}
TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024
#: about what one 320x576 noise frame weighs in MPEG-4 at qscale 2
FRAME_BYTES = 200_000

Figures = dict[str, Any]


def noise_video(path: Path, mib: float, seed: int = 0) -> Path:
    """A real MP4 of random pixels weighing about ``mib`` MiB."""
    rng = np.random.default_rng(seed)
    frames = max(2, round(mib * MIB / FRAME_BYTES))
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = 320, 576, "yuv420p"
        stream.bit_rate = 200_000_000
        stream.codec_context.qmax = 2
        for index in range(frames):
            pixels = rng.integers(0, 256, (576, 320, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 15)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def sign_up(url: str, username: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=30) as client:
        body = {"username": username, "password": "correct horse battery staple"}
        client.post("/v1/accounts", json=body).raise_for_status()
        session = client.post("/v1/sessions", json=body)
        session.raise_for_status()
        return {"Authorization": f"Bearer {session.json()['token']}"}


def uploader(
    region: str, auth: dict[str, str], stream: Any, chunk: int, **options: Any
) -> Uploader:
    """tuspy's uploader of ``stream`` to the region at ``region`` (``url=``: resume that upload)."""
    client = TusClient(f"{region}/v1/uploads", headers=auth)
    return client.uploader(file_stream=stream, chunk_size=chunk, **options)


def tus_seconds(url: str, auth: dict[str, str], video: Path, chunk: int) -> tuple[float, float]:
    """One whole upload of ``video`` to the region at ``url``: seconds from
    creation to the last answer, and of those the last chunk's (which joins
    the chunks and validates the video)."""
    size = video.stat().st_size
    with video.open("rb") as stream:
        started = time.monotonic()
        tus = uploader(url, auth, stream, chunk)
        tus.upload(stop_at=(size - 1) // chunk * chunk)
        last = time.monotonic()
        tus.upload()
        ended = time.monotonic()
        return ended - started, ended - last


async def raw_seconds(cluster: LocalCluster, data: bytes, chunk: int, cache: Path) -> float:
    """The same bytes put chunk by chunk into the replicated blob store, as region A's own."""
    store = JetStreamBlobStore(cluster.nats_urls, 0, cache_dir=cache)
    try:
        await store.start()
        salt = os.urandom(16)  # new blobs, as a tus upload's chunks are salted
        started = time.monotonic()
        for offset in range(0, len(data), chunk):
            await store.put_bytes(salt + data[offset : offset + chunk])
        return time.monotonic() - started
    finally:
        await store.close()


def log_503s(log: Path, start: int) -> list[str]:
    """The lines of a region's api.log written after byte ``start`` that tell of a 503."""
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read().decode(errors="replace").splitlines()
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = {"status": 503 if " 503" in line else None}
        if isinstance(record, dict) and record.get("status") == 503:
            found.append(line[:300])
    return found


def cut_round(
    cluster: LocalCluster, auth: dict[str, str], video: Path, chunk: int, k: int
) -> Figures:
    names, urls = cluster.names, cluster.urls
    a, b = k % len(names), (k + 1) % len(names)
    whole, _ = tus_seconds(urls[a], auth, video, chunk)
    size = video.stat().st_size
    half = (size // chunk // 2) * chunk or chunk
    b_log = cluster.region_dir(names[b]) / "api.log"
    with video.open("rb") as stream:
        started = time.monotonic()
        first = uploader(urls[a], auth, stream, chunk)
        first.upload(stop_at=half)
        acknowledged, path = first.offset, first.url.removeprefix(urls[a])
    log_start = b_log.stat().st_size
    killed = time.monotonic()
    cluster.kill(names[a])
    head_503s: list[str] = []
    with httpx.Client(timeout=30) as client:
        heads = 0
        while True:
            heads += 1
            head = client.head(urls[b] + path, headers={**auth, **TUS})
            if head.status_code == 200 and head.headers["upload-offset"] == str(acknowledged):
                break
            if head.status_code == 503:
                head_503s.append(f"HEAD {names[b]}: 503 {dict(head.headers)}"[:300])
            elif head.status_code != 200:
                raise RuntimeError(f"HEAD on {names[b]}: {head.status_code} {head.headers}")
            time.sleep(0.05)
    answered = time.monotonic()
    retried = 0
    with video.open("rb") as stream:
        resumed = uploader(urls[b], auth, stream, chunk, url=urls[b] + path,
                           retries=10, retry_delay=1)  # fmt: skip
        if resumed.offset != acknowledged:
            raise RuntimeError(f"tuspy resumed at {resumed.offset}, not {acknowledged}")
        while resumed.offset < size:
            resumed.upload_chunk()
            retried += resumed._retried  # tuspy's count of retries of this chunk
    finished = time.monotonic()
    logged = log_503s(b_log, log_start)
    restored = time.monotonic()
    cluster.restore(names[a])
    while cluster.left_out() and time.monotonic() < restored + 60:
        time.sleep(0.5)
    return {
        "cut": names[a],
        "resumed_on": names[b],
        "acknowledged_bytes": acknowledged,
        "uninterrupted_s": round(whole, 3),
        "kill_to_head_s": round(answered - killed, 3),
        "head_to_done_s": round(finished - answered, 3),
        "interrupted_s": round(finished - started, 3),
        "extra_s": round(finished - started - whole, 3),
        "head_requests": heads,
        "head_503s": len(head_503s),
        "patch_retries": retried,
        "b_log_503_lines": len(logged),
        "503_sources": head_503s[:3] + logged[:3],
    }


def run(mib: float, chunk_kib: int, rounds: int, repeats: int) -> Figures:
    chunk = chunk_kib * 1024
    with temporary_cluster(env=NO_LADDER) as cluster:
        video = noise_video(cluster.folder / "noise.mp4", mib)
        data = video.read_bytes()
        auth = sign_up(cluster.urls[0], "bencher")
        tus_seconds(cluster.urls[0], auth, video, chunk)  # warm-up: first connections
        tus_runs, raw_runs = [], []
        for _ in range(repeats):  # interleaved, so both meet the same noise
            tus_runs.append(tus_seconds(cluster.urls[0], auth, video, chunk))
            cache = cluster.folder / f"raw-cache-{len(raw_runs)}"
            raw_runs.append(asyncio.run(raw_seconds(cluster, data, chunk, cache)))
        tus = statistics.median(t for t, _ in tus_runs)
        finish = statistics.median(f for _, f in tus_runs)
        raw = statistics.median(raw_runs)
        mb = len(data) / 1e6
        last_bytes = len(data) - (len(data) - 1) // chunk * chunk
        throughput = {
            "bytes": len(data),
            "chunk_bytes": chunk,
            "chunks": -(-len(data) // chunk),
            "repeats": repeats,
            "tus_s_each": [round(t, 3) for t, _ in tus_runs],
            "raw_s_each": [round(r, 3) for r in raw_runs],
            "tus_s": round(tus, 3),
            "tus_last_chunk_s": round(finish, 3),
            "raw_s": round(raw, 3),
            "tus_mb_s": round(mb / tus, 2),
            "tus_mb_s_before_last_chunk": round((len(data) - last_bytes) / 1e6 / (tus - finish), 2),
            "raw_mb_s": round(mb / raw, 2),
            "tus_over_raw": round(raw / tus, 3),
        }
        cuts = [cut_round(cluster, auth, video, chunk, k) for k in range(rounds)]
    median = {
        key: round(statistics.median(c[key] for c in cuts), 3)
        for key in ("kill_to_head_s", "head_to_done_s", "uninterrupted_s", "extra_s")
    }
    return {
        "machine": machine(),
        "throughput": throughput,
        "cuts": cuts,
        "cut_median": median,
        "503s": sum(c["head_503s"] + c["patch_retries"] for c in cuts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=8.0, help="size of the video")
    parser.add_argument("--chunk-kib", type=int, default=1024, help="tus chunk size")
    parser.add_argument("--rounds", type=int, default=3, help="power cuts mid-upload")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = run(args.mib, args.chunk_kib, args.rounds, args.repeats)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
