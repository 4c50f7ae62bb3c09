"""Uptime by day in the status view: each day's figures are the sum over its
rounds' current verdicts, whatever order the results came in (ADR 023)."""

from __future__ import annotations

import random
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import ProbesRecorded
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from stormproof.views.uptime import DAY_MS, OVERALL
from tests.status.probes import PERIOD, T0, entry, probes
from tests.views.test_status import _spread, histories

PROBERS = ("east", "north", "west")
DAY = T0 // DAY_MS


def _store(path: Path, partitions: int = 1) -> ViewStore:
    return ViewStore(path, all_views(), partitions=partitions)


def _in_order(rounds: list[ProbesRecorded]) -> list[Entry]:
    return [entry(0, n + 1, p) for n, p in enumerate(rounds)]


def _days(store: ViewStore) -> dict[tuple[str, str, int], tuple[int, int, int, int]]:
    rows = store.reader().execute("SELECT * FROM uptime_days").fetchall()
    return {(c, r, day): tuple(counts) for c, r, day, *counts in rows}


def test_a_day_with_failing_rounds_counts_their_time_down(tmp_path: Path) -> None:
    # Ten rounds; west fails rounds 2, 3 and 4; every region fails round 7.
    rounds = []
    for n in range(10):
        failing = {"west"} if n in (2, 3, 4) else set(PROBERS) if n == 7 else set()
        rounds += [probes(p, n, failing=failing) for p in PROBERS]
    store = _store(tmp_path / "views.sqlite")
    store.apply(_in_order(rounds))
    days = _days(store)
    judged = 10 * PERIOD
    assert days["sign_in", "west", DAY] == (10, judged, 4 * PERIOD, 0)
    assert days["sign_in", "east", DAY] == (10, judged, 1 * PERIOD, 0)
    # overall: down everywhere in round 7, in some region in rounds 2-4
    assert days["sign_in", OVERALL, DAY] == (10, judged, 1 * PERIOD, 3 * PERIOD)
    assert days["for_you", OVERALL, DAY] == days["sign_in", OVERALL, DAY]
    assert len(days) == 2 * 4  # two components, three regions and overall, one day


def test_rounds_count_in_their_own_utc_day(tmp_path: Path) -> None:
    last_of_day = (DAY + 1) * DAY_MS - PERIOD  # 23:59:50
    n_last = (last_of_day - T0) // PERIOD
    rounds = [probes(p, n, failing={"west"}) for n in (n_last, n_last + 1) for p in PROBERS]
    store = _store(tmp_path / "views.sqlite")
    store.apply(_in_order(rounds))
    days = _days(store)
    assert days["sign_in", "west", DAY] == (1, PERIOD, PERIOD, 0)
    assert days["sign_in", "west", DAY + 1] == (1, PERIOD, PERIOD, 0)


def test_a_round_stands_for_the_shortest_period_reported(tmp_path: Path) -> None:
    # east probes every 10 s, north every 20 s: round 0 is both's, round 1 east's.
    slow = probes("north", 0, failing={"west"}).model_copy(update={"period_ms": 2 * PERIOD})
    rounds = [slow, probes("east", 0, failing={"west"}), probes("east", 1)]
    store = _store(tmp_path / "views.sqlite")
    store.apply(_in_order(rounds[:1]))
    assert _days(store)["sign_in", "west", DAY] == (1, 2 * PERIOD, 2 * PERIOD, 0)
    store.apply([entry(0, 2, rounds[1]), entry(0, 3, rounds[2])])
    # round 0 now counts 10 s, not 20 s; round 1 adds 10 s up
    assert _days(store)["sign_in", "west", DAY] == (2, 2 * PERIOD, PERIOD, 0)


def test_a_late_result_that_flips_a_round_moves_its_day_the_same_way_in_any_order(
    tmp_path: Path,
) -> None:
    # east alone sees west fail round 0 (1 of 1: failing); north's result,
    # late, sees it pass (1 of 2 is a tie: passing). Rounds 1-2 pass.
    east = probes("east", 0, failing={"west"}, regions=("east", "west"))
    north = probes("north", 0, regions=("east", "west"))
    later = [probes(p, n, regions=("east", "west")) for n in (1, 2) for p in ("east", "north")]
    first = _store(tmp_path / "first.sqlite")
    first.apply(_in_order([east, *later]))
    assert _days(first)["sign_in", "west", DAY] == (3, 3 * PERIOD, PERIOD, 0)
    first.apply([entry(0, 6, north)])
    assert _days(first)["sign_in", "west", DAY] == (3, 3 * PERIOD, 0, 0)
    assert _days(first)["sign_in", OVERALL, DAY] == (3, 3 * PERIOD, 0, 0)
    other = _store(tmp_path / "other.sqlite")
    other.apply(_in_order([north, *later[::-1], east]))
    assert _days(other) == _days(first)
    assert other.digests()["views"]["status"] == first.digests()["views"]["status"]


def _recounted(store: ViewStore) -> dict[tuple[str, str, int], tuple[int, int, int, int]]:
    """The days counted afresh from the stored verdicts, as ADR 023 defines them."""
    db = store.reader()
    weight = dict(db.execute("SELECT round_at, MIN(period_ms) FROM probe_rounds GROUP BY 1"))
    by_round: dict[tuple[int, str], list[bool]] = defaultdict(list)
    counted: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for region, component, at, failing in db.execute(
        "SELECT region, component, round_at, failing FROM probe_verdicts"
    ):
        row = counted[component, region, at // DAY_MS]
        row[0], row[1] = row[0] + 1, row[1] + weight[at]
        row[2] += weight[at] if failing else 0
        by_round[at, component].append(bool(failing))
    for (at, component), outcomes in by_round.items():
        row = counted[component, OVERALL, at // DAY_MS]
        row[0], row[1] = row[0] + 1, row[1] + weight[at]
        row[2] += weight[at] if all(outcomes) else 0
        row[3] += weight[at] if any(outcomes) and not all(outcomes) else 0
    return {key: (a, b, c, d) for key, (a, b, c, d) in counted.items()}


@settings(max_examples=30, deadline=None)
@given(rounds=histories(), seed=st.integers(0, 2**32))
def test_any_order_gives_the_days_counted_afresh_from_the_verdicts(
    rounds: list[ProbesRecorded], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spread = _store(Path(folder) / "spread.sqlite", partitions=3)
        for batch in _spread(rounds, random.Random(seed)):
            spread.apply(batch)
        assert _days(spread) == _recounted(spread)
        in_order = _store(Path(folder) / "in-order.sqlite")
        in_order.apply(_in_order(rounds))
        assert _days(in_order) == _days(spread)
