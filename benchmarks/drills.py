"""Every built-in drill scenario, full length, one after another: the figures
``docs/benchmarks.md`` quotes, from each drill's own report.

Runs ``stormproof drill NAME`` for each scenario (or those named), each with
its report in ``OUT/NAME/``, then prints one row per scenario: the verdict,
how long the whole drill took, the user-facing KPI (successful actions per
second in the fault window over the control before it), acknowledged writes
lost / duplicated and unanswered ones found / absent, convergence, the longest
any one person waited for a write and for a read (feed, playback), For You
continuity against the cold-start contrast, seconds to recovery, and the CPU
the simulated people used. ``--png`` copies the first scenario's plots there
(the README's picture).

Usage: .venv/bin/python benchmarks/drills.py [NAME ...] [--out DIR] [--png docs/drill-report.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stormproof.drill.ops import WRITE_KINDS
from stormproof.drill.scenario import builtin_scenarios

READS = ("feed", "playback")


def row(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    ops, writes, for_you = report["ops"], report["writes"], report["for_you"]
    waits = {kind: ops[kind]["longest_wait_s"] or 0.0 for kind in ops if ops[kind]["attempted"]}
    recovered = [r["seconds"] for r in report["recovery_s"] if r.get("seconds") is not None]
    return {
        "scenario": report["scenario"],
        "verdict": report["verdict"],
        "drill_s": round(seconds),
        "kpi_ratio": report["kpi"]["ratio"],
        "acknowledged": writes["acknowledged"],
        "lost": writes["lost"],
        "duplicated": writes["duplicated"],
        "unknown_found": writes["unknown_found"],
        "unknown_absent": writes["unknown_absent"],
        "converged": report["converged"],
        "write_wait_s": max((waits[k] for k in waits if k in WRITE_KINDS), default=None),
        "read_wait_s": max((waits[k] for k in waits if k in READS), default=None),
        "delivery_wait_s": waits.get("delivery"),
        "continuity": for_you.get("continuity_overlap_at_20"),
        "cold_start": for_you.get("cold_start_overlap_at_20"),
        "relevance": (for_you.get("relevance_before"), for_you.get("relevance_during")),
        "recovery_s": recovered,
        "load_cpu": report["load_cpu"]["share_of_one_core"],
        "refused": report.get("refused_codes", {}),
        "reasons": report["reasons"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", default=[s.name for s in builtin_scenarios()])
    parser.add_argument("--out", type=Path, default=Path("drill-reports"))
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.names:
        out = args.out / name
        shutil.rmtree(out, ignore_errors=True)  # never a stale report
        started = time.monotonic()
        command = [sys.executable, "-m", "stormproof.cli", "drill", name, "--out", str(out)]
        done = subprocess.run([*command, *(["--quick"] if args.quick else [])], check=False)
        seconds = time.monotonic() - started
        if not (out / "report.json").exists():
            print(f"{name}: no report (exit {done.returncode})", flush=True)
            continue
        report = json.loads((out / "report.json").read_text())
        rows.append(row(report, seconds))
        print(json.dumps(rows[-1]), flush=True)
        if args.png and len(rows) == 1:
            shutil.copy(out / "plots.png", args.png)
    print()
    head = f"{'scenario':<16} {'verdict':<21} {'drill':>5} {'KPI':>5} {'acked':>5} "
    head += f"{'lost':>4} {'dup':>3} {'unk+':>4} {'unk-':>4} {'conv':>4} {'w.wait':>6} "
    head += f"{'r.wait':>6} {'cont.':>5} {'cold':>5} {'recovery':>12} {'cpu':>5}"
    print(head)
    for r in rows:
        recovery = ",".join(f"{s:.1f}" for s in r["recovery_s"]) or "-"
        print(
            f"{r['scenario']:<16} {r['verdict']:<21} {r['drill_s']:>4}s {num(r['kpi_ratio']):>5} "
            f"{r['acknowledged']:>5} {r['lost']:>4} {r['duplicated']:>3} "
            f"{r['unknown_found']:>4} {r['unknown_absent']:>4} {str(r['converged'])[0]:>4} "
            f"{num(r['write_wait_s']):>6} {num(r['read_wait_s']):>6} {num(r['continuity']):>5} "
            f"{num(r['cold_start']):>5} {recovery:>12} {num(r['load_cpu']):>5}"
        )


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
