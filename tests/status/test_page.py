"""The status page read from the status view: states over long histories,
found with indexed lookups only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stormproof.status import read_page
from stormproof.status.page import WINDOW, Page, RegionStatus
from stormproof.views import all_views
from stormproof.views.status import Seen
from stormproof.views.store import ViewStore
from tests.status.probes import entry, probes, round_at

PROBERS = ("east", "north", "west")


def _store(path: Path, history: str, region: str = "west") -> ViewStore:
    """A store where every prober saw ``region`` as ``history`` says, round
    by round ('F' failing, 'P' passing) and every other region pass."""
    store = ViewStore(path, all_views())
    entries = []
    for n, mark in enumerate(history):
        for prober in PROBERS:
            failing = {region} if mark == "F" else set()
            entries.append(entry(0, len(entries) + 1, probes(prober, n, failing=failing)))
    store.apply(entries)
    return store


def _page(store: ViewStore) -> Page:
    return read_page(store.reader(), fail_rounds=3, pass_rounds=2)


def _west(page: Page, component: str = "sign_in") -> RegionStatus:
    [found] = [
        r for c in page.components if c.component == component for r in c.regions
        if r.region == "west"
    ]  # fmt: skip
    return found


def test_an_empty_view_reads_operational_with_nothing_judged(tmp_path: Path) -> None:
    page = _page(ViewStore(tmp_path / "views.sqlite", all_views()))
    assert page == Page(state="operational", newest_round_at=None, components=[], probers=[])


def test_the_page_holds_every_component_region_and_prober(tmp_path: Path) -> None:
    page = _page(_store(tmp_path / "views.sqlite", "PPFFF"))
    assert page.state == "partial_outage" and page.newest_round_at == round_at(4)
    assert [c.component for c in page.components] == ["sign_in", "for_you"]  # COMPONENTS' order
    sign_in = page.components[0]
    assert (sign_in.state, sign_in.since) == ("partial_outage", round_at(2))
    assert [(r.region, r.state) for r in sign_in.regions] == [
        ("east", "operational"),
        ("north", "operational"),
        ("west", "major_outage"),
    ]
    assert _west(page) == RegionStatus(
        region="west",
        state="major_outage",
        since=round_at(2),
        last_round_at=round_at(4),
        failing_probers=3,
        probers=3,
    )
    assert [(p.prober, p.round_at) for p in page.probers] == [(n, round_at(4)) for n in PROBERS]
    assert page.probers[0].regions[2] == Seen("west", False, False, None, None)


def test_an_outage_longer_than_the_window_is_dated_from_its_start(tmp_path: Path) -> None:
    store = _store(tmp_path / "views.sqlite", "PP" + "F" * (WINDOW + 5))
    assert (_west(_page(store)).state, _west(_page(store)).since) == ("major_outage", round_at(2))


def test_operational_for_longer_than_the_window_is_dated_from_the_recovery(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path / "views.sqlite", "FFF" + "P" * (WINDOW + 5))
    assert (_west(_page(store)).state, _west(_page(store)).since) == ("operational", round_at(3))
    store = _store(tmp_path / "always.sqlite", "P" * (WINDOW + 5))
    assert (_west(_page(store)).state, _west(_page(store)).since) == ("operational", round_at(0))


def test_a_run_that_began_before_the_window_counts_whole(tmp_path: Path) -> None:
    # Down for good (three failing rounds), then flapping for a whole window:
    # the window itself begins inside the run that set the guard.
    flapping = "PF" * (WINDOW // 2)
    store = _store(tmp_path / "views.sqlite", "PPFFF" + flapping[1:])
    assert (_west(_page(store)).state, _west(_page(store)).since) == ("major_outage", round_at(2))


def test_the_page_is_read_with_indexed_lookups_only(tmp_path: Path) -> None:
    store = _store(tmp_path / "views.sqlite", "P" * (WINDOW + 3) + "FPF")
    db = store.reader()
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        _page(store)
    finally:
        db.set_trace_callback(None)
    plain = sqlite3.connect(store.path)
    scans = set()
    for statement in statements:
        for row in plain.execute(f"EXPLAIN QUERY PLAN {statement}"):
            detail = row[3]
            # the lists of probers and of judged (region, component) pairs
            # are read whole (a row each), and a count LIMITed in a subquery
            read_whole = ("probers", "probed", "(subquery-1)")
            if detail.startswith("SCAN") and detail.split()[1] not in read_whole:
                scans.add(detail)
    assert not scans and len(statements) > 10
