"""Three regions on loopback, real processes, real power cuts (SIGKILL).

Several users write continuously (messages, comments, uploads) through
the SDK while a region is killed, frozen or wiped, and restored. Every write
is then classified in every region, as Jepsen does: lost (acknowledged but
absent) and duplicated must be 0, and once caught up every region shows the
same digests. The longest time without an acknowledged write is printed —
timings are figures for benchmarks/failover.py, never assertions here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from stormproof.client import Client
from stormproof.cluster import LocalCluster, _stage, catch_up_percent
from stormproof.loadgen import Workload, check, longest_gap
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.conftest import PASSWORD


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    folder = tmp_path_factory.mktemp("cluster")
    cluster = LocalCluster.create(folder, 3, free_base_port())
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return make_video(path, seconds=0.4, width=64, height=64).read_bytes()


async def _under_load(
    cluster: LocalCluster, video: bytes, fault: str, region: str, *, wipe: bool = False
) -> Workload:
    """Write continuously; fault ``region`` once every user writes; recover it 2.5 s later."""
    workload = Workload(cluster.urls, users=3, video=video, attempt_timeout=0.5)
    await workload.setup()
    running = asyncio.create_task(workload.run())
    await _every_user_writes(workload)
    if fault == "kill":
        await asyncio.to_thread(cluster.kill, region)
        await asyncio.sleep(2.5)
        await asyncio.to_thread(cluster.restore, region, wipe=wipe)
    elif fault == "freeze":
        await asyncio.to_thread(cluster.freeze, region)
        await asyncio.sleep(2.5)
        await asyncio.to_thread(cluster.thaw, region)
    await asyncio.sleep(1.5)
    workload.stop()
    await running
    return workload


async def _every_user_writes(workload: Workload) -> None:
    """Wait until every user had a write acknowledged. A fixed 1.5 s was
    shorter than the log-ins on a loaded machine: the fault then came before
    any write, and a power cut of every region failed the log-ins instead."""
    while True:
        if {op.user for op in workload.ops if op.outcome == "ok"} == set(workload.names):
            break
        await asyncio.sleep(0.05)  # the workload has no event to wait on
    await asyncio.sleep(0.5)  # a few writes more, so the fault cuts some in flight


async def _assert_consistent(cluster: LocalCluster, workload: Workload) -> None:
    for name in cluster.names:
        await asyncio.to_thread(cluster.wait_ready, name)
    for url in cluster.urls:
        verdict = await check(workload, url)
        assert verdict.ok > 0
        assert (verdict.lost, verdict.duplicated) == (0, 0), (url, verdict.details)
    digests = await asyncio.to_thread(cluster.digests, 60)
    assert digests["position"] is not None, "regions never stood at one position"
    views = {tuple(sorted(d["views"].items())) for d in digests["regions"].values()}
    assert len(views) == 1 and len(digests["regions"]) == 3, digests
    ok = [op for op in workload.ops if op.outcome == "ok"]
    print(f"\n{len(ok)} acknowledged writes, longest write gap {longest_gap(workload.ops):.3f} s")


async def test_killing_the_region_clients_use_loses_nothing(
    cluster: LocalCluster, video: bytes
) -> None:
    # Clients start on us-east, whose server also leads partition 0.
    workload = await _under_load(cluster, video, "kill", "us-east")
    regions = {op.region for op in workload.ops if op.outcome == "ok"}
    assert len(regions) >= 2, "the writes never left the killed region"
    await _assert_consistent(cluster, workload)


async def test_a_region_whose_disks_are_lost_rebuilds_from_the_others(
    cluster: LocalCluster, video: bytes
) -> None:
    # Whatever the history's length, the region takes a peer's snapshot at P
    # (written to while it is made), then replays the tail past P, with the
    # writes going on meanwhile: ADR 017's whole path.
    cluster.env["STORMPROOF_RESTORE_MIN_ENTRIES"] = "0"
    try:
        workload = await _under_load(cluster, video, "kill", "us-central", wipe=True)
    finally:
        del cluster.env["STORMPROOF_RESTORE_MIN_ENTRIES"]
    await _assert_consistent(cluster, workload)
    url = cluster.spec("us-central").url
    async with httpx.AsyncClient(headers=cluster.operator) as client:
        restored = (await client.get(f"{url}/v1/health")).json()["restored"]
    assert restored["peer"] in cluster.urls and restored["position"] is not None, restored
    assert sum(restored["position"]) > 0 and restored["bytes"] > 0, restored


async def test_a_restarted_region_is_ready_and_takes_writes_before_its_own_server_runs(
    cluster: LocalCluster, video: bytes
) -> None:
    # A restore starts the region's API first and its log server once the
    # region is ready (ADR 036): it must get ready from its peers' replicas
    # alone, with writes going on, and lose nothing once its own server is
    # back and catches up.
    victim = "us-west"
    workload = Workload(cluster.urls, users=3, video=video, attempt_timeout=0.5)
    await workload.setup()
    running = asyncio.create_task(workload.run())
    await _every_user_writes(workload)
    await asyncio.to_thread(cluster.kill, victim)
    try:
        await asyncio.to_thread(cluster._start_api, victim)
        health = await asyncio.to_thread(cluster.wait_ready, victim)
        assert health["ready"] and "nats" not in cluster.pids(victim)
        login = {"username": "wendy", "password": PASSWORD}
        async with httpx.AsyncClient(base_url=cluster.spec(victim).url, timeout=30) as client:
            assert (await client.post("/v1/accounts", json=login)).status_code == 201
            # signing in reads the account just written, in the same region
            assert (await client.post("/v1/sessions", json=login)).status_code == 201
        assert "nats" not in cluster.pids(victim)
    finally:
        await asyncio.to_thread(cluster._start_nats, victim)
    await asyncio.sleep(1.5)
    workload.stop()
    await running
    await _assert_consistent(cluster, workload)


async def test_a_frozen_region_loses_nothing(cluster: LocalCluster, video: bytes) -> None:
    workload = await _under_load(cluster, video, "freeze", "us-east")
    await _assert_consistent(cluster, workload)


#: what asyncio logs for a future or task that a region dropped half-handled
_DROPPED_FUTURES = ("exception was never retrieved", "Task was destroyed but it is pending")


async def test_a_frozen_peer_leaves_no_dropped_futures_in_the_healthy_regions(
    cluster: LocalCluster, video: bytes
) -> None:
    # Guards issue 10: while a peer was frozen and writes flowed, a healthy
    # region's log poll, cut short by its own appends, was cancelled and never
    # awaited, and api.log filled with "_GatheringFuture exception was never
    # retrieved ... CancelledError" tracebacks.
    healthy = ["us-east", "us-central"]
    logs = {name: cluster.region_dir(name) / "api.log" for name in healthy}
    offsets = {name: path.stat().st_size for name, path in logs.items()}
    await _under_load(cluster, video, "freeze", "us-west")
    for name, path in logs.items():
        with path.open(errors="replace") as f:
            f.seek(offsets[name])
            dropped = [line for line in f if any(s in line for s in _DROPPED_FUTURES)]
        assert not dropped, f"{name}'s api.log: {dropped[:3]}"


async def test_all_regions_killed_at_once_keep_every_acknowledged_write(
    cluster: LocalCluster, video: bytes
) -> None:
    workload = Workload(cluster.urls, users=3, video=video, attempt_timeout=0.5)
    await workload.setup()
    running = asyncio.create_task(workload.run())
    await _every_user_writes(workload)
    await asyncio.to_thread(cluster.kill_all)
    workload.stop()
    await running
    await asyncio.to_thread(cluster.up)
    await _assert_consistent(cluster, workload)


async def test_a_users_own_actions_stay_ordered_across_regions(
    cluster: LocalCluster, video: bytes
) -> None:
    """Each write goes to another region, as after failovers, and the first is
    stamped 30 s ahead, as by a region whose clock runs fast. The SDK sends
    each write's time as Stormproof-After on the next, so the later action
    still wins in every region (without it the like would outlive the unlike)."""
    east, central, west = cluster.urls
    ahead = str(int(time.time() * 1000) + 30_000)
    async with Client([east], deadline=20) as c:
        await c.sign_up("orderer", "order-password")
        await c.sign_up("friend", "order-password")
        await c.log_in("friend", "order-password")
        video_id = (await c.upload(video, caption="target"))["id"]
        comment = (await c.post(f"/v1/videos/{video_id}/comments", json={"text": "x"})).json()
        await c.log_in("orderer", "order-password")
        like = {"events": [{"type": "like", "video_id": video_id}]}
        await c.post("/v1/events", json=like, headers={"Stormproof-Write-At": ahead})
        steps = [
            ("POST", "/v1/events", {"events": [{"type": "unlike", "video_id": video_id}]}),
            ("POST", "/v1/follows/friend", None),
            ("DELETE", "/v1/follows/friend", None),
            *(("POST", "/v1/messages", {"to": "friend", "text": f"m{n}"}) for n in range(3)),
        ]
        for i, (method, path, body) in enumerate(steps):
            c.regions = [(central, west, east)[i % 3]]
            await c.request(method, path, json=body)
        # The friend deletes the comment in one region right after posting it in another.
        await c.log_in("friend", "order-password")
        c.regions = [west]
        await c.delete(f"/v1/comments/{comment['id']}")
    for url in cluster.urls:
        async with Client([url], deadline=20) as reader:
            await reader.log_in("friend", "order-password")
            path = "/v1/conversations/orderer/messages"
            await _until(reader, path, lambda b: [m["text"] for m in b] == ["m0", "m1", "m2"])
            await _until(
                reader,
                f"/v1/videos/{video_id}",
                lambda b: b["counts"]["likes"] == 0 and b["counts"]["comments"] == 0,
            )
            await _until(reader, "/v1/accounts/friend", lambda b: b["followers"] == 0)


async def _until(client: Client, path: str, done: Callable[[Any], bool]) -> None:
    body: Any = None
    for _ in range(100):
        body = (await client.get(path)).json()
        if done(body):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never reached the expected state: {body}")


async def test_a_poisoned_entry_stops_no_region_and_every_region_agrees(
    cluster: LocalCluster,
) -> None:
    # Guards finding 1 of issue 9: an entry no view could apply replicated to
    # every region and stopped them all. Bytes no event decodes from, and an
    # event stamped past SQLite's INTEGER, are published straight to a log
    # stream (as a buggy writer could), then normal writes go on.
    nc = await nats.connect(cluster.nats_urls[0])
    try:
        huge_at = {"type": "follow.started", "v": 1, "id": "e" * 32, "at": 2**63}
        bodies = [b"\xff{", json.dumps({**huge_at, "actor": "u", "data": {"followee_id": "x"}})]
        for n, body in enumerate(bodies):
            raw = body if isinstance(body, bytes) else body.encode()
            await nc.request("log.0", raw, headers={"Nats-Msg-Id": f"poison-{n}"}, timeout=5)
    finally:
        await nc.close()
    async with Client(cluster.urls) as client:
        await client.sign_up("afterpoison", "a long password")
    for name in cluster.names:
        await asyncio.to_thread(cluster.wait_ready, name)
    digests = await asyncio.to_thread(cluster.digests, 60)
    views = {tuple(sorted(d["views"].items())) for d in digests["regions"].values()}
    assert len(views) == 1 and len(digests["regions"]) == 3, digests
    async with httpx.AsyncClient(headers=cluster.operator, timeout=5) as http:
        for url in cluster.urls:
            health = (await http.get(url + "/v1/health")).json()
            assert health["ready"] and health["quarantined"] == 2, health


# -- the layout (no processes) --------------------------------------------------


@pytest.mark.parametrize("wan", [False, True])
def test_each_share_of_the_ports_is_its_own(monkeypatch: pytest.MonkeyPatch, wan: bool) -> None:
    """Two test workers draw cluster ports from disjoint shares: every port
    of a cluster drawn in share 0 lies below every port drawn in share 1."""
    span = 422 if wan else 202  # the highest offset of a cluster's ports

    def drawn(share: str) -> list[int]:
        monkeypatch.setenv("STORMPROOF_PORT_SHARE", share)
        return [free_base_port(3, wan=wan) for _ in range(30)]

    first, second = drawn("0/2"), drawn("1/2")
    assert max(first) + span < min(second)
    assert min(first) >= 10000


def test_without_wan_the_layout_is_as_it_was(tmp_path: Path) -> None:
    cluster = LocalCluster.create(tmp_path, 3, 20000)
    assert cluster.names == ["us-east", "us-central", "us-west"]
    east = cluster.spec("us-east").nats
    assert list(east.routes) == ["nats://127.0.0.1:20201", "nats://127.0.0.1:20202"]
    assert east.advertise is None
    assert cluster.nats_urls_for("us-central") == cluster.nats_urls
    assert cluster.wan_links() == []
    assert json.loads((tmp_path / "cluster.json").read_text())["wan"] is False


def test_with_wan_every_crossing_connection_goes_to_a_proxy_port(tmp_path: Path) -> None:
    LocalCluster.create(tmp_path, 3, 20000, names=["north", "east", "south"], wan=True)
    cluster = LocalCluster.load(tmp_path)  # what `cluster region` sees
    assert cluster.names == ["north", "east", "south"]
    east = cluster.spec("east").nats
    assert list(east.routes) == ["nats://127.0.0.1:20310", "nats://127.0.0.1:20312"]
    assert east.advertise == "127.0.0.1:20311"  # link east -> east: nothing listens
    assert cluster.nats_urls_for("east") == [
        "nats://127.0.0.1:20410",
        "nats://127.0.0.1:20101",  # its own server, directly
        "nats://127.0.0.1:20412",
    ]
    links = cluster.wan_links()
    assert len(links) == 12 and len({link.listen_port for link in links}) == 12
    assert (20310, 20200, "east", "north") in links  # east's route to north's cluster port
    assert (20410, 20100, "east", "north") in links  # east's API to north's server
    advertised = {spec.nats.advertise for spec in cluster.regions.values()}
    assert not advertised & {f"127.0.0.1:{link.listen_port}" for link in links}


@pytest.mark.parametrize(
    ("count", "names", "why"),
    [
        (2, ["a", "a"], "must differ"),
        (1, ["US-East"], "lowercase"),
        (1, ["a/b"], "lowercase"),
        (3, ["a", "b"], "3 regions, but 2 names"),
        (6, None, "1 to 5"),
    ],
)
def test_region_names_are_distinct_plain_and_as_many_as_regions(
    tmp_path: Path, count: int, names: list[str] | None, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        LocalCluster.create(tmp_path, count, 20000, names=names)


# -- how a region catching up reads (no processes) ------------------------------


def _catching_up(phase: str, views_at: int, left: int, applied: int, eta: float | None) -> Any:
    """Operator health details of a region whose log holds a million entries."""
    views = {"accounts": {"position": [views_at], "lag": 1_000_000 - views_at}}
    catch_up = {"phase": phase, "remaining": left, "applied": applied, "per_s": 1.0, "eta_s": eta}
    return {"region": "r", "ready": False, "log": [1_000_000], "views": views, "catch_up": catch_up}


def test_a_region_catching_up_reads_as_percent_entries_left_and_time_left() -> None:
    # Guards: while the engine replayed the log the views stood near the end,
    # so the percentage said ~100 % for minutes before the region was ready.
    engine = _catching_up("engine", 900_000, 600_000, 300_000, 120.0)
    assert catch_up_percent(engine) == 30  # 600,000 for the engine, then 100,000 for the views
    assert _stage(engine) == "catching up 30 % · 600,000 left · ~2 min"
    views = _catching_up("views", 950_000, 50_000, 950_000, 14.2)
    assert catch_up_percent(views) == 95
    assert _stage(views) == "catching up 95 % · 50,000 left · ~14 s"
    unmeasured = _catching_up("views", 0, 1_000_000, 0, None)
    assert _stage(unmeasured) == "catching up 0 % · 1,000,000 left"
    caught_up = {**views, "catch_up": None}  # the views reached the log, on_ready still runs
    assert _stage(caught_up) == "catching up 95 %"
    assert _stage({"region": "r", "ready": False}) == "catching up"  # no operator details
    assert _stage({"region": "r", "ready": True}) == _stage({**views, "ready": True}) == "ready"
    assert _stage(None) == "starting"
