"""The creator SLA on a real 3-region cluster (issue 15): a region's power is
cut while a creator uploads; her attempt at it gets no answer, her retry at
a survivor is acknowledged late, and the outage's postmortem — the same in
every region — lists her, and only her, with the minute it cost her, the
tier and the credit; an operator's adjustment retried at another survivor
posts once, and every region's ledger balances to the sum of its entries
(ADR 031)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from stormproof.cluster import LocalCluster
from stormproof.creators.sla import DEFAULT_TIERS, credit_percent
from stormproof.testing import free_base_port
from tests.conftest import sign_up, upload
from tests.status.test_incidents_cluster import _all_clear, _get_as, _wait


def _id(url: str, auth: dict[str, str]) -> str:
    found: str = httpx.get(url + "/v1/studio/overview", headers=auth, timeout=10).json()[
        "creator_id"
    ]
    return found


def test_a_power_cut_during_a_creators_upload_credits_her_and_nobody_else(
    tmp_path: Path, video_file: Path
) -> None:
    cluster = LocalCluster.create(tmp_path / "cluster", 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_PROBE_EVERY_S": "1",
            "STORMPROOF_PROBE_UPLOAD_EVERY_ROUNDS": "100000",  # people's uploads are the point
            "STORMPROOF_INCIDENT_QUIET_S": "2",
            "STORMPROOF_SLA_IMPACT_PERIOD_S": "3600",  # an hour's "month"
            "STORMPROOF_SLA_CLOSE_EVERY_S": "0",
        }
    )
    cluster.up()
    try:
        urls = {name: spec.url for name, spec in cluster.regions.items()}
        _wait("all clear", lambda: _all_clear(list(urls.values())))
        victim = cluster.names[2]
        first, second = (urls[name] for name in cluster.names if name != victim)
        with httpx.Client(base_url=first, timeout=60) as client:
            ann, bob, olga = (sign_up(client, name) for name in ("ann", "bob", "olga"))
            granted = client.post(
                "/v1/operators", json={"username": "olga"}, headers=cluster.operator
            )
            assert granted.status_code == 201, granted.text
            for auth in (ann, bob):
                answer = client.put(
                    "/v1/studio/earnings/enrollment", json={"enrolled": True}, headers=auth
                )
                assert answer.status_code == 200, answer.text
        ann_id, bob_id = _id(first, ann), _id(first, bob)

        cluster.kill(victim)
        # ann's client sends her upload to the region she was using: no answer
        sent_at = int(time.time() * 1000)
        keyed = {"Idempotency-Key": "ann-clip-1", "Stormproof-Write-At": str(sent_at)}
        with httpx.Client(base_url=urls[victim], timeout=5) as dead:
            try:
                upload(dead, ann, video_file, headers=keyed)
            except httpx.HTTPError:
                pass
            else:
                raise AssertionError("a region without power answered")
        time.sleep(2.5)  # her client's backoff: past write_delayed_after_s
        with httpx.Client(base_url=first, timeout=60) as client:
            retried = upload(client, ann, video_file, headers=keyed)  # same key, same time
            assert retried.status_code == 201, retried.text
            video = retried.json()["id"]
            bobs = upload(client, bob, video_file)  # bob's, at a survivor, answered at once
            assert bobs.status_code == 201, bobs.text
            watch = {"type": "watch", "video_id": video, "watched_ms": 6000, "completed": True}
            watched = client.post("/v1/events", json={"events": [watch]}, headers=bob)
            assert watched.status_code == 202, watched.text
        # an operator's adjustment, retried at the other survivor with the same key and time
        adjustment = {"creator_id": ann_id, "amount_micros": 7000, "reason": "goodwill"}
        headers = {**olga, "Idempotency-Key": "adj-1", "Stormproof-Write-At": str(sent_at + 9000)}
        for url in (first, second):
            posted = httpx.post(url + "/v1/ledger/adjustments", json=adjustment, headers=headers,
                                timeout=30)  # fmt: skip
            assert posted.status_code == 201, posted.text

        def incident() -> str | None:
            listed = _get_as(first, "/v1/incidents?open=true", olga)
            mine = [i for i in (listed or {"items": []})["items"] if i["regions"] == [victim]]
            return mine[0]["id"] if mine else None

        incident_id = _wait(f"an incident about {victim}", incident)
        cluster.restore(victim)

        def drafted_alike() -> dict[str, Any] | None:
            drafts = [
                _get_as(url, f"/v1/incidents/{incident_id}/postmortem", olga)
                for url in urls.values()
            ]
            if any(d is None for d in drafts):
                return None
            for d in drafts:
                del d["position"]
            if not all(d == drafts[0] for d in drafts) or not drafts[0]["impact"]["creators"]:
                return None
            return drafts[0]

        draft = _wait("the same postmortem, with its creators, in every region", drafted_alike)
        (hers,) = draft["impact"]["creators"]  # bob's upload never failed: not listed
        assert hers["creator_id"] == ann_id and hers["upload_minutes_down"] == 1
        assert hers["lost_qualified_views"] is None  # a new creator: not enough history
        # 59 of 60 minutes: 98.3 %, below 99 %: 25 % of one qualified view at 500,000 per 1,000
        assert (hers["period_minutes"], hers["credit_percent"]) == (60, 25)
        assert hers["credit_micros"] == 500 * 25 // 100
        assert "upload minutes they lost: 1 in all" in draft["markdown"]
        assert ann_id not in draft["markdown"]

        month = datetime.now(UTC).strftime("%Y-%m")
        for url in urls.values():
            sla = _wait("ann's SLA", lambda url=url: _get_as(url, "/v1/studio/sla", ann))
            upload_line = sla["lines"][0]
            assert upload_line["sli"] == "upload" and upload_line["minutes_down"] == 1
            tier = credit_percent(upload_line["minutes"], 1, DEFAULT_TIERS)
            assert upload_line["credit_percent"] == (tier.credit_percent if tier else 0)
            bobs_sla = _get_as(url, "/v1/studio/sla", bob)
            assert bobs_sla["lines"][0]["minutes_down"] == 0 and bobs_sla["credit_micros"] == 0

            def settled(url: str = url) -> dict[str, Any] | None:
                """The statement once this region applied the adjustment and the watch."""
                found = _get_as(url, f"/v1/studio/statements/{month}", ann)
                kinds = [e["kind"] for e in (found or {"entries": []})["entries"]]
                return found if {"adjustment", "accrual"} <= set(kinds) else None

            statement = _wait("ann's statement", settled)
            kinds = [e["kind"] for e in statement["entries"]]
            assert kinds.count("adjustment") == 1 and kinds.count("accrual") == 1
            moved = sum(e["amount_micros"] for e in statement["entries"])
            assert (
                statement["closing_balance_micros"] == statement["opening_balance_micros"] + moved
            )
            earnings = _get_as(url, "/v1/studio/earnings", ann)
            assert earnings["balance_micros"] == statement["closing_balance_micros"] == 7000 + 500
        assert bob_id != ann_id
    finally:
        cluster.down()
