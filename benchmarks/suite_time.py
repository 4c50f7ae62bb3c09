"""Where the test suite's time goes: its wall time, and the time of each test
file (setup, call and teardown of its tests summed), from pytest's own output.

Either runs the suite (``--run``, from the repository's root: pytest with
``--durations=0``, its output kept in ``--log``), or reads the output of runs
made before (``LOG ...``). For each it prints what pytest's summary line says
(the counts, the wall time), the load average before and after (``--run``
only), the sum of every test's durations (on two workers, more than the wall
time), and the files that took longest. Two runs side by side: each file's
seconds in both, for the figures a busy machine moves least.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/suite_time.py --run [--log FILE] [-- PYTEST ARGS]
       .venv/bin/python benchmarks/suite_time.py LOG [LOG2] [--top 25]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)")
SUMMARY = re.compile(r"^=*\s*(.*\bin ([\d.]+)s\b.*?)\s*=*$")


def read(log: Path) -> tuple[str, float, Counter[str], Counter[str]]:
    """The summary line, its wall seconds, seconds per file and per phase."""
    summary, wall = "no summary line", 0.0
    files: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if found := DURATION.match(line):
            seconds, phase, nodeid = float(found[1]), found[2], found[3]
            files[nodeid.split("::", 1)[0].split("@", 1)[0]] += seconds
            phases[phase] += seconds
        elif (found := SUMMARY.match(line)) and ("passed" in line or "failed" in line):
            summary, wall = found[1], float(found[2])
    return summary, wall, files, phases


def show(log: Path, top: int) -> Counter[str]:
    summary, wall, files, phases = read(log)
    print(f"{log}: {summary}")
    print(f"  wall {wall:.0f} s ({wall / 60:.1f} min)")
    total = sum(phases.values())
    print(
        f"  tests' durations summed {total:.0f} s (call {phases['call']:.0f}, setup "
        f"{phases['setup']:.0f}, teardown {phases['teardown']:.0f}) over {len(files)} files"
    )
    for name, seconds in files.most_common(top):
        print(f"  {seconds:8.1f} s  {name}")
    return files


def compare(before: Counter[str], after: Counter[str], top: int) -> None:
    print("per file, seconds: first log, second log, difference")
    names = sorted(set(before) | set(after), key=lambda n: -(before[n] - after[n]))
    for name in names[:top]:
        print(
            f"  {before[name]:8.1f} {after[name]:8.1f} {after[name] - before[name]:+8.1f}  {name}"
        )
    print(f"  {sum(before.values()):8.1f} {sum(after.values()):8.1f}  all files")


def run(log: Path, args: list[str]) -> Path:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--durations=0", *args]  # fmt: skip
    print("running:", " ".join(command), flush=True)
    load = os.getloadavg()
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    print(f"  exit {done.returncode}, {time.monotonic() - started:.0f} s in all (with start-up)")
    print(f"  load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", end="")
    after = os.getloadavg()
    print(f", after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; nproc {os.cpu_count()}")
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="*", type=Path, help="pytest output with --durations=0")
    parser.add_argument("--run", action="store_true", help="run the suite first")
    parser.add_argument("--log", type=Path, default=Path("suite-time.log"))
    parser.add_argument("--top", type=int, default=25)
    argv = sys.argv[1:]
    ours, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    logs = list(args.logs)
    if args.run:
        logs.append(run(args.log, pytest_args))
    if not logs:
        parser.error("give a log, or --run")
    files = [show(log, args.top) for log in logs]
    if len(files) == 2:
        compare(files[0], files[1], args.top)


if __name__ == "__main__":
    main()
