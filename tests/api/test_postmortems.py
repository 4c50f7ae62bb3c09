"""Postmortems over real HTTP (ADR 025): drafted once an incident resolves,
read by operators until one publishes it, then by anyone as JSON, HTML and
Markdown; written only by operators — 403 ``not_an_operator`` for anyone
else, bad input a 4xx with a code, and either way nothing stored. Drill
reports likewise."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from stormproof.testing import LiveServer
from tests.api.test_incidents import OPENING, log_of, operator, refused
from tests.conftest import sign_up

__all__ = ["operator"]  # the fixture, shared with the incidents' tests

SCRIPT = "<script>alert(1)</script>"


def _resolved(client: httpx.Client, operator: dict[str, str], title: str = "Slow") -> str:
    opened = client.post("/v1/incidents", json={**OPENING, "title": title}, headers=operator)
    assert opened.status_code == 201, opened.text
    incident_id: str = opened.json()["incident"]["id"]
    done = client.post(
        f"/v1/incidents/{incident_id}/updates",
        json={"status": "resolved", "text": "A full disk, emptied."},
        headers=operator,
    )
    assert done.status_code == 201, done.text
    return incident_id


def _path(incident_id: str) -> str:
    return f"/v1/incidents/{incident_id}/postmortem"


def test_a_draft_is_for_operators_until_published(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    person = sign_up(client, "pat")
    opened = client.post("/v1/incidents", json=OPENING, headers=operator).json()["incident"]
    refused(client.get(_path(opened["id"]), headers=operator), 409, "incident_not_resolved")
    refused(client.get(_path(opened["id"])), 404, "postmortem_not_published")
    refused(client.get(_path("nope"), headers=operator), 404, "incident_not_found")
    incident_id = _resolved(client, operator)
    for headers in ({}, person):
        refused(client.get(_path(incident_id), headers=headers), 404, "postmortem_not_published")
    for public in ("", ".md"):
        path = f"/status/incidents/{incident_id}/postmortem{public}"
        refused(client.get(path), 404, "postmortem_not_published")
    answer = client.get(_path(incident_id), headers=operator)
    assert answer.status_code == 200, answer.text
    draft = answer.json()
    assert draft["published"] is False and draft["title"] == "Postmortem: Slow"
    assert [m["kind"] for m in draft["timeline"]] == ["first_failing_round", "opened", "resolved"]
    lost = draft["impact"]["writes_lost"]
    assert lost["lost"] is None and lost["how"].startswith("None known")
    assert "Acknowledged writes lost: none known" in draft["markdown"]
    assert (draft["root_cause"], draft["lessons"], draft["action_items"]) == ("", "", [])
    assert "operator" in draft["resolution"] and "A full disk" in draft["resolution"]


def test_only_operators_edit_and_a_refusal_stores_nothing(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    person = sign_up(client, "pat")
    incident_id = _resolved(client, operator)
    still_open = client.post("/v1/incidents", json=OPENING, headers=operator).json()["incident"]
    before = log_of(server)
    body = {"root_cause": "a full disk"}
    for method in ("PATCH", "PUT"):
        refused(client.request(method, _path(incident_id), json=body, headers=person), 403,
                "not_an_operator")  # fmt: skip
        refused(client.request(method, _path(incident_id), json=body), 401, "missing_token")
    too_many = [{"text": f"item {n}"} for n in range(51)]
    bad: list[tuple[str, dict[str, Any], int, str]] = [
        (incident_id, {}, 422, "empty_edit"),
        (incident_id, {"root_cause": "x" * 20_001}, 422, "text_too_long"),
        (incident_id, {"action_items": too_many}, 422, "too_many_action_items"),
        (incident_id, {"action_items": [{"text": "  "}]}, 422, "empty_text"),
        (incident_id, {"action_items": [{"text": "x", "owner": "o" * 101}]}, 422,
         "owner_too_long"),
        (incident_id, {"published": "maybe"}, 422, "invalid_request"),
        ("nope", body, 404, "incident_not_found"),
        (still_open["id"], body, 409, "incident_not_resolved"),
    ]  # fmt: skip
    for target, change, status, code in bad:
        refused(client.patch(_path(target), json=change, headers=operator), status, code)
    lone_surrogate = b'{"lessons": "\\ud800"}'  # JSON's escape of text no event may hold
    json_headers = {**operator, "Content-Type": "application/json"}
    answer = client.patch(_path(incident_id), content=lone_surrogate, headers=json_headers)
    refused(answer, 422, "invalid_request")
    assert log_of(server) == before


def test_published_it_reads_everywhere_escaped(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    incident_id = _resolved(client, operator, title=f"Uploads {SCRIPT}")
    patched = client.patch(
        _path(incident_id),
        json={"root_cause": f"disk {SCRIPT}", "action_items": [{"text": "alerts", "owner": "ops"}]},
        headers={**operator, "Idempotency-Key": "pm-1"},
    )
    assert patched.status_code == 200, patched.text
    put = client.put(_path(incident_id), json={"lessons": "*watch* the disks"}, headers=operator)
    assert put.status_code == 200, put.text
    shown = put.json()["postmortem"]
    assert (shown["root_cause"], shown["lessons"], shown["action_items"]) == (
        "", "*watch* the disks", []
    )  # fmt: skip
    again = client.patch(
        _path(incident_id),
        json={"root_cause": f"disk {SCRIPT}", "published": True},
        headers=operator,
    )
    assert again.status_code == 200, again.text
    published = client.get(_path(incident_id)).json()  # no token: it is public now
    assert published["published"] and published["root_cause"] == f"disk {SCRIPT}"
    assert published["lessons"] == "*watch* the disks"

    page = client.get(f"/status/incidents/{incident_id}/postmortem")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "<script" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert re.findall(r'(?:src|href)="([^"]*)"', page.text) == ["/status"]
    markdown = client.get(f"/status/incidents/{incident_id}/postmortem.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert re.search(r"(?<!\\)<", markdown.text) is None  # every < escaped
    assert r"\<script\>alert(1)\</script\>" in markdown.text
    assert r"\*watch\* the disks" in markdown.text

    status_page = client.get("/status").text
    assert f'href="/status/incidents/{incident_id}/postmortem"' in status_page
    document = client.get("/v1/status/page").json()
    [notice] = document["incidents"]
    assert notice["postmortem"] == f"/status/incidents/{incident_id}/postmortem"
    hidden = client.patch(_path(incident_id), json={"published": False}, headers=operator)
    assert hidden.status_code == 200
    refused(client.get(_path(incident_id)), 404, "postmortem_not_published")
    assert "postmortem" not in client.get("/status").text.lower().replace("postmortems", "")


def test_a_drill_report_is_an_operators_and_is_checked(
    server: LiveServer, client: httpx.Client, operator: dict[str, str]
) -> None:
    person = sign_up(client, "pat")
    now = int(time.time() * 1000)
    good = {
        "scenario": "snowstorm",
        "faults": [{"kind": "power_cut", "region": "test", "at": now - 60_000},
                   {"kind": "power_restore", "region": "test", "at": now - 30_000}],
        "writes": {"acknowledged": 10, "lost": 0, "duplicated": 0},
        "continuity_permille": 950,
    }  # fmt: skip
    before = log_of(server)
    refused(client.post("/v1/drills", json=good, headers=person), 403, "not_an_operator")
    for change, code in (
        ({"faults": [{"kind": "meteor", "region": "test", "at": now}]}, "unknown_fault"),
        ({"faults": [{"kind": "power_cut", "region": "atlantis", "at": now}]}, "unknown_region"),
        ({"faults": []}, "no_faults"),
        ({"writes": {"acknowledged": 1, "lost": 2, "duplicated": 0}}, "invalid_writes"),
        ({"continuity_permille": 1001}, "invalid_request"),
    ):
        refused(client.post("/v1/drills", json={**good, **change}, headers=operator), 422, code)
    assert log_of(server) == before
    made = client.post("/v1/drills", json=good, headers=operator)
    assert made.status_code == 201, made.text
    assert made.json()["drill_id"].startswith("drl_")
