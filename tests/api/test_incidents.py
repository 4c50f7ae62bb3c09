"""Incidents and maintenance over real HTTP: anyone reads them, even from a
region catching up; only accounts with the operator role write them — 403
``not_an_operator`` for anyone else — and bad input is a 4xx with a code;
either way nothing is stored (ADR 021)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn

from stormproof.actions import write
from stormproof.api import create_app
from stormproof.api.serving import server_config
from stormproof.events import IncidentOpened
from stormproof.log import Entry
from stormproof.log.sqlite import SqliteLog
from stormproof.region import Region
from stormproof.testing import LiveServer, free_port
from tests.api.test_status import append, state_of
from tests.conftest import make_settings, sign_up
from tests.status.probes import probes

ATOM = "{http://www.w3.org/2005/Atom}"
OPENING = {
    "title": "Uploads are slow",
    "regions": ["test"],
    "components": ["uploads"],
    "impact": "minor",
    "text": "Uploads take minutes to finish; we are looking into it.",
}


def log_of(server: LiveServer) -> list[Entry]:
    async def read() -> list[Entry]:
        log = SqliteLog(server.settings.log_path)
        try:
            return await log.read(0, 0, limit=100_000)
        finally:
            await log.close()

    return asyncio.run(read())


def written_types(server: LiveServer) -> list[str]:
    return [e.event.type for e in log_of(server)]


@pytest.fixture
def operator(server: LiveServer, client: httpx.Client) -> dict[str, str]:
    """The Authorization header of an account granted the operator role."""
    auth = sign_up(client, "olga")
    granted = client.post("/v1/operators", json={"username": "olga"}, headers=server.operator)
    assert granted.status_code == 201, granted.text
    assert granted.json()["changed"] is True
    return auth


def refused(answer: httpx.Response, status: int, code: str) -> None:
    assert (answer.status_code, answer.json().get("code")) == (status, code), answer.text


def test_nobody_but_an_operator_writes_and_a_refusal_stores_nothing(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    person = sign_up(client, "pat")
    opened = client.post("/v1/incidents", json=OPENING, headers=operator)
    assert opened.status_code == 201, opened.text
    incident = opened.json()["incident"]
    before = log_of(server)
    attempts = [
        ("/v1/incidents", OPENING),
        (f"/v1/incidents/{incident['id']}/updates", {"status": "resolved", "text": "fixed"}),
        (f"/v1/incidents/{incident['id']}/updates/{incident['id']}/correction", {"text": "x"}),
        ("/v1/maintenance", {**OPENING, "starts_at": 1, "ends_at": 2}),
    ]
    for path, body in attempts:
        refused(client.post(path, json=body, headers=person), 403, "not_an_operator")
        refused(client.post(path, json=body), 401, "missing_token")
        # A session's token is not the operator token, nor the other way round.
        refused(client.post(path, json=body, headers=server.operator), 401, "invalid_token")
    refused(
        client.post("/v1/operators", json={"username": "pat"}, headers=person), 401, "operator_only"
    )
    assert log_of(server) == before
    [shown] = client.get("/v1/incidents").json()["items"]
    assert shown["status"] == "investigating" and len(shown["updates"]) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"components": ["uploads", "teleport"]}, "unknown_component"),
        ({"components": []}, "no_components"),
        ({"regions": ["atlantis"]}, "unknown_region"),
        ({"text": "   \n"}, "empty_text"),
        ({"title": ""}, "empty_title"),
        ({"impact": "apocalyptic"}, "invalid_impact"),
        ({"status": "resolved"}, "invalid_status"),
        ({"began_at": 2 * int(time.time() * 1000)}, "invalid_began_at"),
        ({"text": "x" * 5001}, "text_too_long"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_stores_nothing(
    server: LiveServer,
    client: httpx.Client,
    operator: dict[str, str],
    change: dict[str, Any],
    code: str,
) -> None:
    before = log_of(server)
    refused(client.post("/v1/incidents", json={**OPENING, **change}, headers=operator), 422, code)
    assert log_of(server) == before
    assert client.get("/v1/incidents").json()["items"] == []


def test_an_operator_updates_corrects_and_resolves_and_everyone_reads_it(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    opened = client.post(
        "/v1/incidents", json=OPENING, headers={**operator, "Idempotency-Key": "open-1"}
    )
    again = client.post(
        "/v1/incidents", json=OPENING, headers={**operator, "Idempotency-Key": "open-1"}
    )
    assert opened.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    incident_id = opened.json()["incident"]["id"]
    updates = f"/v1/incidents/{incident_id}/updates"
    refused(client.post(updates, json={"status": "fixed", "text": "x"}, headers=operator), 422,
            "invalid_status")  # fmt: skip
    refused(client.post(updates, json={"status": "identified", "text": " "}, headers=operator),
            422, "empty_text")  # fmt: skip
    refused(client.post("/v1/incidents/nope/updates", json={"status": "identified", "text": "x"},
                        headers=operator), 404, "incident_not_found")  # fmt: skip
    identified = client.post(
        updates,
        json={"status": "identified", "text": "A full disk.", "impact": "major"},
        headers=operator,
    )
    assert identified.status_code == 201, identified.text
    update_id = identified.json()["incident"]["updates"][-1]["id"]
    fixed = client.post(
        f"{updates}/{update_id}/correction", json={"text": "Two full disks."}, headers=operator
    )
    assert fixed.status_code == 201, fixed.text
    refused(client.post(f"{updates}/nope/correction", json={"text": "x"}, headers=operator), 404,
            "update_not_found")  # fmt: skip
    resolved = client.post(updates, json={"status": "resolved", "text": "Done."}, headers=operator)
    assert resolved.status_code == 201, resolved.text
    before = log_of(server)
    refused(client.post(updates, json={"status": "monitoring", "text": "x"}, headers=operator),
            409, "incident_resolved")  # fmt: skip
    assert log_of(server) == before

    shown = client.get(f"/v1/incidents/{incident_id}").json()  # no token: public
    assert shown["status"] == "resolved" and shown["impact"] == "major"
    assert shown["resolved_at"] is not None
    assert [u["status"] for u in shown["updates"]] == ["investigating", "identified", "resolved"]
    corrected = shown["updates"][1]
    assert corrected["text"] == "Two full disks." and corrected["original_text"] == "A full disk."
    assert not any(u["automatic"] for u in shown["updates"])
    refused(client.get("/v1/incidents/nope"), 404, "incident_not_found")
    assert client.get("/v1/incidents", params={"open": True}).json()["items"] == []
    assert [i["id"] for i in client.get("/v1/incidents").json()["items"]] == [incident_id]


def test_incidents_come_a_page_at_a_time_the_latest_first(
    client: httpx.Client, operator: dict[str, str]
) -> None:
    made = [
        client.post("/v1/incidents", json={**OPENING, "title": f"n{n}"}, headers=operator).json()[
            "incident"
        ]["id"]
        for n in range(3)
    ]
    first = client.get("/v1/incidents", params={"limit": 2}).json()
    rest = client.get("/v1/incidents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None
    refused(client.get("/v1/incidents", params={"cursor": "x"}), 400, "invalid_cursor")


def test_the_status_shows_open_incidents_and_maintenance_in_progress(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    seq = append(server.settings, [probes("test", n, regions=("test",)) for n in range(3)])
    opened = client.post("/v1/incidents", json=OPENING, headers=operator).json()["incident"]
    now = int(time.time() * 1000)
    window = {**OPENING, "components": ["sign_in"], "starts_at": now - 1000,
              "ends_at": now + 3_600_000, "text": "new certificates"}  # fmt: skip
    backwards = {**window, "ends_at": now - 2000}
    past = {**window, "starts_at": now - 9_000_000, "ends_at": now - 1000}
    for body, code in ((backwards, "invalid_window"), (past, "window_in_the_past")):
        refused(client.post("/v1/maintenance", json=body, headers=operator), 422, code)
    scheduled = client.post("/v1/maintenance", json=window, headers=operator)
    assert scheduled.status_code == 201, scheduled.text
    maintenance = scheduled.json()["maintenance"]
    assert maintenance["state"] == "in_progress"

    page = client.get("/v1/status", params={"min_seq": seq}).json()
    assert [i["id"] for i in page["incidents"]] == [opened["id"]]
    assert [m["id"] for m in page["maintenance"]] == [maintenance["id"]]
    assert state_of(page, "test", "sign_in")["state"] == "under_maintenance"
    assert state_of(page, "test", "for_you")["state"] == "operational"

    # The status page shows the same: as JSON, as HTML and in the Atom feed.
    document = client.get("/v1/status/page").json()
    assert [i["id"] for i in document["incidents"]] == [opened["id"]]
    assert [m["id"] for m in document["maintenance"]] == [maintenance["id"]]
    assert document["incidents"][0]["updates"][0]["text"] == OPENING["text"]
    assert state_of(document["status"], "test", "sign_in")["state"] == "under_maintenance"
    html = client.get("/status").text
    assert OPENING["title"] in html and "new certificates" in html
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    titles = [e.findtext(f"{ATOM}title") or "" for e in feed.findall(f"{ATOM}entry")]
    assert any(OPENING["title"] in t for t in titles), titles

    done = client.post(f"/v1/maintenance/{maintenance['id']}/complete", json={}, headers=operator)
    assert done.status_code == 201 and done.json()["maintenance"]["state"] == "completed"
    refused(client.post(f"/v1/maintenance/{maintenance['id']}/complete", json={},
                        headers=operator), 409, "maintenance_over")  # fmt: skip
    page = client.get("/v1/status").json()
    assert page["maintenance"] == [] and state_of(page, "test", "sign_in")["state"] == "operational"
    listed = client.get("/v1/maintenance").json()["items"]
    assert [(m["id"], m["state"]) for m in listed] == [(maintenance["id"], "completed")]


def test_a_grant_is_written_once_and_a_revoked_operator_is_refused(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    again = client.post("/v1/operators", json={"username": "olga"}, headers=server.operator)
    assert again.status_code == 201 and again.json()["changed"] is False
    assert client.get("/v1/operators", headers=server.operator).json() == ["olga"]
    refused(client.post("/v1/operators", json={"username": "nobody"}, headers=server.operator),
            404, "account_not_found")  # fmt: skip
    revoked = client.delete("/v1/operators/olga", headers=server.operator)
    assert revoked.status_code == 200 and revoked.json()["changed"] is True
    refused(client.post("/v1/incidents", json=OPENING, headers=operator), 403, "not_an_operator")
    assert written_types(server).count("account.role_granted") == 1


async def test_a_region_catching_up_serves_incidents_but_takes_no_writes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region")
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    payload = IncidentOpened(
        incident_id="inc_1", title="West is down", regions=("west",), components=("sign_in",),
        impact="major", began_at=1, text="investigating",
    )  # fmt: skip
    written = await write(region, "incident:west", payload, actor="sys_x")
    await region.close()
    settings.checkpoint_path.unlink(missing_ok=True)  # the next start replays into the engine

    app, port = create_app(settings), free_port()
    config = server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not hasattr(app.state, "region"):
        assert not serving.done()
        await asyncio.sleep(0)
    region = app.state.region
    assert region.engine.lock.acquire(blocking=False)  # the catch-up waits for it
    held = True
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            listed = await client.get("/v1/incidents")
            assert listed.status_code == 200, listed.text
            assert [i["id"] for i in listed.json()["items"]] == ["inc_1"]
            assert listed.json()["position"] == [written.seq]
            assert (await client.get("/v1/incidents/inc_1")).status_code == 200
            assert (await client.get("/v1/maintenance")).status_code == 200
            status = (await client.get("/v1/status")).json()
            assert [i["id"] for i in status["incidents"]] == ["inc_1"]
            refused(await client.post("/v1/incidents", json=OPENING), 503, "not_ready")
    finally:
        if held:
            region.engine.lock.release()
        server.should_exit = True
        await serving


def test_a_grant_takes_the_callers_time(server: LiveServer, client: httpx.Client) -> None:
    # A client that sends one grant to two regions (a hedged request) must
    # write the same event twice, not two events under one key: the regions'
    # digests would differ. So the grant's time is the caller's.
    sign_up(client, "vera")
    at = int(time.time() * 1000) - 5_000
    headers = {**server.operator, "Stormproof-Write-At": str(at)}
    granted = client.post("/v1/operators", json={"username": "vera"}, headers=headers)
    assert granted.status_code == 201, granted.text
    [event] = [e.event for e in log_of(server) if e.event.type == "account.role_granted"]
    assert event.at == at
    revoked = client.delete(
        "/v1/operators/vera", headers={**headers, "Stormproof-Write-At": str(at + 1)}
    )
    assert revoked.status_code == 200, revoked.text
    [event] = [e.event for e in log_of(server) if e.event.type == "account.role_revoked"]
    assert event.at == at + 1
