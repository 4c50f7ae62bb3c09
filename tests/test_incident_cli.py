"""``stormproof incident``, ``maintenance`` and ``postmortem`` run as an
operator runs them — real processes against a real server: they sign in as
an account, and only one with the operator role gets anything written; a
refusal is one line with the API's code, exit 1, and stores nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormproof.cluster import LocalCluster
from tests.conftest import PASSWORD, LiveServer, free_port, make_settings, sign_up
from tests.test_cli import ENV, STORMPROOF

OPENING = [
    "--title", "Uploads are slow", "--region", "test", "--component", "uploads",
    "--impact", "minor", "--text", "Uploads take minutes; we are looking into it.",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A region with an operator, olga, and a person, pat."""
    live = LiveServer(make_settings(tmp_path_factory.mktemp("region"))).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            sign_up(client, "olga")
            sign_up(client, "pat")
            granted = client.post("/v1/operators", json={"username": "olga"}, headers=live.operator)
            assert granted.status_code == 201, granted.text
        yield live
    finally:
        live.stop()


def run(
    server: LiveServer, *args: str, user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``stormproof ARGS --url URL [--user USER]``, the password from the environment."""
    signed = ["--user", user] if user else []
    return subprocess.run(
        [*STORMPROOF, *args, "--url", server.url, *signed],
        capture_output=True,
        text=True,
        env={**ENV, "STORMPROOF_PASSWORD": PASSWORD},
        timeout=120,
        check=False,
    )


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def incidents(server: LiveServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{server.url}/v1/incidents", timeout=30).json()[
        "items"
    ]
    return found


def test_an_operator_opens_updates_corrects_and_resolves(server: LiveServer) -> None:
    opened = answer(run(server, "incident", "open", *OPENING, "--json", user="olga"))
    incident_id = opened["incident"]["id"]
    update = ["incident", "update", incident_id, "--status", "identified", "--impact", "major"]
    updated = answer(run(server, *update, "--text", "A full disk.", "--json", user="olga"))
    update_id = updated["incident"]["updates"][-1]["id"]
    correct = ["incident", "correct", incident_id, update_id, "--text", "A full disk in test."]
    assert run(server, *correct, user="olga").returncode == 0
    resolved = run(server, "incident", "resolve", incident_id, "--text", "Fixed.", user="olga")
    assert resolved.returncode == 0 and f"updated {incident_id}" in resolved.stdout

    incident = httpx.get(f"{server.url}/v1/incidents/{incident_id}", timeout=30).json()
    assert (incident["status"], incident["impact"]) == ("resolved", "major")
    steps = [(u["status"], u["text"], u["original_text"]) for u in incident["updates"]]
    assert steps == [
        ("investigating", "Uploads take minutes; we are looking into it.", None),
        ("identified", "A full disk in test.", "A full disk."),
        ("resolved", "Fixed.", None),
    ]
    listed = answer(run(server, "incident", "list", "--json"))
    assert incident_id in [i["id"] for i in listed]
    shown = run(server, "incident", "show", incident_id)
    assert shown.returncode == 0 and "A full disk in test." in shown.stdout

    published = ["postmortem", "edit", incident_id, "--root-cause", "A log filled the disk."]
    assert run(server, *published, "--publish", user="olga").returncode == 0
    postmortem = run(server, "postmortem", "show", incident_id)  # anyone's, once published
    assert postmortem.returncode == 0 and "A log filled the disk." in postmortem.stdout


def test_a_retry_with_the_same_key_writes_nothing_new(server: LiveServer) -> None:
    before = len(incidents(server))
    first = answer(run(server, "incident", "open", *OPENING, "--key", "k1", "--json", user="olga"))
    again = answer(run(server, "incident", "open", *OPENING, "--key", "k1", "--json", user="olga"))
    assert again["incident"]["id"] == first["incident"]["id"]
    assert len(incidents(server)) == before + 1


def test_regions_are_tried_in_turn_and_a_clusters_folder_names_them(
    server: LiveServer, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the next --url is asked
    opened = answer(run(server, "incident", "open", *OPENING, "--url", dead, "--json", user="olga"))
    folder = tmp_path / "cluster"  # one region, whose API is the server's port
    LocalCluster.create(folder, count=1, base_port=server.port)
    listed = subprocess.run(
        [*STORMPROOF, "incident", "list", "--data", str(folder), "--json"],
        capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert opened["incident"]["id"] in [i["id"] for i in answer(listed)]


def test_a_non_operator_is_refused_and_nothing_is_stored(server: LiveServer) -> None:
    before = incidents(server)
    refused = run(server, "incident", "open", *OPENING, user="pat")
    assert refused.returncode == 1
    assert refused.stderr.startswith("not_an_operator: "), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert incidents(server) == before


def test_bad_input_is_refused_with_the_apis_code(server: LiveServer) -> None:
    before = incidents(server)
    bad = [*OPENING[:5], "disk", *OPENING[6:]]  # --component disk
    refused = run(server, "incident", "open", *bad, user="olga")
    assert refused.returncode == 1
    assert refused.stderr.startswith("unknown_component: "), refused.stderr
    assert incidents(server) == before


def test_an_operator_schedules_and_completes_maintenance(server: LiveServer) -> None:
    window = ["--title", "New disks", "--region", "test", "--component", "uploads",
              "--starts", "+1h", "--ends", "+2h", "--text", "Uploads may be slow."]  # fmt: skip
    scheduled = answer(run(server, "maintenance", "schedule", *window, "--json", user="olga"))
    window_id = scheduled["maintenance"]["id"]
    assert scheduled["maintenance"]["state"] == "scheduled"
    listed = run(server, "maintenance", "list")
    assert listed.returncode == 0 and window_id in listed.stdout
    done = run(server, "maintenance", "complete", window_id, "--text", "Called off.", user="olga")
    assert done.returncode == 0, done.stderr
    got = httpx.get(f"{server.url}/v1/maintenance/{window_id}", timeout=30).json()
    assert (got["state"], got["completed_text"]) == ("completed", "Called off.")


def test_where_and_who_are_usage_errors(tmp_path: Path) -> None:
    nowhere = subprocess.run(
        [*STORMPROOF, "incident", "list", "--data", str(tmp_path)],
        capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert nowhere.returncode == 2 and "--url" in nowhere.stderr
    nobody = subprocess.run(
        [*STORMPROOF, "incident", "resolve", "inc_x", "--text", "t", "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, env=ENV, timeout=120, check=False,
    )  # fmt: skip
    assert nobody.returncode == 2 and "--user" in nobody.stderr
