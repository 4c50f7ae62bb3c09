"""Offline evaluation on MovieLens-100K: the engine and the five baselines through the replay.

Reads ``u.data`` from the shared data folder beside the repository (research
use only: never copied into the repo), runs ``stormproof.recommend.evaluate``
and prints each model's figures, the engine's ratio to the best baseline of
the same run (the target is 1.1 for Recall@20 and NDCG@20), and the time taken.

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/eval_movielens.py [--models a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from stormproof.recommend.evaluate import MODELS, run

DATA = Path(__file__).parents[2] / "shared/data/ml-100k/u.data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    start = time.perf_counter()
    result = run(args.data, format="movielens", models=args.models.split(","))
    elapsed = time.perf_counter() - start
    events, test = result["events"], result["test_events"]
    print(f"{result['dataset']}: {events} events, {test} in the test part")
    print(f"{'model':<16}" + "".join(f"{k:>11}" for k in next(iter(result["models"].values()))))
    for name, figures in result["models"].items():
        print(f"{name:<16}" + "".join(f"{v:>11.4f}" for v in figures.values()))
    models = result["models"]
    if "stormproof" in models and len(models) > 1:
        for metric in ("recall@20", "ndcg@20"):
            best = max((m for m in models if m != "stormproof"), key=lambda m: models[m][metric])
            ratio = models["stormproof"][metric] / models[best][metric]
            print(f"stormproof / best baseline ({best}) {metric}: {ratio:.3f}")
    print("seconds per model:", json.dumps(result["seconds"]))
    print(f"total {elapsed:.1f} s on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
