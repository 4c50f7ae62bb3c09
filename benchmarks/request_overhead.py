"""What observing a request costs (ADR 022): counting it for ``/metrics``
and writing its log line.

Two measures:

1. In process, with ``timeit``: one request counted (its in-flight gauge,
   its counter and histogram), and one request line formatted and written
   (JSON, then plain) to ``/dev/null`` — the per-request work the API adds.
2. End to end: ``stormproof serve --no-demo`` (a real process, stderr to a
   file, probes off), ``--requests`` sequential ``GET /v1/health`` over one
   keep-alive connection, with request lines on and off (``STORMPROOF_LOG_REQUESTS``),
   alternated ``--rounds`` times; prints the median time per request of each.

Usage: .venv/bin/python benchmarks/request_overhead.py [--requests 600] [--rounds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import httpx

from stormproof.api.observed import request_line
from stormproof.logs import configure_logs
from stormproof.metrics import Metrics
from stormproof.testing import free_port


def in_process(n: int = 20_000) -> dict[str, float]:
    """Microseconds per request: counting it, and writing its line."""
    metrics = Metrics("us-east")

    def count() -> None:
        metrics.request_started()
        metrics.request_ended("GET", "/v1/feed/for-you", 200, 0.004)

    def line() -> None:
        request_line("GET", "/v1/feed/for-you", 200, 4.12, "0123456789abcdef", "us-east")

    found = {"count": timeit.timeit(count, number=n) / n * 1e6}
    with open(os.devnull, "w") as sink:
        for log_format in ("json", "plain"):
            handler = configure_logs(log_format, "info", stream=sink)
            found[f"{log_format} line"] = timeit.timeit(line, number=n) / n * 1e6
            logging.getLogger().removeHandler(handler)
    return found


def served(folder: Path, *, lines: bool, requests: int) -> float:
    """Median milliseconds per ``GET /v1/health`` of a fresh server."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORMPROOF_")},
        "STORMPROOF_PROBE_EVERY_S": "0",
        "STORMPROOF_LOG_FORMAT": "json",
        "STORMPROOF_LOG_REQUESTS": "1" if lines else "0",
    }
    data = folder / f"var-{port}"
    with (folder / f"serve-{port}.err").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "stormproof.cli", "serve", "--port", str(port),
             "--data", str(data), "--no-demo"],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                try:
                    if client.get("/v1/health").json()["ready"]:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            for _ in range(200):  # warm up
                client.get("/v1/health")
            took = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get("/v1/health")
                took.append(time.perf_counter() - started)
        return statistics.median(took) * 1000
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for what, us in in_process().items():
        print(f"{what:>12}: {us:5.1f} µs per request")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for lines in (True, False):
                results[lines].append(served(Path(tmp), lines=lines, requests=args.requests))
    for lines, medians in results.items():
        shown = ", ".join(f"{m:.3f}" for m in medians)
        print(f"GET /v1/health, request lines {'on ' if lines else 'off'}: median {shown} ms")


if __name__ == "__main__":
    main()
