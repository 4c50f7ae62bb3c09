"""A local multi-region cluster: ports, state folders, start, kill, restore.

Each region is two processes, each in its own session: a nats-server (its
vote in the replicated log and its replica of every stream and bucket) and
the region's API, whose projector task is the region's view worker. State
lives in ``DIR/<region>/``; ``DIR/cluster.json`` records the layout and
``DIR/<region>/pids.json`` the running processes, so separate invocations of
``stormproof cluster`` can find them. A power cut is SIGKILL of both process
groups at once — never a graceful stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stormproof.natsd import NatsServerSpec, start_server, wait_ready
from stormproof.operators import operator_headers
from stormproof.region import load_secret

#: every client of a local cluster (load generator, drill population) comes
#: from 127.0.0.1, so per-address limits would count them all as one (ADR 012);
#: the environment still wins
_LOOPBACK_LIMITS = {
    "STORMPROOF_SIGNUPS_PER_ADDRESS": "1000000",
    "STORMPROOF_LOGINS_PER_ADDRESS": "1000000",
}

__all__ = ["REGION_NAMES", "LocalCluster", "RegionSpec"]

REGION_NAMES = ("us-east", "us-central", "us-west", "eu-west", "ap-south")
DEFAULT_BASE_PORT = 8100


@dataclass(frozen=True)
class RegionSpec:
    name: str
    index: int
    api_port: int
    nats: NatsServerSpec

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def _alive(pid: int) -> bool:
    """True for a running (or stopped) process, false for a dead or zombie one."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class LocalCluster:
    """``count`` regions on loopback: API ports ``base + i``, NATS client ports
    ``base + 100 + i``, NATS cluster ports ``base + 200 + i``."""

    def __init__(self, folder: Path, regions: list[RegionSpec]) -> None:
        self.folder = folder
        self.regions = {spec.name: spec for spec in regions}
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    @classmethod
    def _layout(cls, folder: Path, count: int, base_port: int | None) -> LocalCluster:
        if not 1 <= count <= len(REGION_NAMES):
            raise ValueError(f"a local cluster has 1 to {len(REGION_NAMES)} regions")
        base = base_port or DEFAULT_BASE_PORT
        names = REGION_NAMES[:count]
        routes = [f"nats://127.0.0.1:{base + 200 + i}" for i in range(count)]
        regions = [
            RegionSpec(
                name=name,
                index=i,
                api_port=base + i,
                nats=NatsServerSpec(
                    name=name,
                    client_port=base + 100 + i,
                    cluster_port=base + 200 + i,
                    store_dir=folder / name / "jetstream",
                    routes=tuple(r for j, r in enumerate(routes) if j != i),
                ),
            )
            for i, name in enumerate(names)
        ]
        return cls(folder, regions)

    @classmethod
    def create(cls, folder: Path, count: int = 3, base_port: int | None = None) -> LocalCluster:
        """Lay out a new cluster in ``folder`` (or the same one again)."""
        cluster = cls._layout(folder, count, base_port)
        folder.mkdir(parents=True, exist_ok=True)
        regions = list(cluster.regions.values())
        layout = {
            "base_port": regions[0].api_port,
            "regions": [{"name": r.name, "index": r.index} for r in regions],
        }
        (folder / "cluster.json").write_text(json.dumps(layout, indent=2))
        load_secret(folder / "secret")  # one token-signing secret for every region
        return cluster

    @classmethod
    def load(cls, folder: Path) -> LocalCluster:
        try:
            layout = json.loads((folder / "cluster.json").read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no cluster in {folder}: run `stormproof cluster up`"
            ) from None
        return cls._layout(folder, len(layout["regions"]), layout["base_port"])

    # -- naming ---------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.regions)

    @property
    def urls(self) -> list[str]:
        return [spec.url for spec in self.regions.values()]

    @property
    def nats_urls(self) -> list[str]:
        return [spec.nats.url for spec in self.regions.values()]

    def spec(self, name: str) -> RegionSpec:
        if name not in self.regions:
            raise KeyError(f"no region {name!r}; regions: {', '.join(self.regions)}")
        return self.regions[name]

    def region_dir(self, name: str) -> Path:
        return self.folder / name

    # -- processes ------------------------------------------------------------

    def _pids_file(self, name: str) -> Path:
        return self.region_dir(name) / "pids.json"

    def pids(self, name: str) -> dict[str, int]:
        try:
            pids: dict[str, int] = json.loads(self._pids_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {role: pid for role, pid in pids.items() if _alive(pid)}

    def _record(self, name: str, role: str, proc: subprocess.Popen[bytes]) -> None:
        self._children[proc.pid] = proc
        pids = self.pids(name)
        pids[role] = proc.pid
        self._pids_file(name).write_text(json.dumps(pids))

    def _start_nats(self, name: str) -> None:
        folder = self.region_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        self._record(name, "nats", start_server(self.spec(name).nats, folder / "nats.log"))

    def _start_api(self, name: str) -> None:
        folder = self.region_dir(name)
        command = [
            sys.executable, "-m", "stormproof.cli", "cluster", "region", name,
            "--data", str(self.folder),
        ]  # fmt: skip
        with (folder / "api.log").open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**_LOOPBACK_LIMITS, **os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._record(name, "api", proc)

    def up(self, timeout: float = 90.0) -> None:
        """Start every region and wait until each serves and is ready."""
        for name in self.names:
            if "nats" not in self.pids(name):
                self._start_nats(name)
        wait_ready(self.nats_urls, timeout)
        for name in self.names:
            if "api" not in self.pids(name):
                self._start_api(name)
        for name in self.names:
            self.wait_ready(name, timeout)

    def wait_ready(self, name: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until a region's API answers its health check with ``ready``."""
        deadline = time.monotonic() + timeout
        url = self.spec(name).url + "/v1/health"
        while True:
            if "api" not in self.pids(name):
                raise RuntimeError(f"{name}'s API died: see {self.region_dir(name) / 'api.log'}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health: dict[str, Any] = httpx.get(url, timeout=1).json()
                if health.get("ready"):
                    return health
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout} s")
            time.sleep(0.1)

    def _signal(self, name: str, sig: signal.Signals) -> list[int]:
        pids = list(self.pids(name).values())
        for pid in pids:  # back to back: the same instant, as far as a region can tell
            _signal_group(pid, sig)
        return pids

    def _reap(self, pids: list[int]) -> None:
        for pid in pids:
            child = self._children.pop(pid, None)
            if child is not None:
                child.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    def kill(self, name: str) -> None:
        """Power cut: SIGKILL every process of the region at once."""
        self._reap(self._signal(self.spec(name).name, signal.SIGKILL))
        self._pids_file(name).unlink(missing_ok=True)

    def kill_all(self) -> None:
        """Every region loses power at the same instant."""
        pids = [pid for name in self.names for pid in self._signal(name, signal.SIGKILL)]
        self._reap(pids)
        for name in self.names:
            self._pids_file(name).unlink(missing_ok=True)

    def freeze(self, name: str) -> None:
        """A gray failure: every process of the region stops, sockets stay open."""
        self._signal(self.spec(name).name, signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        self._signal(self.spec(name).name, signal.SIGCONT)

    def restore(self, name: str, *, wipe: bool = False, timeout: float = 120.0) -> None:
        """Power returns; with ``wipe`` the region's disks are gone and it
        rebuilds everything from the surviving regions."""
        self.kill(name)
        if wipe:
            shutil.rmtree(self.region_dir(name), ignore_errors=True)
        self._start_nats(name)
        self._start_api(name)
        self.wait_ready(name, timeout)

    def down(self) -> None:
        """Stop every region: SIGCONT (frozen ones too), SIGTERM, then SIGKILL."""
        everything = {name: self.pids(name) for name in self.names}
        for pids in everything.values():
            for pid in pids.values():
                _signal_group(pid, signal.SIGCONT)
                _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, pids in everything.items():
            for pid in pids.values():
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                _signal_group(pid, signal.SIGKILL)
            self._reap(list(pids.values()))
            self._pids_file(name).unlink(missing_ok=True)

    # -- observing ------------------------------------------------------------

    @property
    def operator(self) -> dict[str, str]:
        """Headers of an operator of every region (they share one secret)."""
        return operator_headers(load_secret(self.folder / "secret"))

    def status(self) -> list[dict[str, Any]]:
        """Each region: address, processes, and what its health check says."""
        rows = []
        for spec in self.regions.values():
            row: dict[str, Any] = {
                "region": spec.name,
                "api": spec.url,
                "nats": spec.nats.url,
                "processes": self.pids(spec.name),
                "up": False,
            }
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = httpx.get(spec.url + "/v1/health", headers=self.operator, timeout=1).json()
                row.update(
                    up=True,
                    ready=health["ready"],
                    log=health["log"],
                    lag=max(v["lag"] for v in health["views"].values()),
                )
            rows.append(row)
        return rows

    def digests(self, timeout: float = 30.0) -> dict[str, Any]:
        """Every live region's per-view digests, taken once they all stand at
        the same position (so the figures are comparable)."""
        deadline = time.monotonic() + timeout
        while True:
            taken: dict[str, Any] = {}
            for spec in self.regions.values():
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = httpx.get(spec.url + "/v1/digest", headers=self.operator, timeout=5)
                    taken[spec.name] = answer.raise_for_status().json()
            positions = {tuple(d["position"]) for d in taken.values()}
            if taken and len(positions) == 1:
                return {"position": list(positions.pop()), "regions": taken}
            if time.monotonic() > deadline:
                return {"position": None, "regions": taken}
            time.sleep(0.2)
