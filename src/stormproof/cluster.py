"""A local multi-region cluster: ports, state folders, start, kill, restore.

Each region is two processes, each in its own session: a nats-server (its
vote in the replicated log and its replica of every stream and bucket) and
the region's API, whose projector task is the region's view worker. State
lives in ``DIR/<region>/``; ``DIR/cluster.json`` records the layout and
``DIR/<region>/pids.json`` the running processes, so separate invocations of
``stormproof cluster`` can find them. A power cut is SIGKILL of both process
groups at once — never a graceful stop.

With ``wan`` (the drill's clusters), every connection that crosses regions —
each server's routes to its peers, each API's connections to other regions'
servers — goes to a port of the drill's WAN proxy (:meth:`LocalCluster.wan_links`
says which port forwards where), which delays and partitions it. The proxy
must run before :meth:`LocalCluster.up`: until it does, no route forms.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from stormproof.natsd import NatsServerSpec, start_server, wait_ready
from stormproof.operators import load_secret, operator_headers

#: every client of a local cluster (load generator, drill population) comes
#: from 127.0.0.1, so per-address limits would count them all as one (ADR 012);
#: the environment still wins
_LOOPBACK_LIMITS = {
    "STORMPROOF_SIGNUPS_PER_ADDRESS": "1000000",
    "STORMPROOF_LOGINS_PER_ADDRESS": "1000000",
}

#: how often each region of a local cluster makes a snapshot ahead, seconds
#: (about 40 s of one core at 1M log entries; milliseconds for a small one)
SNAPSHOT_EVERY_S = 600
#: and sooner once its views applied this many entries past the last one
#: (not within a minute of it): a region that lost its disks replays at
#: most about that many after the download, whatever the write rate
SNAPSHOT_EVERY_ENTRIES = 25_000
#: a restored region's log server starts once the region is ready, or after
#: this long if it is not ready sooner (its start may need that server: the
#: streams of a log with no entries yet are created with every replica)
SERVER_AFTER_S = 10.0

__all__ = [
    "REGION_NAMES",
    "SNAPSHOT_EVERY_S",
    "LocalCluster",
    "Progress",
    "RegionSpec",
    "WanLink",
    "catch_up_percent",
    "describe_catch_up",
    "recovery_split",
]

#: told a region's name and where it stands ("starting", "catching up 40 % ·
#: 120,345 left · ~14 s", "ready") each time that changes (the percentage, not
#: the figures after it), while `up` or `restore` waits for it
Progress = Callable[[str, str], None]

REGION_NAMES = ("us-east", "us-central", "us-west", "eu-west", "ap-south")
DEFAULT_BASE_PORT = 8100
#: a region's name: it names its folder and its nats-server
_REGION_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
#: with ``wan``, region i reaches region j's cluster port (its server's routes)
#: at ``base + _WAN_ROUTES + 10 i + j`` and its client port (its API's link) at
#: ``base + _WAN_CLIENTS + 10 i + j``, both through the proxy
_WAN_ROUTES = 300
_WAN_CLIENTS = 400


class WanLink(NamedTuple):
    """One port of the WAN proxy: it forwards ``listen_port`` to
    ``target_port``, carrying traffic from one region to another."""

    listen_port: int
    target_port: int
    from_region: str
    to_region: str


@dataclass(frozen=True)
class RegionSpec:
    name: str
    index: int
    api_port: int
    nats: NatsServerSpec

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def _process_state(pid: int) -> str | None:
    """The one-letter state of ``/proc/<pid>/stat`` (None: no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """True for a running (or stopped) process, false for a dead or zombie one."""
    return _process_state(pid) not in (None, "Z", "X")


def _stopped(pid: int) -> bool:
    """SIGSTOPped (``T``) or held by a tracer (``t``): it exists, it never answers."""
    return _process_state(pid) in ("T", "t")


def catch_up_percent(health: dict[str, Any]) -> int:
    """How far a region is through its catch-up, from its operator health
    details. While it reports one (``catch_up``): what it applied, over that
    and what is left — in this phase, and in the views too while the engine
    replays. Otherwise: the views' position summed over partitions, over the
    log's."""
    total = sum(health.get("log") or [])
    views = health.get("views") or {}
    done = sum(next(iter(views.values()))["position"]) if views else 0
    catch_up = health.get("catch_up")
    if catch_up:
        views_left = max(0, total - done) if catch_up["phase"] == "engine" else 0
        total, done = catch_up["applied"] + catch_up["remaining"] + views_left, catch_up["applied"]
    return 100 if total <= 0 else min(100, int(100 * done / total))


def describe_catch_up(percent: int, catch_up: dict[str, Any] | None) -> str:
    """``catching up 42 % · 120,345 left · ~14 s``: how far, and with the
    health's ``catch_up``, how many entries are left in this phase and, once
    a rate is known, how long they should take."""
    parts = [f"catching up {percent} %"]
    if catch_up:
        parts.append(f"{catch_up['remaining']:,} left")
        if catch_up.get("eta_s") is not None:
            eta = catch_up["eta_s"]
            parts.append(f"~{eta:.0f} s" if eta < 100 else f"~{eta / 60:.0f} min")
    return " · ".join(parts)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _ephemeral_low(default: int = 32768) -> int:
    """The lowest port the kernel hands out as a connection's own (local) port."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_base_port(count: int = 3, *, wan: bool = False) -> int:
    """A base port ``b`` such that ``b + i``, ``b + 100 + i`` and ``b + 200 + i``
    (``i < count``) are all free: the layout of a local cluster; with ``wan``,
    also its proxy's ``b + 300 + 10 i + j`` and ``b + 400 + 10 i + j``.

    The range lies below the kernel's ephemeral ports: a restored region binds
    its old ports again, and one of them must not have become some outgoing
    connection's local port while the region was down. ``STORMPROOF_PORT_SHARE``
    (``k/n``) draws only from the ``k``-th of ``n`` equal slices of it: the
    test suite's parallel workers each take one, so that one worker's cluster
    never takes the ports of the other's region while it is down."""
    rng = random.Random()
    reach = 500 if wan else 300  # above a base, room for the cluster's ports
    low = 10000
    top = max(min(_ephemeral_low(), 65536) - reach, low + 1)
    if share := os.environ.get("STORMPROOF_PORT_SHARE"):
        k, n = (int(part) for part in share.split("/"))
        width = (top - low) // n
        low, top = low + k * width, low + (k + 1) * width - reach
    for _ in range(200):
        base = rng.randrange(low, top)
        ports = [base + offset + i for offset in (0, 100, 200) for i in range(count)]
        if wan:
            pairs = [10 * i + j for i in range(count) for j in range(count)]
            ports += [base + offset + pair for offset in (300, 400) for pair in pairs]
        if all(port_free(port) for port in ports):
            return base
    raise RuntimeError("no free port range for a cluster")


def port_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalCluster:
    """Regions on loopback: API ports ``base + i``, NATS client ports
    ``base + 100 + i``, NATS cluster ports ``base + 200 + i``; with ``wan``,
    the proxy's ports ``base + 300 + 10 i + j`` (server i's route to server j)
    and ``base + 400 + 10 i + j`` (region i's API to server j)."""

    def __init__(self, folder: Path, regions: list[RegionSpec], *, wan: bool = False) -> None:
        self.folder = folder
        self.regions = {spec.name: spec for spec in regions}
        self.wan = wan
        self._base = regions[0].api_port  # region 0's API listens on the base port
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        #: settings (``STORMPROOF_*``) for the API processes this object starts
        self.env: dict[str, str] = {}
        self._closing = False

    @classmethod
    def _layout(
        cls, folder: Path, names: Sequence[str], base_port: int | None, wan: bool
    ) -> LocalCluster:
        if not 1 <= len(names) <= len(REGION_NAMES):
            raise ValueError(f"a local cluster has 1 to {len(REGION_NAMES)} regions")
        if len(set(names)) != len(names):
            raise ValueError(f"region names must differ: {', '.join(names)}")
        for name in names:
            if not _REGION_NAME.fullmatch(name):
                raise ValueError(f"a region name is lowercase letters, digits and -: {name!r}")
        base = base_port or DEFAULT_BASE_PORT

        def route(i: int, j: int) -> str:
            port = base + _WAN_ROUTES + 10 * i + j if wan else base + 200 + j
            return f"nats://127.0.0.1:{port}"

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
                    routes=tuple(route(i, j) for j in range(len(names)) if j != i),
                    # peers pass a server's advertised address on to servers
                    # they route to, which then connect to it directly: behind
                    # the proxy, give them a port that no link and no server
                    # uses (link i -> i), so that every route stays explicit
                    advertise=f"127.0.0.1:{base + _WAN_ROUTES + 11 * i}" if wan else None,
                ),
            )
            for i, name in enumerate(names)
        ]
        return cls(folder, regions, wan=wan)

    @classmethod
    def create(
        cls,
        folder: Path,
        count: int = 3,
        base_port: int | None = None,
        *,
        names: Sequence[str] | None = None,
        wan: bool = False,
    ) -> LocalCluster:
        """Lay out a new cluster in ``folder`` (or the same one again): ``count``
        regions named ``names`` (as many; default the first of
        :data:`REGION_NAMES`), behind a WAN proxy with ``wan``."""
        if not 1 <= count <= len(REGION_NAMES):
            raise ValueError(f"a local cluster has 1 to {len(REGION_NAMES)} regions")
        if names is not None and len(names) != count:
            raise ValueError(f"{count} regions, but {len(names)} names: {', '.join(names)}")
        cluster = cls._layout(folder, names or REGION_NAMES[:count], base_port, wan)
        folder.mkdir(parents=True, exist_ok=True)
        regions = list(cluster.regions.values())
        layout = {
            "base_port": regions[0].api_port,
            "regions": [{"name": r.name, "index": r.index} for r in regions],
            "wan": wan,
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
        regions = sorted(layout["regions"], key=lambda region: region["index"])
        names = [region["name"] for region in regions]
        return cls._layout(folder, names, layout["base_port"], layout.get("wan", False))

    # -- naming ---------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.regions)

    @property
    def urls(self) -> list[str]:
        return [spec.url for spec in self.regions.values()]

    @property
    def nats_urls(self) -> list[str]:
        """Every server's own client address, in region order."""
        return [spec.nats.url for spec in self.regions.values()]

    def nats_urls_for(self, name: str) -> list[str]:
        """The addresses region ``name``'s API connects to, in region order:
        with ``wan``, its own server directly and the others through the proxy."""
        i = self.spec(name).index
        return [
            f"nats://127.0.0.1:{self._base + _WAN_CLIENTS + 10 * i + j}"
            if self.wan and j != i
            else spec.nats.url
            for j, spec in enumerate(self.regions.values())
        ]

    def wan_links(self) -> list[WanLink]:
        """What the WAN proxy must forward (none without ``wan``): for each
        ordered pair of regions, one link for routes and one for the API."""
        specs = list(self.regions.values())
        return [
            link
            for a in specs
            for b in specs
            if self.wan and a is not b
            for link in (
                WanLink(
                    self._base + _WAN_ROUTES + 10 * a.index + b.index,
                    b.nats.cluster_port,
                    a.name,
                    b.name,
                ),
                WanLink(
                    self._base + _WAN_CLIENTS + 10 * a.index + b.index,
                    b.nats.client_port,
                    a.name,
                    b.name,
                ),
            )
        ]

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

    def _refuse_when_closing(self) -> None:
        if self._closing:
            raise RuntimeError("the cluster is being stopped: nothing starts now")

    def _record(self, name: str, role: str, proc: subprocess.Popen[bytes]) -> None:
        self._children[proc.pid] = proc
        pids = self.pids(name)
        pids[role] = proc.pid
        self._pids_file(name).write_text(json.dumps(pids))

    def _start_nats(self, name: str) -> None:
        self._refuse_when_closing()
        folder = self.region_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        self._record(name, "nats", start_server(self.spec(name).nats, folder / "nats.log"))

    def _start_api(self, name: str, *, demo: bool = False) -> None:
        self._refuse_when_closing()
        folder = self.region_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "stormproof.cli", "cluster", "region", name,
            "--data", str(self.folder), *(["--demo"] if demo else []),
        ]  # fmt: skip
        # A region that lost its disks restores from a peer's snapshot (ADR 017),
        # which every region keeps made ahead: the restoring one then waits
        # for the download and its checks only (47 s at 1M entries, not 84 s).
        others = [spec for spec in self.regions.values() if spec.name != name]
        defaults = {
            **_LOOPBACK_LIMITS,
            "STORMPROOF_PEERS": ",".join(spec.url for spec in others),
            # the prober names the regions it checks, down ones too (ADR 020)
            "STORMPROOF_PEER_NAMES": ",".join(spec.name for spec in others),
            "STORMPROOF_SNAPSHOT_EVERY_S": str(SNAPSHOT_EVERY_S),
            "STORMPROOF_SNAPSHOT_EVERY_ENTRIES": str(SNAPSHOT_EVERY_ENTRIES),
        }
        with (folder / "api.log").open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**defaults, **os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            )
        self._record(name, "api", proc)

    def up(
        self, timeout: float = 90.0, progress: Progress | None = None, *, demo: bool = False
    ) -> None:
        """Start every region and wait until each serves and is ready. With
        ``demo``, the first region seeds the demo community into an empty log
        (one region only: the demo's times come from that region's clock)."""
        for name in self.names:
            if "nats" not in self.pids(name):
                self._start_nats(name)
        wait_ready(self.nats_urls, timeout)
        for name in self.names:
            if "api" not in self.pids(name):
                self._start_api(name, demo=demo and self.spec(name).index == 0)
        for name in self.names:
            self.wait_ready(name, timeout, progress)

    def wait_ready(
        self,
        name: str,
        timeout: float = 90.0,
        progress: Progress | None = None,
        *,
        ready_or_late: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Wait until a region's API answers its health check with ``ready``;
        with ``progress``, say how far it is. Returns the last health answer
        (the operator's), with ``timeline``: seconds from the call until the
        API first answered, until each catch-up phase was first seen, and
        until ready — the recovery split the drill reports. ``ready_or_late``
        is called once, when the region is ready or :data:`SERVER_AFTER_S`
        have passed, whichever comes first."""
        started = time.monotonic()
        deadline = started + timeout
        timeline: dict[str, float] = {}
        told = ""
        while True:
            if "api" not in self.pids(name):
                raise RuntimeError(f"{name}'s API died: see {self.region_dir(name) / 'api.log'}")
            # Readiness from the public answer, which asks nothing of the log;
            # the phases from the operator's, which may be slow (it reads the
            # log's end, and a wiped region's replica is still catching up).
            health = self._health(name, {})
            late = time.monotonic() - started > SERVER_AFTER_S
            if ready_or_late is not None and (late or (health or {}).get("ready")):
                ready_or_late()
                ready_or_late = None
            if health is not None:
                health = self._health(name, self.operator) or health
                now = round(time.monotonic() - started, 2)
                timeline.setdefault("answered", now)
                if phase := (health.get("catch_up") or {}).get("phase"):
                    timeline.setdefault(phase, now)
                if health.get("ready"):
                    timeline["ready"] = now
            # A region busy seeding the demo may miss an answer: it is not
            # "starting" again, it stands where it was last told. What follows
            # the percentage (left, time) changes with every answer: tell
            # again when the percentage or the state does.
            stage = _stage(health) if health is not None or not told else told
            if progress and (headline := stage.partition(" · ")[0]) != told:
                progress(name, stage)
                told = headline
            if health and health.get("ready"):
                return {**health, "timeline": timeline}
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout} s")
            time.sleep(0.1)

    def _health(
        self, name: str, headers: dict[str, str], timeout: float = 1.0
    ) -> dict[str, Any] | None:
        """The region's health answer, or None if its API does not answer."""
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = httpx.get(self.spec(name).url + "/v1/health", headers=headers, timeout=timeout)
            health: dict[str, Any] = answer.json()
            return health
        return None

    def _signal(self, name: str, sig: signal.Signals) -> list[int]:
        pids = list(self.pids(name).values())
        for pid in pids:  # back to back: the same instant, as far as a region can tell
            _signal_group(pid, sig)
        return pids

    def _reap(self, pids: list[int]) -> dict[int, int | None]:
        """Wait for ``pids`` to end: each one's exit status where this process
        started it (``-9``: killed by SIGKILL), else None."""
        ended: dict[int, int | None] = {}
        for pid in pids:
            child = self._children.pop(pid, None)
            ended[pid] = None if child is None else child.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return ended

    def kill(self, name: str) -> dict[int, int | None]:
        """Power cut: SIGKILL every process of the region at once. Returns
        each process's exit status, as :meth:`_reap` gives it."""
        ended = self._reap(self._signal(self.spec(name).name, signal.SIGKILL))
        self._pids_file(name).unlink(missing_ok=True)
        return ended

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

    def restore(
        self,
        name: str,
        *,
        wipe: bool = False,
        timeout: float = 120.0,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Power returns; with ``wipe`` the region's disks are gone and it
        rebuilds everything from the surviving regions. Returns its health
        once ready, with the ``timeline`` of :meth:`wait_ready`."""
        self.kill(name)
        if wipe:
            shutil.rmtree(self.region_dir(name), ignore_errors=True)
        # The API first, its log server once the region is ready (ADR 036):
        # it serves from its peers' replicas, and its own server's rebuild
        # after a kill would otherwise take the disk and cores its start
        # needs. At once if the log needs this server for a quorum.
        self._start_api(name)
        server_started = False

        def start_server() -> None:
            nonlocal server_started
            if not server_started:
                server_started = True
                self._start_nats(name)

        others = sum(1 for other in self.names if other != name and "nats" in self.pids(other))
        if others < len(self.names) // 2 + 1:
            start_server()
        try:
            return self.wait_ready(name, timeout, progress, ready_or_late=start_server)
        finally:
            start_server()  # the API died, or was never ready: the replica still counts

    def down(self) -> None:
        """Stop every region: SIGCONT (frozen ones too), SIGTERM, then SIGKILL.
        Nothing starts once this began (a ``restore`` still running in
        another thread is refused), and a process started just before is
        stopped in a second round."""
        self._closing = True
        self._stop_all()
        self._stop_all()

    def _stop_all(self) -> None:
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

    def states(self, name: str) -> dict[int, str]:
        """Each process of the region and its state letter (``T``: stopped)."""
        return {pid: _process_state(pid) or "gone" for pid in self.pids(name).values()}

    def frozen(self, name: str) -> bool:
        """Whether the region's processes exist but are stopped (a gray failure)."""
        return any(_stopped(pid) for pid in self.pids(name).values())

    def status(self) -> list[dict[str, Any]]:
        """Each region: address, processes, state, and what its health check says."""
        return [self._status(name) for name in self.names]

    def _status(self, name: str) -> dict[str, Any]:
        """``state`` is ``down`` (no API process), ``frozen`` (processes stopped),
        ``starting`` (running, the API does not answer yet), ``catching up``
        (answers, not ready: ``progress`` says how far, in %, and ``catch_up``
        the phase, entries left, rate and time left as the health tells them)
        or ``up``. A
        frozen region is not asked anything: it would only time out."""
        spec = self.spec(name)
        processes = self.pids(name)
        row: dict[str, Any] = {
            "region": name,
            "api": spec.url,
            "nats": spec.nats.url,
            "processes": processes,
            "up": False,
            "state": "starting",
        }
        if "api" not in processes:  # no process, or only a log server: nothing serves
            row["state"] = "down"
        elif self.frozen(name):
            row["state"] = "frozen"
        health = self._health(name, self.operator) if row["state"] == "starting" else None
        if health is not None and "views" in health:
            row.update(
                up=True,
                state="up" if health["ready"] else "catching up",
                ready=health["ready"],
                log=health["log"],
                lag=max((v["lag"] for v in health["views"].values()), default=0),
                progress=catch_up_percent(health),
                catch_up=health.get("catch_up"),
            )
        return row

    def left_out(self) -> dict[str, str]:
        """The regions a comparison cannot include now, and why."""
        states = {row["region"]: row for row in self.status()}
        return {
            name: "not ready (catching up)" if row["state"] == "catching up" else row["state"]
            for name, row in states.items()
            if row["state"] != "up"
        }

    def _digest(self, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            url = self.spec(name).url + "/v1/digest"
            answer = httpx.get(url, headers=self.operator, timeout=5)
            taken: dict[str, Any] = answer.raise_for_status().json()
            return taken
        return None

    def digests(self, timeout: float = 5.0) -> dict[str, Any]:
        """The live regions' per-view digests, taken once they all stand at the
        same position, so that the figures are comparable.

        Frozen, dead, starting and catching-up regions are left out, with the
        reason, in ``left_out``: waiting for them would only wait out the
        timeout. ``agree`` is true or false once the live regions stood at one
        position, None (with ``position`` None) if they never did in
        ``timeout`` seconds — writes flowing, or a region stuck behind.
        """
        deadline = time.monotonic() + timeout
        while True:
            left_out = self.left_out()
            taken: dict[str, Any] = {}
            for name in self.names:
                if name not in left_out:
                    digest = self._digest(name)
                    if digest is None:
                        left_out[name] = "not answering"
                    else:
                        taken[name] = digest
            positions = {tuple(d["position"]) for d in taken.values()}
            if taken and len(positions) == 1:
                views = {json.dumps(d["views"], sort_keys=True) for d in taken.values()}
                agree, position = len(views) == 1, list(positions.pop())
                return _digests(position, agree, taken, left_out)
            if time.monotonic() > deadline:
                return _digests(None, None, taken, left_out)
            time.sleep(0.2)


def _digests(
    position: list[int] | None,
    agree: bool | None,
    regions: dict[str, Any],
    left_out: dict[str, str],
) -> dict[str, Any]:
    """The one shape of :meth:`LocalCluster.digests`' answer."""
    return {"position": position, "agree": agree, "regions": regions, "left_out": left_out}


def _stage(health: dict[str, Any] | None) -> str:
    """Where a region stands for a person watching it start."""
    if health is None:
        return "starting"
    if health.get("ready"):
        return "ready"
    if "log" in health and health["log"] is not None:
        return describe_catch_up(catch_up_percent(health), health.get("catch_up"))
    return "catching up"


def recovery_split(health: dict[str, Any]) -> dict[str, float]:
    """Where a restore's seconds went, from :meth:`LocalCluster.restore`'s
    timeline and the region's ``restored`` report: ``start`` (the processes
    until the API answered), then each catch-up phase seen — ``snapshot``
    (a peer's snapshot made, downloaded, verified: ``download`` and
    ``verify`` of it), ``engine``, ``views`` — until the next one or ready.
    A phase shorter than one health check may be missed."""
    timeline: dict[str, float] = health.get("timeline", {})
    split: dict[str, float] = {}
    if "answered" in timeline:
        split["start"] = timeline["answered"]
    phases = sorted((t, name) for name, t in timeline.items() if name in _PHASES)
    ends = [t for t, _ in phases[1:]] + [timeline.get("ready", 0.0)] * bool(phases)
    for (begun, name), ended in zip(phases, ends, strict=True):
        split[name] = round(max(0.0, ended - begun), 2)
    restored = health.get("restored") or {}
    if restored.get("peer"):
        split["download"] = restored.get("download_s", 0.0)
        split["verify"] = restored.get("verify_s", 0.0)
    return split


#: the catch-up's phases, as ``/v1/health`` names them
_PHASES = ("snapshot", "engine", "views")
