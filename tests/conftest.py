"""Shared fixtures: a real server on loopback, real files, real videos."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from stormproof.logs import configure_logs
from stormproof.natsd import NatsCluster
from stormproof.operators import load_secret, operator_headers
from stormproof.settings import Settings
from stormproof.testing import LiveServer, free_port
from tests.natsd_fixtures import running_cluster

# Nothing is timed in a test (the machine is shared and noisy): no deadline
# for a Hypothesis example either (one took 390 ms once under load, against
# the default 200 ms, and failed a CI run).
hypothesis_settings.register_profile("stormproof", deadline=None)
hypothesis_settings.load_profile("stormproof")

#: every collected test ran (and how files would share two xdist workers)
pytest_plugins = ["tests.workers"]

__all__ = [
    "JsonLines",
    "LiveServer",
    "free_port",
    "health",
    "make_settings",
    "operator_of",
    "sign_up",
    "upload",
]

#: cheap password hashing in tests (Argon2id memory, KiB); production uses 2**16
TEST_PASSWORD_COST = 2**8
PASSWORD = "correct horse battery"
#: regions the tests start as processes (LocalCluster, `stormproof serve`) make
#: no HLS ladder unless a test asks (tests/test_cluster_hls.py sets it in the
#: cluster's env): two cores stay for what the suite measures
os.environ.setdefault("STORMPROOF_TRANSCODE", "0")
#: every test client comes from 127.0.0.1: per-address limits out of the way
#: unless a test sets them (tests/api/test_limits.py)
LOOPBACK_LIMITS = {"signups_per_address": 10**6, "logins_per_address": 10**6}


def make_settings(data_dir: Path, **values: Any) -> Settings:
    """A test region's settings: cheap hashing, loopback limits out of the
    way, and no prober unless a test asks for one (its writes would move
    the log positions other tests check)."""
    defaults = {
        "region": "test",
        "password_cost": TEST_PASSWORD_COST,
        "probe_every_s": 0,
        # no HLS ladder unless a test asks for one (tests/api/test_hls.py): it costs seconds of CPU
        "transcode": False,
        **LOOPBACK_LIMITS,
    }
    return Settings(data_dir=data_dir, **{**defaults, **values})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "region")


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def operator_of(url: str, secret_path: Path) -> dict[str, str]:
    """Remember the operator headers of a server tests started by other
    means than :class:`LiveServer` (which remembers its own)."""
    LiveServer.operators[url.rstrip("/")] = operator_headers(load_secret(secret_path))
    return LiveServer.operators[url.rstrip("/")]


def health(client: httpx.Client) -> dict[str, Any]:
    """The health details of the server ``client`` talks to, as its operator."""
    headers = LiveServer.operators.get(str(client.base_url).rstrip("/"), {})
    answer: dict[str, Any] = client.get("/v1/health", headers=headers).json()
    return answer


def sign_up(client: httpx.Client, username: str) -> dict[str, str]:
    """Create an account, log in, and return the Authorization header."""
    created = client.post("/v1/accounts", json={"username": username, "password": PASSWORD})
    assert created.status_code == 201, created.text
    session = client.post("/v1/sessions", json={"username": username, "password": PASSWORD})
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


class JsonLines(io.StringIO):
    """What :func:`~stormproof.logs.configure_logs` wrote, as a program's
    stderr would hold it."""

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """The logs of this process in JSON, as ``stormproof serve`` writes them
    (at ``info``), captured for the test; the logging set-up is put back after."""
    root = logging.getLogger()
    level = root.level
    stream = JsonLines()
    handler = configure_logs("json", "info", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def video_file(video_dir: Path) -> Path:
    """A real 2-second H.264 MP4 made with PyAV, shared by the whole session."""
    from stormproof.media import make_video

    return make_video(video_dir / "clip.mp4", seconds=2.0, seed=1)


def upload(
    client: httpx.Client,
    auth: dict[str, str],
    path: Path,
    caption: str = "a clip",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    with path.open("rb") as f:
        return client.post(
            "/v1/videos",
            headers={**auth, **(headers or {})},
            files={"file": (path.name, f, "video/mp4")},
            data={"caption": caption},
        )


@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A real 3-server nats cluster for a whole module: its tests use their own
    streams and buckets, and never kill it."""
    yield from running_cluster(tmp_path_factory.mktemp("nats"))


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A cluster for one test, which may kill, freeze and restart its servers."""
    yield from running_cluster(tmp_path_factory.mktemp("nats"))
