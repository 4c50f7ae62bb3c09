"""``/v1/studio/earnings``, statements and the SLA over real HTTP, and
``/v1/ledger`` for operators: each creator sees only their own, operators
see and adjust anyone's, bad input is a 4xx with a code and stores nothing."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from stormproof.testing import LiveServer
from stormproof.views.engagement import WINDOW_MS
from tests.api.test_incidents import refused, written_types
from tests.conftest import sign_up, upload

#: what a qualified view earns at the default rate (500,000 per 1,000)
PER_VIEW = 500


@pytest.fixture
def operator(server: LiveServer, client: httpx.Client) -> dict[str, str]:
    auth = sign_up(client, "olga")
    granted = client.post("/v1/operators", json={"username": "olga"}, headers=server.operator)
    assert granted.status_code == 201, granted.text
    return auth


def _id(client: httpx.Client, auth: dict[str, str]) -> str:
    found: str = client.get("/v1/studio/overview", headers=auth).json()["creator_id"]
    return found


def _watch(
    client: httpx.Client, auth: dict[str, str], video: str, watched_ms: int, at: int | None = None
) -> int:
    """Report a watch; at ``at`` (unix ms, the client's ``Stormproof-Write-At``) if given."""
    item = {"type": "watch", "video_id": video, "watched_ms": watched_ms}
    headers = {**auth, **({"Stormproof-Write-At": str(at)} if at else {})}
    answer = client.post("/v1/events", json={"events": [item]}, headers=headers)
    assert answer.status_code == 202, answer.text
    seq: int = answer.json()["seq"]
    return seq


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _earnings(client: httpx.Client, auth: dict[str, str], seq: int) -> dict[str, object]:
    answer = client.get("/v1/studio/earnings", params={"min_seq": seq}, headers=auth)
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_qualified_views_earn_only_once_the_creator_opted_in(
    client: httpx.Client, video_file: Path
) -> None:
    ann, bob, cat = (sign_up(client, name) for name in ("ann", "bob", "cat"))
    video = upload(client, ann, video_file).json()["id"]
    now = int(time.time() * 1000)
    window = now - now % WINDOW_MS  # every write below falls in this 10-minute window
    seq = _watch(client, bob, video, 9000, at=window + 1000)
    assert _earnings(client, ann, seq)["balance_micros"] == 0  # not enrolled: nothing
    enrolled = client.put(
        "/v1/studio/earnings/enrollment",
        json={"enrolled": True},
        headers={**ann, "Stormproof-Write-At": str(window + 2000)},
    )
    assert enrolled.status_code == 200, enrolled.text
    _watch(client, cat, video, 6000, at=window + 3000)
    seq = _watch(client, cat, video, 100, at=window + 4000)  # cat's window: one view
    found = _earnings(client, ann, seq)
    assert found["enrolled"] is True
    # bob's view shares its window with the opt-in, cat's is the second: both earn
    assert found["balance_micros"] == 2 * PER_VIEW == found["period_earned_micros"]
    assert found["provisional_credit_micros"] == 0

    statement = client.get(f"/v1/studio/statements/{_month()}", headers=ann).json()
    (accrual,) = statement["entries"]
    assert (accrual["kind"], accrual["qualified_views"]) == ("accrual", 2)
    assert statement["closing_balance_micros"] == found["balance_micros"]
    assert statement["closed"] is False and statement["provisional_credit_micros"] == 0
    assert [line["sli"] for line in statement["provisional_lines"]] == ["upload", "distribution"]

    exported = client.get(f"/v1/studio/statements/{_month()}?format=csv", headers=ann)
    assert exported.headers["content-type"].startswith("text/csv")
    (row,) = csv.DictReader(io.StringIO(exported.text))
    assert (row["kind"], int(row["amount_micros"])) == ("accrual", 2 * PER_VIEW)
    page = client.get(f"/v1/studio/statements/{_month()}?format=html", headers=ann)
    assert page.headers["content-type"].startswith("text/html")
    assert "2 qualified views" in page.text and "<script" not in page.text

    sla = client.get("/v1/studio/sla", headers=ann).json()
    assert [(line["minutes_down"], line["credit_percent"]) for line in sla["lines"]] == [
        (0, 0),
        (0, 0),
    ]
    assert sla["incidents"] == [] and sla["base_micros"] == 2 * PER_VIEW


def test_a_creator_reads_only_their_own_and_an_operator_anyones(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    ann_id = _id(client, ann)
    for path in (f"/v1/studio/statements/{_month()}", "/v1/studio/earnings", "/v1/studio/sla"):
        refused(client.get(path, params={"creator_id": ann_id}, headers=bob), 403,
                "not_your_statement")  # fmt: skip
        assert client.get(path, params={"creator_id": ann_id}, headers=operator).status_code == 200
        assert client.get(path).status_code == 401
    refused(client.get("/v1/ledger/statements/2026-01", headers=bob), 403, "not_an_operator")
    missing = client.get("/v1/studio/earnings", params={"creator_id": "u_nobody"}, headers=operator)
    refused(missing, 404, "creator_not_found")


def test_only_an_operator_adjusts_with_a_reason_and_a_retry_adjusts_once(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    ann = sign_up(client, "ann")
    ann_id = _id(client, ann)
    body = {"creator_id": ann_id, "amount_micros": 2500, "reason": "make good the 3 March outage"}
    before = written_types(server)
    refused(client.post("/v1/ledger/adjustments", json=body, headers=ann), 403, "not_an_operator")
    for change, status, code in [
        ({"reason": "  "}, 422, "reason_required"),
        ({"amount_micros": -5, "reason": ""}, 422, "reason_required"),
        ({"amount_micros": 0}, 422, "invalid_amount"),
        ({"amount_micros": 10**16}, 422, "amount_out_of_range"),
        ({"creator_id": "u_nobody"}, 404, "creator_not_found"),
    ]:
        answer = client.post("/v1/ledger/adjustments", json={**body, **change}, headers=operator)
        refused(answer, status, code)
    refused(
        client.post("/v1/ledger/payouts", json={"creator_id": ann_id, "amount_micros": 1},
                    headers=operator),
        409, "insufficient_balance",
    )  # fmt: skip
    assert written_types(server) == before  # nothing stored

    keyed = {**operator, "Idempotency-Key": "adj-1"}
    first = client.post("/v1/ledger/adjustments", json=body, headers=keyed)
    again = client.post("/v1/ledger/adjustments", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["entry_id"] == again.json()["entry_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    paid = client.post(
        "/v1/ledger/payouts",
        json={"creator_id": ann_id, "amount_micros": 2000, "reference": "wire 42"},
        headers=operator,
    )
    assert paid.status_code == 201, paid.text
    seq = paid.json()["seq"]
    assert _earnings(client, ann, seq)["balance_micros"] == 500
    statement = client.get(f"/v1/studio/statements/{_month()}", headers=ann).json()
    assert [(e["kind"], e["amount_micros"]) for e in statement["entries"]] == [
        ("adjustment", 2500),
        ("payout", -2000),
    ]
    assert statement["entries"][0]["reason"] == body["reason"]
    exported = client.get(f"/v1/ledger/statements/{_month()}?format=csv", headers=operator)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {(r["creator_id"], r["kind"]) for r in rows} == {
        (ann_id, "adjustment"),
        (ann_id, "payout"),
    }


def test_bad_periods_and_time_zones_are_refused_and_a_zone_moves_the_days(
    client: httpx.Client,
) -> None:
    ann = sign_up(client, "ann")
    refused(client.get("/v1/studio/statements/2026-13", headers=ann), 422, "invalid_period")
    assert client.get("/v1/studio/statements/26-01", headers=ann).status_code == 422
    assert client.get("/v1/studio/sla", params={"period": "x"}, headers=ann).status_code == 422
    refused(
        client.put("/v1/studio/time-zone", json={"zone": "Mars/Olympus"}, headers=ann),
        422, "unknown_time_zone",
    )  # fmt: skip
    assert client.get("/v1/studio/overview", headers=ann).json()["time_zone"] == "UTC"
    set_ = client.put("/v1/studio/time-zone", json={"zone": "Asia/Tokyo"}, headers=ann)
    assert set_.status_code == 200, set_.text
    overview = client.get(
        "/v1/studio/overview", params={"min_seq": set_.json()["seq"]}, headers=ann
    )
    assert overview.json()["time_zone"] == "Asia/Tokyo"
    statement = client.get(f"/v1/studio/statements/{_month()}", headers=ann).json()
    assert statement["time_zone"] == "Asia/Tokyo"


def test_only_an_operator_sets_the_rate_and_each_window_earns_at_its_own(
    server: LiveServer, client: httpx.Client, operator: dict[str, str], video_file: Path
) -> None:
    """Guards ADR 031's amendment: the rate is an event in force from an
    instant on, never before it; bad input stores nothing."""
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    now = int(time.time() * 1000)
    body = {"rate_micros": 2_000_000, "effective_from": now + 3_600_000, "reason": "new year"}
    before = written_types(server)
    refused(client.post("/v1/ledger/rates", json=body, headers=ann), 403, "not_an_operator")
    refused(client.get("/v1/ledger/rates", headers=ann), 403, "not_an_operator")
    for change, code in [
        ({"reason": "  "}, "reason_required"),
        ({"rate_micros": -1}, "rate_out_of_range"),
        ({"rate_micros": 10**13}, "rate_out_of_range"),
        ({"effective_from": now - 3_600_000}, "rate_in_the_past"),
        ({"effective_from": -5}, "rate_in_the_past"),
        ({"effective_from": now + 400 * 86_400_000}, "effective_from_out_of_range"),
    ]:
        answer = client.post("/v1/ledger/rates", json={**body, **change}, headers=operator)
        refused(answer, 422, code)
    assert written_types(server) == before  # nothing stored

    video = upload(client, ann, video_file).json()["id"]
    # a window's start within a window of now, at least 30 s from either end
    now = int(time.time() * 1000)
    start = now - now % WINDOW_MS
    if now - start > WINDOW_MS - 30_000:
        start += WINDOW_MS
    enrolled = client.put(
        "/v1/studio/earnings/enrollment",
        json={"enrolled": True},
        headers={**ann, "Stormproof-Write-At": str(start - 120_000)},
    )
    assert enrolled.status_code == 200, enrolled.text
    _watch(client, bob, video, 9000, at=start - 60_000)  # the window before: the setting's rate
    keyed = {**operator, "Idempotency-Key": "rate-1", "Stormproof-Write-At": str(start)}
    from_start = {**body, "effective_from": start}
    set_ = client.post("/v1/ledger/rates", json=from_start, headers=keyed)
    again = client.post("/v1/ledger/rates", json=from_start, headers=keyed)
    assert set_.status_code == again.status_code == 201, set_.text
    assert again.headers["Idempotent-Replayed"] == "true"
    seq = _watch(client, bob, video, 9000, at=start + 1000)
    assert _earnings(client, ann, seq)["balance_micros"] == PER_VIEW + 2000
    listed = client.get("/v1/ledger/rates", headers=operator).json()
    assert listed["default_micros"] == 500_000
    assert [(r["effective_from"], r["rate_micros"]) for r in listed["rates"]] == [
        (start, 2_000_000)
    ]
