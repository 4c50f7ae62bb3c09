"""Failover: what users feel when a region loses power, next to what the engine alone does.

Starts a 3-region cluster on loopback, runs the write workload (messages,
comments, uploads; several users, each with the SDK) and a reader, and
cuts power (SIGKILL) to — or freezes (SIGSTOP) — one region at a time, N
times, restoring each. For every fault it prints:

- the longest one user waited for one write (a message or an interaction,
  from sending it to its acknowledgement, retries and hedges included), and
  the longest time no user at all got a write acknowledged; the slowest
  upload, next to the slowest in the 4 s before the fault (an upload's time
  grows with its size: it is compared with itself, not with the target);
- the longest time the reader went without a successful read;
- in the same run, the longest gap between acknowledgments of a plain
  JetStream publisher on one R3 stream whose leader sits in the failed
  region (nats-py, default reconnect behaviour) — the engine alone;

and at the end the Jepsen-style counts: acknowledged writes lost or
duplicated in any region.

Usage: .venv/bin/python benchmarks/failover.py [--faults 3] [--mode kill|freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

import nats
from nats.js.api import StreamConfig

from stormproof.client import Client, RegionsUnavailable
from stormproof.jetstream.links import Links
from stormproof.jetstream.streams import place_leader
from stormproof.loadgen import Workload, check
from stormproof.media import make_video
from stormproof.testing import temporary_cluster

#: the regions make no HLS ladder: this measures the write path under a
#: power cut, not transcoding (benchmarks/transcode.py does; ADR 028)
NO_LADDER = {"STORMPROOF_TRANSCODE": "0"}


async def _quiet(exc: Exception) -> None:
    pass


class RawPublisher:
    """One nats-py client publishing to one R3 stream, timing the acks."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.acks: list[float] = []
        self.running = True

    async def run(self) -> None:
        nc = await nats.connect(
            servers=self.urls,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.1,
            error_cb=_quiet,  # a killed server is expected; don't print tracebacks
        )
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="RAW", subjects=["raw"], num_replicas=3))
        n = 0
        while self.running:
            n += 1
            try:
                await js.publish("raw", b"x" * 100, timeout=10, headers={"Nats-Msg-Id": str(n)})
                self.acks.append(time.monotonic())
            except Exception:  # the engine alone: no failover of ours
                await asyncio.sleep(0.01)
        await nc.close()


class Reader:
    def __init__(self, urls: list[str], video_id: str) -> None:
        self.urls = urls
        self.video_id = video_id
        self.oks: list[float] = []
        self.running = True

    async def run(self) -> None:
        async with Client(self.urls, attempt_timeout=0.25, deadline=30) as client:
            while self.running:
                try:
                    await client.get(f"/v1/videos/{self.video_id}")
                    self.oks.append(time.monotonic())
                except RegionsUnavailable:
                    pass


def gap(times: list[float], start: float, end: float) -> float:
    points = [start, *sorted(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(points))


def longest_wait(
    workload: Workload, start: float, end: float, kinds: set[str]
) -> tuple[float, str]:
    """The longest one user waited for one write of ``kinds`` acknowledged
    between ``start`` and ``end`` (sent before or after the fault), and where
    it was answered; a write that failed or stayed unknown counts as inf."""
    worst, where = 0.0, ""
    for op in workload.ops:
        if op.kind not in kinds or op.outcome == "pending" or not start <= op.ended <= end:
            continue  # another kind, still in flight, or ended outside the window
        took = op.ended - op.started if op.outcome == "ok" else float("inf")
        if took > worst:
            worst, where = took, f"{op.kind} answered by {op.region}"
    return worst, where


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=3)
    parser.add_argument("--mode", choices=["kill", "freeze"], default="kill")
    parser.add_argument("--down", type=float, default=4.0, help="seconds a region stays down")
    parser.add_argument("--users", type=int, default=4)
    args = parser.parse_args()

    with temporary_cluster(env=NO_LADDER) as cluster:
        video = make_video(cluster.folder / "v.mp4", seconds=0.4, width=64, height=64)
        workload = Workload(cluster.urls, users=args.users, video=video.read_bytes(),
                            attempt_timeout=0.25)  # fmt: skip
        await workload.setup()
        raw = RawPublisher(cluster.nats_urls)
        reader = Reader(cluster.urls, workload.video_id)
        tasks = [asyncio.create_task(t.run()) for t in (workload, raw, reader)]
        links = Links(cluster.nats_urls)
        links.start()
        await _warmed_up(workload, raw, reader, tasks)
        rows = []
        for k in range(args.faults):
            # Fault the region the clients write to now, and put the raw stream's leader there.
            busiest = _busiest(workload, default=cluster.urls[0])
            victim = next(s.name for s in cluster.regions.values() if s.url == busiest)
            await place_leader(links, "RAW", victim)
            await asyncio.sleep(1)
            start = time.monotonic()
            if args.mode == "kill":
                await asyncio.to_thread(cluster.kill, victim)
            else:
                await asyncio.to_thread(cluster.freeze, victim)
            await asyncio.sleep(args.down)
            if args.mode == "kill":
                await asyncio.to_thread(cluster.restore, victim)
            else:
                await asyncio.to_thread(cluster.thaw, victim)
            await asyncio.sleep(3)  # the window covers the fault and the return
            end = time.monotonic()
            writes = [op.ended for op in workload.ops if op.outcome == "ok"
                      and op.kind != "upload"]  # fmt: skip
            wait, where = longest_wait(workload, start, end, {"message", "comment"})
            upload, _ = longest_wait(workload, start, end, {"upload"})
            upload_before, _ = longest_wait(workload, start - 4, start, {"upload"})
            rows.append({
                "fault": k + 1, "region": victim,
                "write_wait_s": round(wait, 3), "slowest": where,
                "write_gap_s": round(gap(writes, start, end), 3),
                "upload_s": round(upload, 3), "upload_before_s": round(upload_before, 3),
                "read_gap_s": round(gap(reader.oks, start, end), 3),
                "raw_jetstream_gap_s": round(gap(raw.acks, start, end), 3),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        workload.stop()
        raw.running = reader.running = False
        await asyncio.gather(*tasks)
        await links.close()
        for name in cluster.names:
            await asyncio.to_thread(cluster.wait_ready, name)
        verdicts = {url: (await check(workload, url)).as_dict() for url in cluster.urls}
        ok = sum(1 for op in workload.ops if op.outcome == "ok")
        print(json.dumps({"acknowledged_writes": ok, "verdicts": verdicts}, indent=1))
        worst = {key: max((r[key] for r in rows), default=0.0) for key in _FIGURES}
        print(
            f"max write wait {worst['write_wait_s']:.3f} s, "
            f"max write gap {worst['write_gap_s']:.3f} s, "
            f"max read gap {worst['read_gap_s']:.3f} s, "
            f"raw JetStream max gap {worst['raw_jetstream_gap_s']:.3f} s, "
            f"lost {max(v['lost'] for v in verdicts.values())}, "
            f"duplicated {max(v['duplicated'] for v in verdicts.values())}"
        )


#: the per-fault figures summed up at the end (as their worst)
_FIGURES = ("write_wait_s", "write_gap_s", "read_gap_s", "raw_jetstream_gap_s")


async def _warmed_up(
    workload: Workload,
    raw: RawPublisher,
    reader: Reader,
    tasks: list[asyncio.Task[None]],
    timeout: float = 120.0,
) -> None:
    """Return once every user had a write acknowledged (so all are logged in
    and writing), the raw publisher an ack and the reader a read. A fixed
    pause was shorter than the log-ins on a loaded machine: the first fault
    then found no write to pick its region by, and measured a warm-up."""
    deadline = time.monotonic() + timeout
    while True:
        writing = {op.user for op in workload.ops if op.outcome == "ok"}
        if writing == set(workload.names) and raw.acks and reader.oks:
            return
        if failed := [t for t in tasks if t.done()]:
            failed[0].result()  # a load task ended early: show why
        if time.monotonic() > deadline:
            raise SystemExit(
                f"not warmed up after {timeout} s: {len(writing)}/{len(workload.names)} users "
                f"writing, {len(raw.acks)} raw acks, {len(reader.oks)} reads"
            )
        await asyncio.sleep(0.1)


def _busiest(workload: Workload, default: str) -> str:
    """The region most of the last writes went to (``default`` before any)."""
    recent = [op.region for op in workload.ops[-20:] if op.region]
    return max(set(recent), key=recent.count) if recent else default


if __name__ == "__main__":
    asyncio.run(main())
