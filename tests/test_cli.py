"""The ``stormproof`` command, run as a user runs it: a real process."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stormproof.demo import DEMO_PASSWORD, DEMO_USERS
from tests.conftest import TEST_PASSWORD_COST, free_port, operator_of, sign_up, upload

STORMPROOF = [sys.executable, "-m", "stormproof.cli"]
ENV = {**os.environ, "STORMPROOF_PASSWORD_COST": str(TEST_PASSWORD_COST)}


def stormproof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STORMPROOF, *args], capture_output=True, text=True, env=ENV, timeout=120, check=False
    )


COMMANDS = [
    [], ["serve"], ["rebuild"], ["digest"], ["reports"], ["eval"], ["cluster"], ["cluster", "up"],
    ["status"], ["status", "export"], ["operator"], ["operator", "grant"],
    ["incident"], ["incident", "list"], ["incident", "show"], ["incident", "open"],
    ["incident", "update"], ["incident", "correct"], ["incident", "resolve"],
    ["maintenance"], ["maintenance", "list"], ["maintenance", "schedule"],
    ["maintenance", "complete"], ["postmortem"], ["postmortem", "show"], ["postmortem", "edit"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: list[str]) -> None:
    result = stormproof(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    # Issue 10: Typer's rich panels showed `--help <bool>`, as if flags took a value.
    assert "<bool>" not in result.stdout, result.stdout


def test_version_is_the_installed_packages() -> None:
    result = stormproof("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"stormproof {importlib.metadata.version('stormproof')}\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``stormproof serve`` with the demo catalog, as the README starts it."""
    data, port = tmp_path / "var", free_port()
    out = (tmp_path / "serve.out").open("w")
    process = subprocess.Popen(
        [*STORMPROOF, "serve", "--port", str(port), "--data", str(data)],
        env=ENV,
        stdout=out,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:  # it answers at once, and is ready once caught up and seeded
                if httpx.get(f"{url}/v1/health", timeout=1).json()["ready"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        yield url, data
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        out.close()
        if process.stderr:
            process.stderr.close()


def test_serve_seeds_a_demo_feed_and_rebuild_keeps_the_digests(
    served: tuple[str, Path], video_file: Path
) -> None:
    url, data = served
    # It says what to open and how to log in (issue 10: a new user had to guess).
    said = (data.parent / "serve.out").read_text()
    assert f"{url}/docs" in said and DEMO_PASSWORD in said and DEMO_USERS[0] in said, said
    with httpx.Client(base_url=url, timeout=30) as client:
        login = client.post(
            "/v1/sessions", json={"username": DEMO_USERS[0], "password": DEMO_PASSWORD}
        )
        assert login.status_code == 201
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        feed = client.get("/v1/feed/for-you", headers=auth).json()
        assert feed["items"], "the demo For You feed is empty"
        # A new user does the README tour: sign up, upload, like, comment, follow, message.
        me = sign_up(client, "newcomer")
        video_id = upload(client, me, video_file).json()["id"]
        client.post("/v1/events", json={"events": [{"type": "like", "video_id": video_id}]},
                    headers=auth)  # fmt: skip
        client.post(f"/v1/videos/{video_id}/comments", json={"text": "welcome"}, headers=auth)
        client.post(f"/v1/follows/{DEMO_USERS[0]}", headers=me)
        client.post("/v1/messages", json={"to": DEMO_USERS[0], "text": "hi"}, headers=me)

    # The data folder is locked while the server runs.
    locked = stormproof("rebuild", "--data", str(data))
    # rich wraps the message at the terminal's width, so a long path may split it
    assert locked.returncode == 2 and "in use" in " ".join(locked.stdout.split())

    live = stormproof("digest", "--data", str(data), "--json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["position"][0] > 0


def test_rebuild_from_zero_matches(tmp_path: Path, video_file: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    process = subprocess.Popen(
        [*STORMPROOF, "serve", "--port", str(port), "--data", str(data), "--no-demo"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).json()["ready"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        operator_of(url, data / "secret")
        with httpx.Client(base_url=url, timeout=30) as client:
            # --no-demo: nobody was seeded (the prober's own writes may be there)
            assert client.get("/v1/accounts/alice").status_code == 404
            alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
            video_id = upload(client, alice, video_file).json()["id"]
            client.post("/v1/events", json={"events": [
                {"type": "watch", "video_id": video_id, "watched_ms": 900, "completed": True},
                {"type": "like", "video_id": video_id},
            ]}, headers=bob)  # fmt: skip
            client.post(f"/v1/videos/{video_id}/comments", json={"text": "yes"}, headers=bob)
            client.post("/v1/follows/alice", headers=bob)
            client.post("/v1/messages", json={"to": "alice", "text": "hey"}, headers=bob)
            report = {"target": "video", "id": video_id, "reason": "spam"}
            assert client.post("/v1/reports", json=report, headers=bob).status_code == 201
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)

    before = json.loads(stormproof("digest", "--data", str(data), "--json").stdout)
    rebuilt = stormproof("rebuild", "--data", str(data))
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    after = json.loads(stormproof("digest", "--data", str(data), "--json").stdout)
    assert after == before
    assert before["position"][0] > 0 and len(before["views"]) == 22  # 21 views + the engine
    assert "status" in before["views"]
    assert "foryou" in before["views"]
    listed = stormproof("reports", "--data", str(data), "--json")
    assert listed.returncode == 0, listed.stderr
    [report] = json.loads(listed.stdout)
    assert (report["target"], report["reason"]) == ("video", "spam")


def test_serve_says_at_once_when_its_port_is_taken(tmp_path: Path) -> None:
    # Issue 10 (newcomer trial): serve printed "running" before failing to bind.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = subprocess.run(
            [*STORMPROOF, "serve", "--port", str(port), "--data", str(tmp_path / "var")],
            env=ENV, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert started.returncode == 2
    assert "cannot listen" in started.stdout and "is running on" not in started.stdout
    assert not (tmp_path / "var").exists()
