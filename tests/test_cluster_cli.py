"""The README's cluster commands, run as a user runs them: separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stormproof.testing import free_base_port


def cluster(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stormproof.cli", "cluster", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_kill_restore_digest_down(tmp_path: Path) -> None:
    data = str(tmp_path / "cluster")
    up = cluster("up", "--data", data, "--base-port", str(free_base_port()))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "us-east" in up.stdout and "us-west" in up.stdout

        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert [r["up"] for r in status] == [True, True, True]

        assert cluster("kill", "us-east", "--data", data).returncode == 0
        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert [r["up"] for r in status] == [False, True, True]
        assert status[0]["processes"] == {}

        restored = cluster("restore", "us-east", "--data", data, "--wipe")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        status = json.loads(cluster("status", "--data", data, "--json").stdout)
        assert all(r["up"] and r["ready"] for r in status)

        digest = json.loads(cluster("digest", "--data", data, "--json").stdout)
        assert digest["position"] is not None
        assert len({json.dumps(d["views"]) for d in digest["regions"].values()}) == 1

        unknown = cluster("kill", "mars", "--data", data)
        assert unknown.returncode == 2 and "no region" in unknown.stdout
    finally:
        assert cluster("down", "--data", data).returncode == 0
    status = json.loads(cluster("status", "--data", data, "--json").stdout)
    assert not any(r["up"] for r in status)
