"""A realistic drill report, built the way the runner builds one: from a
history of ops, through :func:`aggregate`, :func:`ops_table` and :func:`kpi`."""

from __future__ import annotations

from typing import Any

from stormproof.drill.ops import Op
from stormproof.drill.series import Series, aggregate, kpi, ops_table

DURATION_S = 40
#: the power cut in eu holds from 20 s to 30 s
FAULT = (20.0, 30.0)
SCENARIO_TEXT = """\
name = "eu-power-cut"
description = "cut <b>eu</b> & see"

[[fault]]
kind = "power_cut"
region = "eu"
at_s = 20
for_s = 10
"""


def drill_ops() -> list[Op]:
    """Three people: a feed each second, a like every five; everything
    slows during the cut, and ana's feed from eu times out (2.5 s) at 20 s:
    her next try, at 23 s, is served from us."""
    ops = []
    for second in range(DURATION_S):
        for n, person in enumerate(("ana", "ben", "cy")):
            start = second + 0.1 * n
            slower = 0.2 if FAULT[0] <= second < FAULT[1] else 0.0
            if person == "ana" and second == FAULT[0]:
                ops.append(Op("feed", person, start, start + 2.5, "unknown", "eu"))
            elif not (person == "ana" and FAULT[0] < second < FAULT[0] + 3):
                latency = 0.02 + 0.01 * n + slower
                ops.append(Op("feed", person, start, start + latency, "ok", "us"))
            if second % 5 == n:
                ops.append(Op("like", person, start + 0.5, start + 0.55, "ok", "us", key="v1"))
    ops.append(Op("message", "ben", 39.5, 40.2, "ok", "us", key="hello", target="cy"))
    return ops


def drill_report(series: Series | None = None) -> dict[str, Any]:
    series = series or aggregate(drill_ops(), DURATION_S)
    return {
        "scenario": "eu-power-cut",
        "scenario_text": SCENARIO_TEXT,
        "description": "Cut the power to <b>eu</b> & watch what people see.",
        "seed": 7,
        "duration_s": DURATION_S,
        "quick": True,
        "version": "0.1.0",
        "started_at": "2026-11-30T15:00:00+00:00",
        "timeline": [
            {"kind": "power_cut", "region": "eu", "label": "cut eu", "planned_s": 20.0,
             "actual_s": 20.04},
            {"kind": "partition", "region": "ap", "label": "cut ap off", "planned_s": 35.0,
             "actual_s": None},
        ],
        "intervals": [
            {"start_s": 20.04, "end_s": 30.1, "region": "eu", "kind": "power_cut",
             "label": "cut eu"},
        ],
        "ops": ops_table(series),
        "kpi": kpi(series, (5.0, FAULT[0]), FAULT),
        "writes": {
            "acknowledged": 24, "lost": 0, "duplicated": 0, "unknown_found": 1,
            "unknown_absent": 0,
            "per_region": {
                "eu": {"acknowledged": 24, "lost": 0}, "us": {"acknowledged": 24, "lost": 0},
            },
            "details": ["like v1 by ana: unknown, found in every region"],
        },
        "converged": True,
        "region_digests": {
            "eu": {"feeds": "ab12", "likes": "cd34"}, "us": {"feeds": "ab12", "likes": "cd34"},
        },
        "recovery_s": [
            {"region": "eu", "disks_lost": 0, "seconds": 8.5,
             "split": {"start": 1.5, "engine": 0.5, "views": 6.5}},
        ],
        "for_you": {
            "continuity_overlap_at_20": 0.85, "cold_start_overlap_at_20": 0.1,
            "relevance_before": 0.31, "relevance_during": 0.29,
        },
        "status": {
            "probe_every_s": 2.0, "incident_quiet_s": 4.0,
            "page_reachable_throughout": True,
            "page_polls": {"eu": {"polls": 20, "ok": 20}, "us": {"polls": 40, "ok": 40}},
            "page_failures": [], "drill_id": "drl_1",
            "blows": [
                {"kind": "power_cut", "region": "eu", "at_s": 20.04, "restored_at_s": 30.1,
                 "incident": "inc_1", "title": "Sign-in down in <b>eu</b>",
                 "opened_after_s": 6.5, "seen_after_s": 7.0, "resolved_after_restore_s": 12.2,
                 "resolved_seen_after_restore_s": 12.9,
                 "updates": [
                     {"at_s": 26.5, "status": "investigating", "automatic": True,
                      "text": "Sign-in stopped <i>working</i>", "figures": None},
                     {"at_s": 42.3, "status": "resolved", "automatic": True,
                      "text": "Resolved", "figures": None},
                 ],
                 "postmortem": {"path": "out/postmortem-inc_1.md",
                                "url": "/status/incidents/inc_1/postmortem",
                                "writes_lost": 0, "timeline": ["drill_power_cut", "resolved"],
                                "creators": [
                                    {"creator_id": "u_ann", "upload_minutes_down": 2,
                                     "expected_qualified_views": None,
                                     "lost_qualified_views": None, "lost_earnings_micros": None,
                                     "period_minutes": 10, "credit_percent": 100,
                                     "credit_micros": 1500},
                                ]}},
            ],
        },
        "proxy_overhead": {"p50_ms": 0.2, "p99_ms": 1.1},
        "load_cpu": {"cpu_s": 12.5, "share_of_one_core": 0.31},
        "verdict": "degraded as designed",
        "reasons": ["feeds slowed during the cut, as designed", "no acknowledged write was lost"],
        "series_extra": {
            "relevance": [None if 20 <= t < 22 else 0.3 for t in range(DURATION_S)],
        },
    }  # fmt: skip
