"""Where a command's CPU goes, by kind of process: every descendant is sampled.

    python benchmarks/suite_cpu.py -- scripts/test tests/test_cluster.py

runs the command and samples ``/proc`` every ``--interval`` seconds: each
process below it, its kind (``pytest``, ``stormproof cluster region``,
``nats-server``, ``chromium``, …) and its own CPU seconds at its last sample.
A process that lived less than one interval is missed, and one's CPU after
its last sample too (a SIGKILLed region's last fraction of a second), so the
figures are a floor. Prints CPU seconds per kind and how many processes of
each kind ran, then the wall time: the suite is CPU-bound when the sum is
near twice the wall time on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, own CPU seconds) of ``pid``, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def kind(pid: int) -> str:
    """A short name for what ``pid`` runs, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return "?"
    program = Path(words[0]).name
    if program.startswith("python"):
        rest = words[1:]
        while rest and rest[0] in ("-B", "-u", "-I", "-X"):
            rest = rest[1:]
        if rest[:1] == ["-m"] and len(rest) > 1:
            module = rest[1]
            if module == "stormproof.cli":
                command = [w for w in rest[2:4] if not w.startswith("-")]
                return " ".join(["stormproof", *command])
            return module
        if rest[:1] == ["-c"]:
            return "python -c " + rest[1][:40] if len(rest) > 1 else "python -c"
        if rest:
            return Path(rest[0]).name
        return "python"
    if program in ("chromium", "chrome", "headless_shell"):
        return "chromium"
    return program


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    started = time.monotonic()
    root = subprocess.Popen(command)
    last: dict[int, tuple[str, float]] = {}
    while root.poll() is None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (seen := stat(int(entry))) is not None:
                parents[int(entry)], cpu[int(entry)] = seen
        below = {root.pid}
        for pid in sorted(parents):  # parents are mostly older, lower pids
            chain, p = [], pid
            while p not in below and p in parents and p > 1:
                chain.append(p)
                p = parents[p]
            if p in below:
                below.update(chain)
        for pid in below:
            if pid in cpu:
                name = last[pid][0] if pid in last else kind(pid)
                last[pid] = (name, cpu[pid])
        time.sleep(args.interval)
    wall = time.monotonic() - started
    by_kind: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for name, seconds in last.values():
        by_kind[name] += seconds
        count[name] += 1
    total = sum(by_kind.values())
    print(f"{'CPU s':>9}  {'procs':>5}  kind")
    for name, seconds in sorted(by_kind.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{seconds:9.1f}  {count[name]:5d}  {name}")
    print(f"{total:9.1f}  {len(last):5d}  all ({len(by_kind)} kinds)")
    print(f"wall {wall:.1f} s; CPU / wall = {total / wall:.2f} (2 cores: at most 2)")
    return root.returncode


if __name__ == "__main__":
    sys.exit(main())
