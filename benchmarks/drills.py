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

The worst second's p99 of writes and of reads is shown before the first
fault (the control) and during the faults: a tail that is there before any
fault is the machine's, not the failover's.

Usage: .venv/bin/python benchmarks/drills.py [NAME ...] [--out DIR] [--png docs/drill-report.png]
       .venv/bin/python benchmarks/drills.py --out DIR --reports   (the table again, from DIR)
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


def worst_p99(report: dict[str, Any], kinds: tuple[str, ...], window: list[float]) -> float:
    """The worst per-second p99 (ms) of ``kinds`` in the seconds of ``window``."""
    start, end = int(window[0]), int(window[1])
    found = [
        p99
        for kind, per_second in report["series"]["kinds"].items()
        if kind in kinds
        for p99 in per_second["p99_ms"][start:end]
        if p99 is not None
    ]
    return max(found, default=0.0)


def incidents(status: dict[str, Any]) -> dict[str, Any]:
    """Each power cut's incident: probe rounds from the cut to its opening
    (issue 13's target: within 3), and whether the status page answered from
    every surviving region throughout."""
    period = status.get("probe_every_s") or 0
    cuts = [b for b in status.get("blows") or [] if b.get("kind") == "power_cut"]
    opened = [b.get("opened_after_s") for b in cuts]
    return {
        "cuts": len(cuts),
        "incident_rounds": [None if s is None else round(s / period, 1) for s in opened]
        if period
        else [],
        "page_up": status.get("page_reachable_throughout"),
    }


def row(report: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    ops, writes, for_you = report["ops"], report["writes"], report["for_you"]
    control, faults = report["kpi"]["control_s"], report["kpi"]["fault_window_s"]
    waits = {kind: ops[kind]["longest_wait_s"] or 0.0 for kind in ops if ops[kind]["attempted"]}
    recovered = [r["seconds"] for r in report["recovery_s"] if r.get("seconds") is not None]
    return {
        "scenario": report["scenario"],
        "verdict": report["verdict"],
        "drill_s": None if seconds is None else round(seconds),
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
        # the worst second's p99, before the first fault and during the faults
        "write_p99_ms": (
            worst_p99(report, WRITE_KINDS, control),
            worst_p99(report, WRITE_KINDS, faults),
        ),
        "read_p99_ms": tuple(worst_p99(report, READS, w) for w in (control, faults)),
        "continuity": for_you.get("continuity_overlap_at_20"),
        "cold_start": for_you.get("cold_start_overlap_at_20"),
        "relevance": (for_you.get("relevance_before"), for_you.get("relevance_during")),
        "recovery_s": recovered,
        **incidents(report.get("status") or {}),
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
    parser.add_argument(
        "--reports", action="store_true", help="only read the reports already in OUT again"
    )
    args = parser.parse_args()
    rows = []
    for name in args.names:
        if args.reports:
            if (args.out / name / "report.json").exists():
                rows.append(row(json.loads((args.out / name / "report.json").read_text()), None))
                print(json.dumps(rows[-1]), flush=True)
            continue
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
    head += f"{'r.wait':>6} {'w.p99 ctl/flt':>13} {'r.p99 ctl/flt':>13} {'cont.':>5} {'cold':>5} "
    head += f"{'recovery':>12} {'cpu':>5} {'incident (rounds)':>17} {'page':>4}"
    print(head)
    for r in rows:
        recovery = ",".join(f"{s:.1f}" for s in r["recovery_s"]) or "-"
        print(
            f"{r['scenario']:<16} {r['verdict']:<21} {r['drill_s'] or '-':>4}s "
            f"{num(r['kpi_ratio']):>5} "
            f"{r['acknowledged']:>5} {r['lost']:>4} {r['duplicated']:>3} "
            f"{r['unknown_found']:>4} {r['unknown_absent']:>4} {str(r['converged'])[0]:>4} "
            f"{num(r['write_wait_s']):>6} {num(r['read_wait_s']):>6} "
            f"{pair(r['write_p99_ms']):>13} {pair(r['read_p99_ms']):>13} {num(r['continuity']):>5} "
            f"{num(r['cold_start']):>5} {recovery:>12} {num(r['load_cpu']):>5} "
            f"{rounds(r['incident_rounds']):>17} {str(r['page_up'])[0]:>4}"
        )


def rounds(values: list[float | None]) -> str:
    """Rounds to each cut's incident; "never" for a cut no incident followed."""
    return ",".join("never" if v is None else f"{v:.1f}" for v in values) or "-"


def pair(values: tuple[float, ...]) -> str:
    return f"{values[0]:.0f}/{values[1]:.0f}"


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
