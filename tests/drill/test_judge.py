"""The drill's judgement, without a cluster: windows, continuity, the
verdict; and deliveries counted in either order."""

from __future__ import annotations

from typing import Any

import pytest

from stormproof.drill.judge import CONTINUITY_BAR, continuity, verdict, windows
from stormproof.drill.ops import Op
from stormproof.drill.people import Deliveries, Recorder
from stormproof.drill.scenario import load_scenario


def test_the_control_ends_at_the_first_fault_and_the_fault_window_at_the_last() -> None:
    snowstorm = load_scenario("snowstorm")  # on UPS at 20, cut at 30, back at 70
    control, faults = windows(snowstorm, 100.0)
    assert control == (3.0, 20.0) and faults == (20.0, 70.0)


def test_a_run_cut_short_judges_only_the_seconds_it_ran() -> None:
    control, faults = windows(load_scenario("snowstorm"), 45.0)
    assert control == (3.0, 20.0) and faults == (20.0, 45.0)
    control, faults = windows(load_scenario("snowstorm"), 12.0)  # before the first fault
    assert faults[0] <= faults[1] == 12.0


def test_continuity_compares_each_page_with_itself_and_with_a_newcomer() -> None:
    page = [f"v{i}" for i in range(20)]
    before = {"s1": page, "s2": page, "newcomer": [f"v{i}" for i in range(15, 35)]}
    after = {"s1": page, "s2": [*page[:18], "x", "y"]}
    found = continuity(before, after, {"s1": ("cats",), "s2": ("cats",), "s3": ("cats",)})
    assert found["samples"] == 2  # s3 had no page before: left out, not counted as 0
    assert found["continuity_overlap_at_20"] == pytest.approx((1.0 + 0.9) / 2)
    assert found["cold_start_overlap_at_20"] == pytest.approx(5 / 20)
    assert continuity({}, after, {"s1": ("cats",)}) == {"samples": 0}


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "timeline": [{"label": "us-east: power cut", "actual_s": 30.0}],
        "writes": {"lost": 0, "duplicated": 0},
        "converged": True,
        "left_out": {},
        "for_you": {"continuity_overlap_at_20": 0.97},
        "recovery_s": [{"region": "us-east", "seconds": 9.0}],
        "kpi": {"ratio": 1.0},
    }
    return {**report, **changes}


def test_the_verdict_passes_only_a_kept_promise() -> None:
    snowstorm = load_scenario("snowstorm")
    assert verdict(snowstorm, _report(), "")[0] == "passed"
    broken = [
        _report(writes={"lost": 1, "duplicated": 0}),
        _report(writes={"lost": 0, "duplicated": 2}),
        _report(converged=False, left_out={"us-east": "down"}),
        _report(for_you={"continuity_overlap_at_20": CONTINUITY_BAR - 0.01}),
        _report(recovery_s=[{"region": "us-east", "seconds": None, "error": "died"}]),
        _report(timeline=[{"label": "us-east: power cut", "actual_s": 30.0, "error": "x"}]),
    ]
    for report in broken:
        assert verdict(snowstorm, report, "")[0] == "failed", report


def test_a_kpi_below_target_is_named_but_a_restore_cut_short_is_no_failure() -> None:
    snowstorm = load_scenario("snowstorm")
    judged, reasons = verdict(snowstorm, _report(kpi={"ratio": 0.5}), "")
    assert judged == "passed" and any("KPI" in r for r in reasons)
    flapping = _report(recovery_s=[{"region": "us-east", "seconds": None, "interrupted": True}])
    assert verdict(load_scenario("flapping"), flapping, "")[0] == "passed"


def test_a_lost_write_outranks_an_abort_and_a_majority_out_is_degraded() -> None:
    lost = _report(writes={"lost": 1, "duplicated": 0})
    judged, reasons = verdict(load_scenario("snowstorm"), lost, "interrupted at 9 s (Ctrl-C)")
    assert judged == "failed" and reasons[0].startswith("interrupted")
    assert verdict(load_scenario("snowstorm"), _report(), "aborted at 9 s")[0] == "aborted"
    assert verdict(load_scenario("two_regions"), _report(), "")[0] == "degraded as designed"


def test_a_delivery_counts_whether_the_stream_or_the_ack_came_first() -> None:
    recorder = Recorder()
    deliveries = Deliveries(recorder)
    deliveries.expect(Op("delivery", "bob", 0.0, key="first"))
    deliveries.arrived("first", "us-east")
    deliveries.arrived("second", "us-west")  # on the stream before its sender's ack
    deliveries.expect(Op("delivery", "bob", 0.0, key="second"))
    assert [(op.key, op.outcome, op.region) for op in recorder.ops] == [
        ("first", "ok", "us-east"),
        ("second", "ok", "us-west"),
    ]
    assert not deliveries.waiting
