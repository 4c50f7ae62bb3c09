"""Webhooks across a region's death, on a real 3-region cluster: the region
delivering an update is SIGKILLed while the receiver holds its request, and
another region delivers it — and the update about the outage — from the
log, under the same ``webhook-id`` (ADR 024)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from stormproof.cluster import LocalCluster
from stormproof.status.webhooks.messages import message_id
from stormproof.testing import free_base_port
from tests.conftest import sign_up
from tests.status.receivers import Receiver, receiving
from tests.status.test_incidents_cluster import PATIENCE_S, _all_clear, _wait

OPENING = {
    "title": "Uploads are slow",
    "components": ["uploads"],
    "impact": "minor",
    "text": "Uploads take minutes; we are looking into it.",
}


def _all_delivered(
    http: httpx.Client, url: str, webhook_id: str, receiver: Receiver, held_incident: str
) -> list[dict[str, Any]] | None:
    """Every update owed to the webhook as ``url``'s region lists them, once
    each is recorded delivered and the receiver took each — the opening of
    the incident about the outage among them."""
    try:
        answer = http.get(f"{url}/v1/status/webhooks/{webhook_id}/deliveries", timeout=5)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    items: list[dict[str, Any]] = answer.json()["items"]
    outage = [d for d in items if d["type"] == "incident.opened" and d["about"] != held_incident]
    taken = receiver.delivered()
    if not outage or any(d["state"] != "delivered" for d in items):
        return None
    if any(message_id(webhook_id, d["update_id"]) not in taken for d in items):
        return None
    return items


def test_when_the_delivering_region_dies_mid_delivery_another_delivers_from_the_log(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster.create(tmp_path / "cluster", 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_PROBE_EVERY_S": "1",
            "STORMPROOF_PROBE_UPLOAD_EVERY_ROUNDS": "100000",  # uploads are not the point
            "STORMPROOF_PASSWORD_COST": "256",  # one sign-up, cheaply
            # the held request waits for the kill, never for its own timeout
            "STORMPROOF_WEBHOOK_TIMEOUT_S": str(PATIENCE_S * 10),
            "STORMPROOF_WEBHOOK_POLL_S": "0.2",
        }
    )
    cluster.up()
    try:
        with receiving() as receiver, httpx.Client(timeout=30) as http:
            urls = {name: spec.url for name, spec in cluster.regions.items()}
            _wait("all clear", lambda: _all_clear(list(urls.values())))
            first = cluster.names[0]  # the first in the cluster's order delivers
            http.base_url = httpx.URL(urls[first])
            auth = sign_up(http, "olga")
            granted = http.post("/v1/operators", json={"username": "olga"},
                                headers=cluster.operator)  # fmt: skip
            assert granted.status_code == 201, granted.text
            http.headers.update(auth)
            receiver.stalling = True
            made = http.post("/v1/status/webhooks", json={"url": receiver.url})
            assert made.status_code == 201, made.text
            receiver.secret, webhook_id = made.json()["secret"], made.json()["webhook"]["id"]
            opened = http.post("/v1/incidents", json={**OPENING, "regions": [first]})
            assert opened.status_code == 201, opened.text
            incident_id = opened.json()["incident"]["id"]

            assert receiver.stalled.wait(PATIENCE_S), "the update never reached the receiver"
            held = receiver.held[0]
            assert held["webhook-id"] == message_id(webhook_id, incident_id)
            sender = held["stormproof-region"]
            assert sender == first
            cluster.kill(sender)  # mid-delivery: the receiver still holds its request
            receiver.release()  # and answers from now on
            survivor = urls[cluster.names[1]]
            items = _wait(
                "every update delivered after the kill",
                lambda: _all_delivered(http, survivor, webhook_id, receiver, incident_id),
            )
            taken = receiver.delivered()
            # Deduped by webhook-id, the receiver holds exactly the updates owed.
            assert set(taken) == {message_id(webhook_id, d["update_id"]) for d in items}
            assert all(r.verified for copies in taken.values() for r in copies)
            # The held update: sent again by a survivor, taken once.
            [again] = taken[held["webhook-id"]]
            assert again.headers["stormproof-region"] != sender
            assert again.verified["data"]["update"]["text"] == OPENING["text"]
            # A second copy of an update (same webhook-id) comes only from a
            # region that got its 2xx and died before recording it, or from
            # two regions owning delivery for a moment at a handover. Here
            # the region that died got no 2xx, and delivery changed hands
            # once: one more copy of an update at most.
            assert all(len(copies) <= 2 for copies in taken.values()), taken
    finally:
        cluster.down()
