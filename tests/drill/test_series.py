from __future__ import annotations

import pytest

from stormproof.drill.ops import KINDS, Op
from stormproof.drill.series import aggregate, kpi, longest_wait, ops_table, percentile

#: a hand-made history of a 4-second drill (3.5 s: the last second is partial)
HISTORY = [
    Op("feed", "alice", 0.1, 0.2, "ok"),
    Op("feed", "bob", 0.5, 1.2, "ok"),
    Op("feed", "alice", 1.0, 1.3, "failed", code="no_quorum"),
    Op("feed", "alice", 1.5, 2.5, "unknown"),
    Op("feed", "alice", 2.6, 2.8, "ok"),
    Op("like", "bob", 0.2, 0.25, "ok", key="v1"),
    Op("like", "carol", 3.4),  # still pending when the drill ended
    Op("message", "carol", 3.3, 4.5, "ok", key="hi", target="bob"),  # ends after the drill
]


def test_counts_attempts_by_start_second_and_outcomes_by_end_second() -> None:
    series = aggregate(HISTORY, 3.5)

    assert series.duration_s == 4
    assert list(series.kinds) == list(KINDS)
    feed = series.kinds["feed"]
    assert feed.attempted == [2, 2, 1, 0]
    assert feed.ok == [1, 1, 1, 0]
    assert feed.failed == [0, 1, 0, 0]
    assert feed.unknown == [0, 0, 1, 0]
    like = series.kinds["like"]
    assert (like.attempted, like.ok) == ([1, 0, 0, 1], [1, 0, 0, 0])
    message = series.kinds["message"]
    assert (message.attempted, message.ok) == ([0, 0, 0, 1], [0, 0, 0, 0])
    assert series.successes_per_s == [2, 1, 1, 0]
    assert series.success_ratio == [1.0, 0.5, 0.5, None]
    assert feed.success_rate() == [1.0, 0.5, 0.5, None]


def test_latency_percentiles_are_nearest_rank_over_every_op_that_ended() -> None:
    series = aggregate(HISTORY, 4)

    feed = series.kinds["feed"]
    # second 1 ended 0.7 s (ok) and 0.3 s (failed); second 2 1.0 s (unknown), 0.2 s
    assert feed.p50_ms == [100.0, 300.0, 200.0, None]
    assert feed.p99_ms == [100.0, 700.0, 1000.0, None]
    assert (series.totals["feed"].p50_ms, series.totals["feed"].p99_ms) == (300.0, 1000.0)
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 99) == 4.0
    assert percentile([], 50) is None


def test_totals_count_every_op_even_outside_the_seconds() -> None:
    table = ops_table(aggregate(HISTORY, 4))

    assert list(table) == list(KINDS)
    assert table["feed"] == {
        "attempted": 5, "ok": 3, "failed": 1, "unknown": 1,
        "p50_ms": 300.0, "p99_ms": 1000.0, "longest_wait_s": 1.8,
    }  # fmt: skip
    assert table["like"]["attempted"] == 2 and table["like"]["ok"] == 1
    assert table["message"]["ok"] == 1 and table["message"]["p50_ms"] == 1200.0
    assert table["upload"] == {
        "attempted": 0, "ok": 0, "failed": 0, "unknown": 0,
        "p50_ms": None, "p99_ms": None, "longest_wait_s": 0.0,
    }  # fmt: skip


def test_longest_wait_runs_from_the_first_failure_to_the_next_success() -> None:
    # alice failed at 1.0 s, timed out at 1.5 s and got her feed at 2.8 s:
    # she waited 1.8 s, longer than any one of her attempts took
    assert aggregate(HISTORY, 4).totals["feed"].longest_wait_s == 1.8


def test_longest_wait_is_per_person_not_broken_by_someone_elses_success() -> None:
    ops = [
        Op("comment", "ana", 0.0, 1.0, "failed"),
        Op("comment", "ben", 1.0, 1.1, "ok"),
        Op("comment", "ana", 4.0, 5.0, "ok"),
    ]
    assert aggregate(ops, 6).totals["comment"].longest_wait_s == 5.0


def test_longest_wait_of_failures_the_drill_ended_on_counts_what_was_seen() -> None:
    never = [Op("upload", "ana", 1.0, 2.0, "failed"), Op("upload", "ana", 3.0, 4.5, "unknown")]
    assert longest_wait(never) == 3.5


def test_longest_wait_is_at_least_the_slowest_single_op() -> None:
    ops = [Op("feed", "ana", 0.0, 6.0, "ok"), Op("feed", "ana", 7.0, 7.1, "failed")]
    assert longest_wait([*ops, Op("feed", "ana", 8.0, 8.5, "ok")]) == 6.0
    assert longest_wait([Op("feed", "ana", 1.0)]) == 0.0  # pending: no end yet


def _steady(per_second: dict[range, int]) -> list[Op]:
    return [
        Op("feed", f"p{i}", t + 0.1, t + 0.2, "ok")
        for seconds, count in per_second.items()
        for t in seconds
        for i in range(count)
    ]


def test_kpi_is_successes_per_second_in_the_faults_over_before() -> None:
    series = aggregate(_steady({range(10): 4, range(10, 15): 1, range(15, 20): 4}), 20)

    result = kpi(series, (0.0, 10.0), (10.0, 15.0))

    assert result["control_per_s"] == 4.0
    assert result["fault_window_per_s"] == 1.0
    assert result["ratio"] == 0.25
    assert (result["control_s"], result["fault_window_s"]) == ([0.0, 10.0], [10.0, 15.0])


def test_kpi_counts_only_whole_seconds_inside_a_window() -> None:
    series = aggregate(_steady({range(1): 8, range(1, 10): 4, range(10, 12): 2}), 12)

    result = kpi(series, (0.5, 10.0), (9.9, 12.5))

    assert result["control_per_s"] == 4.0  # second 0 is only half inside
    assert result["fault_window_per_s"] == 2.0  # seconds 10 and 11; 12 is past the end
    assert result["ratio"] == 0.5


def test_kpi_ratio_is_none_without_a_successful_control() -> None:
    series = aggregate(_steady({range(5, 10): 3}), 10)

    assert kpi(series, (0.0, 5.0), (5.0, 10.0))["ratio"] is None
    assert kpi(series, (0.0, 5.0), (5.2, 5.8))["fault_window_per_s"] is None


def test_aggregate_refuses_a_negative_duration() -> None:
    with pytest.raises(ValueError):
        aggregate([], -1)
    assert aggregate([], 0).successes_per_s == []
