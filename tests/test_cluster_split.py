"""Where a restore's seconds went: the split the drill's report shows."""

from __future__ import annotations

from stormproof.cluster import recovery_split


def test_each_phase_lasts_until_the_next_one_seen_and_the_last_until_ready() -> None:
    health = {
        "ready": True,
        "timeline": {"answered": 1.2, "snapshot": 1.2, "engine": 9.0, "views": 9.5, "ready": 12.0},
        "restored": {"peer": "http://127.0.0.1:8001", "download_s": 3.0, "verify_s": 4.25},
    }
    assert recovery_split(health) == {
        "start": 1.2,
        "snapshot": 7.8,
        "engine": 0.5,
        "views": 2.5,
        "download": 3.0,
        "verify": 4.25,
    }


def test_a_region_ready_at_its_first_answer_took_only_its_start() -> None:
    health = {"ready": True, "timeline": {"answered": 2.0, "ready": 2.0}}
    assert recovery_split(health) == {"start": 2.0}
    assert recovery_split({"ready": True}) == {}
