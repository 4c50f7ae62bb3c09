"""The README's cluster commands, run as a user runs them: separate processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stormproof.cluster import LocalCluster
from stormproof.cluster_cli import _state
from stormproof.testing import free_base_port


def cluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stormproof.cli", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "COLUMNS": "80"},  # a terminal's width, as rich sees it
    )


def test_up_kill_restore_digest_down(tmp_path: Path) -> None:
    data = str(tmp_path / "cluster")
    up = cluster("up", "--data", data, "--base-port", str(free_base_port()))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "us-east" in up.stdout and "us-west" in up.stdout
        for name in ("us-east", "us-central", "us-west"):
            assert f"{name}: ready" in up.stdout, up.stdout

        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert [r["up"] for r in status] == [True, True, True]

        assert cluster("kill", "us-east", "--data", data).returncode == 0
        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert [r["up"] for r in status] == [False, True, True]
        assert [r["state"] for r in status] == ["down", "up", "up"]
        assert status[0]["processes"] == {}

        restored = cluster("restore", "us-east", "--data", data, "--wipe")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "us-east: starting" in restored.stdout and "us-east: ready" in restored.stdout
        assert "restored from nothing and ready (start " in restored.stdout, restored.stdout
        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert all(r["up"] and r["ready"] for r in status)
        assert [r["state"] for r in status] == ["up", "up", "up"]

        digest = json.loads(cluster("digest", "--data", data, "--json").stdout)
        assert digest["position"] is not None
        assert len({json.dumps(d["views"]) for d in digest["regions"].values()}) == 1

        unknown = cluster("kill", "mars", "--data", data)
        assert unknown.returncode == 2 and "no region" in unknown.stdout
    finally:
        assert cluster("down", "--data", data).returncode == 0
    status = json.loads(cluster("status", "--data", data, "--json").stdout)
    assert not any(r["up"] for r in status)


def test_status_wraps_addresses_in_80_columns_and_digest_names_what_it_left_out(
    tmp_path: Path,
) -> None:
    # Guards issue 10: after `freeze` (the README's order) `cluster digest` took
    # 33 s, silently left the frozen region out, printed `position: null` and
    # exited 0; `cluster status` showed a frozen region as dead and cut URLs
    # in an 80-column terminal; and diverged regions still exited 0.
    data = tmp_path / "cluster"
    up = cluster("up", "--data", str(data), "--base-port", str(free_base_port()))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        local = LocalCluster.load(data)
        with httpx.Client(timeout=30) as http:
            account = {"username": "firsthour", "password": "a long password"}
            assert http.post(local.urls[0] + "/v1/accounts", json=account).status_code == 201

        table = cluster("status", "--data", str(data)).stdout
        assert "…" not in table and all(url in table for url in local.urls), table

        assert cluster("freeze", "us-central", "--data", str(data)).returncode == 0
        status = json.loads(cluster("status", "--data", str(data), "--json").stdout)
        assert [r["state"] for r in status] == ["up", "frozen", "up"]
        assert "frozen" in cluster("status", "--data", str(data)).stdout

        taken = cluster("digest", "--data", str(data), "--json")
        assert taken.returncode == 0, taken.stdout + taken.stderr
        digest = json.loads(taken.stdout)
        assert set(digest) == {"position", "agree", "regions", "left_out"}
        assert digest["agree"] is True and digest["position"] is not None
        assert sorted(digest["regions"]) == ["us-east", "us-west"]
        assert digest["left_out"] == {"us-central": "frozen"}
        shown = cluster("digest", "--data", str(data))
        assert "us-central left out: frozen" in shown.stdout, shown.stdout

        assert cluster("thaw", "us-central", "--data", str(data)).returncode == 0
        local.wait_ready("us-central")
        views = local.region_dir("us-west") / "region" / "views.sqlite"
        with sqlite3.connect(views, timeout=10) as db:  # a region that diverged
            db.execute("UPDATE accounts SET username = 'tampered'")
        diverged = cluster("digest", "--data", str(data))
        assert diverged.returncode == 1, diverged.stdout + diverged.stderr
        assert "DIFFER" in diverged.stdout

        assert cluster("kill", "us-west", "--data", str(data)).returncode == 0
        status = json.loads(cluster("status", "--data", str(data), "--json").stdout)
        assert [r["state"] for r in status] == ["up", "up", "down"]
    finally:
        assert cluster("down", "--data", str(data)).returncode == 0


def test_up_with_demo_seeds_the_demo_community_once(tmp_path: Path) -> None:
    # Issue 10: `cluster up --demo` shows the product as `serve` does; only
    # the first region seeds (the demo's times come from its clock).
    data = str(tmp_path / "cluster")
    up = cluster("up", "--data", data, "--regions", "2", "--base-port", str(free_base_port()),
                 "--demo")  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        layout = LocalCluster.load(Path(data))
        with httpx.Client(timeout=30) as client:
            for spec in layout.regions.values():  # every region serves the demo people
                login = {"username": "alice", "password": "stormproof-demo"}
                for _ in range(100):
                    session = client.post(spec.url + "/v1/sessions", json=login)
                    if session.status_code == 201:
                        break
                    time.sleep(0.1)  # the second region may still be applying the demo
                assert session.status_code == 201, session.text
            token = {"Authorization": f"Bearer {session.json()['token']}"}
            page = client.get(spec.url + "/v1/feed/for-you?explain=1", headers=token).json()
            assert any("collaborative" in i["explain"]["sources"] for i in page["items"])
        digest = json.loads(cluster("digest", "--data", data, "--json").stdout)
        assert len({json.dumps(d["views"]) for d in digest["regions"].values()}) == 1
    finally:
        assert cluster("down", "--data", data).returncode == 0


def test_the_status_table_says_how_much_a_catching_up_region_has_left() -> None:
    catch_up = {"phase": "views", "remaining": 120_345, "applied": 87_000, "per_s": 8500.0,
                "eta_s": 14.2}  # fmt: skip
    row = {"region": "us-east", "state": "catching up", "progress": 42, "catch_up": catch_up}
    assert _state(row) == "[yellow]catching up 42 % · 120,345 left · ~14 s"
    assert _state({**row, "state": "up"}) == "[green]up"
