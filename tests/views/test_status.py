"""The status view: probers' results kept by what they are about, each round
judged by majority — the same rows and verdicts in every region, whatever
order the probers' partitions arrive in (ADR 020)."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import Component, ProbeResult, ProbesRecorded, RegionSeen
from stormproof.log import Entry
from stormproof.status import read_page
from stormproof.views import all_views
from stormproof.views.status import Judged, judge
from stormproof.views.store import ViewStore
from tests.status.probes import PERIOD, entry, event, key, probes, round_at

EVERYONE = ("east", "north", "west")


def test_a_region_only_it_can_reach_is_down() -> None:
    # west is cut off: it sees itself fine and the others down; they see it down.
    results = [
        ("east", "west", "sign_in", False),
        ("north", "west", "sign_in", False),
        ("west", "west", "sign_in", True),
        ("west", "east", "sign_in", False),
        ("east", "east", "sign_in", True),
        ("north", "east", "sign_in", True),
    ]
    assert judge(EVERYONE, results) == [
        Judged("east", "sign_in", failing=False, against=1, voters=3),
        Judged("west", "sign_in", failing=True, against=2, voters=3),
    ]


def test_a_prober_without_a_result_for_a_region_counts_it_unreachable() -> None:
    # A frozen west reports nothing; east and north have no result for it
    # either (they gave up on it): it fails, judged by those who reported.
    results = [("east", "east", "sign_in", True), ("north", "west", "for_you", False)]
    verdicts = {(v.region, v.component): v for v in judge(("east", "north"), results)}
    assert verdicts["east", "sign_in"] == Judged("east", "sign_in", False, 1, 2)
    assert verdicts["west", "for_you"] == Judged("west", "for_you", True, 2, 2)


def test_a_prober_that_reached_a_region_but_did_not_check_a_component_abstains() -> None:
    # Uploads are probed less often: east checked them, north did not this round.
    results = [
        ("east", "west", "uploads", False),
        ("east", "west", "sign_in", True),
        ("north", "west", "sign_in", True),
    ]
    verdicts = {v.component: v for v in judge(("east", "north"), results)}
    assert verdicts["uploads"] == Judged("west", "uploads", True, 1, 1)
    assert verdicts["sign_in"] == Judged("west", "sign_in", False, 0, 2)


def test_a_region_nobody_reached_fails_what_was_checked_elsewhere() -> None:
    # Both probers name west (their health checks could not reach it) but
    # have no result for it; uploads were checked nowhere this round.
    results = [("east", "east", "sign_in", True), ("north", "east", "for_you", True)]
    verdicts = judge(("east", "north"), results, named=["east", "west"])
    assert [(v.region, v.component, v.failing) for v in verdicts] == [
        ("east", "for_you", False),
        ("east", "sign_in", False),
        ("west", "for_you", True),
        ("west", "sign_in", True),
    ]


def test_a_tie_is_not_a_majority() -> None:
    results = [("east", "west", "sign_in", False), ("west", "west", "sign_in", True)]
    assert judge(("east", "west"), results) == [Judged("west", "sign_in", False, 1, 2)]


def _store(path: Path, partitions: int = 1) -> ViewStore:
    return ViewStore(path, all_views(), partitions=partitions)


def _verdicts(store: ViewStore) -> list[tuple[object, ...]]:
    return store.reader().execute("SELECT * FROM probe_verdicts ORDER BY 3, 1, 2").fetchall()


def test_a_late_result_judges_its_round_again(tmp_path: Path) -> None:
    store = _store(tmp_path / "views.sqlite")
    # east and north see west down; west's own round comes last.
    rounds = [probes("east", 0, failing={"west"}), probes("north", 0, failing={"west"})]
    store.apply([entry(0, n + 1, p) for n, p in enumerate(rounds)])
    assert {row[0]: row[3:] for row in _verdicts(store)}["west"] == (1, 2, 2)
    store.apply([entry(0, 3, probes("west", 0, failing={"east", "north"}))])
    by_region = {row[0]: row[3:] for row in _verdicts(store)}
    assert by_region == {"east": (0, 1, 3), "north": (0, 1, 3), "west": (1, 2, 3)}


def test_a_round_said_twice_keeps_the_worse_whatever_came_first(tmp_path: Path) -> None:
    # Two events for one prober and round (not one write: two keys) say
    # different things: every region keeps the same rows.
    fine, failing = probes("east", 0), probes("east", 0, failing={"west"})
    seen = []
    for name, order in (("a", [fine, failing]), ("b", [failing, fine])):
        store = _store(tmp_path / f"{name}.sqlite")
        store.apply(
            [
                Entry(0, n + 1, f"{key(p)}:{n}", event(p).model_copy(update={"id": f"e{n}"}))
                for n, p in enumerate(order)
            ]
        )
        seen.append(store.digests()["views"]["status"])
        rows = store.reader().execute(
            "SELECT region, ok, reason FROM probe_results WHERE component = 'sign_in' ORDER BY 1"
        )
        assert rows.fetchall() == [("east", 1, ""), ("north", 1, ""), ("west", 0, "timeout")]
    assert seen[0] == seen[1]


# -- any order, any batching: the same rows, verdicts and states ------------------

COMPONENTS: tuple[Component, ...] = ("sign_in", "for_you")
#: what a prober saw of one component of one region: passed, failed, no result
outcomes = st.sampled_from([True, False, None])


@st.composite
def histories(draw: st.DrawFn) -> list[ProbesRecorded]:
    """Rounds of three probers, each seeing each region's components pass,
    fail or not at all; some probers miss some rounds (frozen)."""
    made = []
    for n in range(draw(st.integers(1, 6))):
        for prober in EVERYONE:
            if draw(st.integers(0, 9)) == 0:
                continue  # this prober reported nothing this round
            results = []
            for region in EVERYONE:
                for component in COMPONENTS:
                    ok = draw(outcomes)
                    if ok is not None:
                        results.append(
                            ProbeResult(region=region, component=component, ok=ok, latency_ms=9)
                        )
            named = draw(st.sets(st.sampled_from(EVERYONE)))
            made.append(
                ProbesRecorded(
                    prober=prober,
                    round_at=round_at(n),
                    period_ms=PERIOD,
                    results=tuple(results),
                    regions=tuple(RegionSeen(region=r, reachable=False) for r in sorted(named)),
                )
            )
    return made


def _spread(rounds: list[ProbesRecorded], rng: random.Random) -> list[list[Entry]]:
    """The rounds shuffled over 3 partitions (some twice, as a retry that went
    to another partition), the partitions interleaved in random batches."""
    order = list(rounds)
    rng.shuffle(order)
    partitions: list[list[Entry]] = [[], [], []]
    for p in order:
        for target in rng.sample(range(3), 2 if rng.random() < 0.2 else 1):
            part = partitions[target]
            part.append(entry(target, len(part) + 1, p))
    batches, cursors = [], [0, 0, 0]
    while any(c < len(part) for c, part in zip(cursors, partitions, strict=True)):
        p = rng.choice([i for i in range(3) if cursors[i] < len(partitions[i])])
        size = rng.randint(1, 4)
        batches.append(partitions[p][cursors[p] : cursors[p] + size])
        cursors[p] += size
    return batches


@settings(max_examples=40, deadline=None)
@given(rounds=histories(), seed=st.integers(0, 2**32))
def test_any_order_and_batching_gives_the_same_rows_verdicts_and_states(
    rounds: list[ProbesRecorded], seed: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        in_order = _store(Path(folder) / "in-order.sqlite")
        in_order.apply([entry(0, n + 1, p) for n, p in enumerate(rounds)])
        spread = _store(Path(folder) / "spread.sqlite", partitions=3)
        for batch in _spread(rounds, random.Random(seed)):
            spread.apply(batch)
            spread.apply(batch)  # re-delivery changes nothing
        expected = in_order.digests()["views"]
        assert spread.digests()["views"] == expected
        for guard in ((3, 2), (1, 1), (2, 3)):
            pages = [
                read_page(store.reader(), fail_rounds=guard[0], pass_rounds=guard[1])
                for store in (in_order, spread)
            ]
            assert pages[0] == pages[1]
