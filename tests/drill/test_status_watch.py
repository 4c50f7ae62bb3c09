"""Which incident answers which blow of a drill, and what the drill tells
the cluster it did (issue 13, item 7): the first incident about the blow's
region opened after it — not one that began long before — and the restore
that followed it; faults with their times as unix ms, measured figures only."""

from __future__ import annotations

from typing import Any

import httpx

from stormproof.drill.status_watch import StatusWatch
from stormproof.testing import LiveServer, free_port

URLS = {"us-east": "http://e", "us-central": "http://c", "us-west": "http://w"}


def _watch(now: float = 50.0) -> StatusWatch:
    watch = StatusWatch(URLS, lambda: now, set)
    watch.unix0 = 1_000.0  # drill time 0 is unix 1000 s
    return watch


def _item(incident_id: str, region: str, began_s: float, opened_s: float, status: str) -> Any:
    return {"id": incident_id, "regions": [region], "began_at": int(began_s * 1000),
            "opened_at": int(opened_s * 1000), "status": status}  # fmt: skip


TIMELINE = [
    {"kind": "power_restore", "region": "us-east", "actual_s": 23.0},
    {"kind": "grid_loss", "region": "us-east", "actual_s": 8.0},
    {"kind": "power_cut", "region": "us-east", "actual_s": 11.0},
    {"kind": "power_cut", "region": "us-west", "actual_s": 40.0, "planned_s": 40.0},
    {"kind": "thaw", "region": "us-central", "actual_s": None},
]


def test_each_blow_gets_the_first_incident_about_its_region_opened_after_it() -> None:
    watch = _watch()
    watch._note([
        _item("inc_old", "us-east", 900.0, 905.0, "resolved"),  # long before the drill
        _item("inc_cut", "us-east", 1_012.0, 1_017.5, "investigating"),
        _item("inc_other", "us-central", 1_012.0, 1_017.0, "investigating"),
    ])  # fmt: skip
    blows = watch._blows(TIMELINE)
    assert [(b["kind"], b["region"], b["incident"], b["restored_at_s"]) for b in blows] == [
        ("power_cut", "us-east", "inc_cut", 23.0),
        ("power_cut", "us-west", None, None),
    ]
    assert watch.seen["inc_cut"].first_seen_s == 50.0
    assert watch.seen["inc_cut"].resolved_seen_s is None
    watch._note([_item("inc_cut", "us-east", 1_012.0, 1_017.5, "resolved")])
    assert watch.seen["inc_cut"].resolved_seen_s == 50.0


async def test_with_no_operator_the_drill_reports_nothing() -> None:
    assert await _watch().report_drill("snowstorm", TIMELINE, {}) is None


async def test_a_region_coming_back_counts_again_once_its_page_answers(
    server: LiveServer,
) -> None:
    # A region restarting after its power came back is recovering, not a
    # survivor whose page failed; once it answered, a failure counts again.
    faulted = {"us-east"}
    watch = StatusWatch({"us-east": server.url}, lambda: 50.0, lambda: set(faulted))
    dead = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient(timeout=5.0) as http:
        await watch._poll(http, "us-east", dead)  # cut: not polled
        faulted.clear()
        await watch._poll(http, "us-east", dead)  # power back, not listening yet
        assert watch.pages["us-east"] == {"polls": 0, "ok": 0}
        await watch._poll(http, "us-east", server.url)  # it answers: a survivor again
        await watch._poll(http, "us-east", dead)  # and a failure now counts
    assert watch.pages["us-east"] == {"polls": 2, "ok": 1}
