"""For You pages while writes land in past trending buckets.

A catalog's history replayed into a region (a bulk import, a region
catching up) puts interactions into completed trending buckets, and the
prober asks for a For You page every second meanwhile. This builds an
engine of ``--videos`` videos with ``--points`` interactions spread over
the trending window, then ``--rounds`` times: one interaction into a past
bucket, then one page (:func:`rank`), timed. Twice, in the same run, from
the same state: **kept** — the engine's trending sum kept between pages,
only the changed rows summed again (2026-12-03); **afresh** — the cache
dropped before each page, so the whole window is summed again (the rule
before). Both must give the same pages, checked.

Usage: PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/trending_cost.py
       [--videos 400000] [--points 400000] [--rounds 30] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from foryou import machine

from stormproof.recommend.engine import Engine
from stormproof.recommend.ranker import rank


def build(videos: int, points: int, seed: int) -> tuple[Engine, int]:
    """The engine, and a ``now`` in the bucket after the last interaction."""
    engine = Engine()
    size, buckets = engine.config.bucket_ms, engine.config.buckets
    start = 1_000 * size
    for v in range(videos):
        engine.upload(f"v{v:07d}", f"c{v % 1000}", start, 15_000)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, videos, points)
    when = start + rng.integers(0, buckets * size, points)
    for n, (v, at) in enumerate(zip(which.tolist(), when.tolist(), strict=True)):
        engine.interact(f"u{n % 5000}", f"v{v:07d}", "watch", (at, f"h{n}", 0), 15_000, True)
    return engine, start + buckets * size + 1


def pages(
    engine: Engine, now: int, rounds: int, afresh: bool, seed: int
) -> tuple[list[float], list[list[str]]]:
    rng = np.random.default_rng(seed)
    size, buckets, n = engine.config.bucket_ms, engine.config.buckets, len(engine.item_ids)
    took, seen = [], []
    for r in range(rounds):
        v = int(rng.integers(0, n))
        at = now - int(rng.integers(2, buckets)) * size  # a completed bucket
        engine.interact(f"w{r}", engine.item_ids[v], "watch", (at, f"r{r}", 0), 15_000, True)
        if afresh:
            engine.cache.pop("trending", None)
        begun = time.perf_counter()
        page = rank(engine, f"reader{r}", now=now, limit=10)
        took.append(time.perf_counter() - begun)
        seen.append([p.video_id for p in page])
    return took, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=400_000)
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    built = time.perf_counter()
    figures: dict[str, object] = {
        "machine": machine(),
        "videos": args.videos,
        "points": args.points,
    }
    runs = {}
    for way in ("afresh", "kept"):
        engine, now = build(args.videos, args.points, seed=1)
        rank(engine, "warm", now=now, limit=10)  # the first page sums everything either way
        runs[way] = pages(engine, now, args.rounds, way == "afresh", seed=2)
    figures["build_s"] = round(time.perf_counter() - built, 1)
    if runs["kept"][1] != runs["afresh"][1]:
        raise SystemExit("kept and afresh gave different pages")
    for way, (took, _) in runs.items():
        ms = sorted(t * 1000 for t in took)
        figures[way] = {"median_ms": round(statistics.median(ms), 2), "max_ms": round(ms[-1], 2)}
        print(f"{way:>6}: page after a write into a past bucket, median "
              f"{figures[way]['median_ms']} ms, max {figures[way]['max_ms']} ms "  # type: ignore[index]
              f"({args.rounds} pages, {args.videos:,} videos)")  # fmt: skip
    print("same pages both ways: yes")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
