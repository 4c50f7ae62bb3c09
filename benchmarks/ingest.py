"""Ingest: interaction events per second through the API, next to raw JetStream.

On one 3-region cluster on loopback, in the same run:

1. raw: ``--publishers`` nats-py clients publish 100-byte messages to one R3
   stream (the same replication and fsync settings as our log), each waiting
   for its ack — JetStream's own rate for acknowledged, replicated writes;
2. ours: ``--clients`` SDK clients POST batches of ``--batch`` watch events to
   ``/v1/events`` (spread over the three regions), each waiting for the
   answer — acknowledged only once durable in a quorum and applied by the
   region's views.

Usage: .venv/bin/python benchmarks/ingest.py [--seconds 10] [--batch 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import nats
from nats.js.api import StreamConfig

from stormproof.client import Client
from stormproof.media import make_video
from stormproof.testing import temporary_cluster

#: the regions make no HLS ladder: this measures ingest, not transcoding
#: (benchmarks/transcode.py does; ADR 028)
NO_LADDER = {"STORMPROOF_TRANSCODE": "0"}


async def raw_rate(urls: list[str], publishers: int, seconds: float) -> float:
    async def publisher(i: int, deadline: float) -> int:
        nc = await nats.connect(servers=[urls[i % len(urls)]])
        js = nc.jetstream()
        n = 0
        while time.monotonic() < deadline:
            await js.publish("ingest.raw", b"x" * 100, timeout=10)
            n += 1
        await nc.close()
        return n

    nc = await nats.connect(servers=urls)
    await nc.jetstream().add_stream(
        StreamConfig(name="INGEST_RAW", subjects=["ingest.raw"], num_replicas=3)
    )
    await nc.close()
    start = time.monotonic()
    counts = await asyncio.gather(*(publisher(i, start + seconds) for i in range(publishers)))
    return sum(counts) / (time.monotonic() - start)


async def api_rate(
    urls: list[str], video: bytes, clients: int, batch: int, seconds: float
) -> tuple[float, float]:
    async with Client(urls) as setup:
        await setup.sign_up("ingest", "ingest-password")
        await setup.log_in("ingest", "ingest-password")
        video_id = (await setup.upload(video))["id"]
    body = {"events": [{"type": "watch", "video_id": video_id, "watched_ms": 100}] * batch}

    async def client(i: int, deadline: float) -> int:
        regions = urls[i % len(urls) :] + urls[: i % len(urls)]
        async with Client(regions) as c:
            await c.log_in("ingest", "ingest-password")
            n = 0
            while time.monotonic() < deadline:
                await c.post("/v1/events", json=body)
                n += 1
            return n

    start = time.monotonic()
    counts = await asyncio.gather(*(client(i, start + seconds) for i in range(clients)))
    elapsed = time.monotonic() - start
    return sum(counts) / elapsed, sum(counts) * batch / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--publishers", type=int, default=12)
    args = parser.parse_args()
    with temporary_cluster(env=NO_LADDER) as cluster:
        video = make_video(cluster.folder / "v.mp4", seconds=0.4, width=64, height=64)
        raw = await raw_rate(cluster.nats_urls, args.publishers, args.seconds)
        requests, events = await api_rate(
            cluster.urls, video.read_bytes(), args.clients, args.batch, args.seconds
        )
    print(f"raw JetStream publish, R3, {args.publishers} publishers: {raw:.0f} messages/s")
    print(f"POST /v1/events, {args.clients} clients, batch {args.batch}: {requests:.0f} requests/s")
    print(f"  = {events:.0f} interaction events/s ({events / raw:.0%} of the raw message rate)")
    print(f"  = {requests:.0f} log appends/s ({requests / raw:.0%} of the raw message rate)")


if __name__ == "__main__":
    asyncio.run(main())
