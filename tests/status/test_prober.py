"""The prober over real HTTP against real regions: it checks every region,
this one included, and records each round as one valid ``probes.recorded``
event; a region that is gone or frozen yields failures within the time
limit, and the prober goes on."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormproof.cluster import LocalCluster
from stormproof.errors import LogError
from stormproof.events import COMPONENTS, ProbesRecorded, decode, encode
from stormproof.log import Entry
from stormproof.log.jetstream import JetStreamLog
from stormproof.log.sqlite import SqliteLog
from stormproof.logs import fields_of
from stormproof.status import Prober
from stormproof.status.identity import ProbeAccounts
from stormproof.testing import free_base_port
from tests.conftest import LiveServer, free_port, make_settings, sign_up


def _probes(live: LiveServer) -> list[Entry]:
    """Every probes.recorded entry in the region's log, read from its file."""

    async def read() -> list[Entry]:
        log = SqliteLog(live.settings.log_path)
        try:
            return await log.read(0, 0, limit=100_000)
        finally:
            await log.close()

    return [e for e in asyncio.run(read()) if e.event.type == "probes.recorded"]


def _wait_for(
    live: LiveServer, enough: Callable[[list[Entry]], bool], timeout: float = 60
) -> list[Entry]:
    deadline = time.monotonic() + timeout
    while True:
        entries = _probes(live)
        if enough(entries):
            return entries
        assert time.monotonic() < deadline, f"not enough rounds: {entries}"
        time.sleep(0.2)


def _payload(entry: Entry) -> ProbesRecorded:
    assert isinstance(entry.event.data, ProbesRecorded)
    return entry.event.data


def _uploaded(entries: list[Entry]) -> bool:
    return any(r.component == "uploads" for e in entries for r in _payload(e).results)


@contextmanager
def _serving(tmp_path: Path, **settings: Any) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path / "region", **settings)).start()
    try:
        yield live
    finally:
        live.stop()


def test_a_region_probes_itself_and_records_each_round_as_one_valid_event(
    tmp_path: Path,
) -> None:
    with _serving(tmp_path, probe_every_s=1, probe_upload_every_rounds=2) as live:
        entries = _wait_for(live, lambda found: len(found) >= 3 and _uploaded(found))
        accounts = ProbeAccounts.of("test")
        with httpx.Client(base_url=live.url, timeout=10) as client:
            probe = client.get(f"/v1/accounts/{accounts.prober}").json()
            # A person's requests count in the next rounds; the probes' never do.
            auth = sign_up(client, "ann")
            assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
        later = _wait_for(live, lambda found: len(found) >= len(entries) + 2)
    for entry in entries:
        payload = _payload(entry)
        assert decode(entry.body) == entry.event  # what every region will read
        assert ProbesRecorded.model_validate(payload.model_dump()) == payload
        assert entry.key == f"probes:test:{payload.round_at}"
        assert entry.event.actor == probe["id"]
        assert payload.prober == "test" and payload.period_ms == 1000
        assert payload.round_at % 1000 == 0
        assert [r.region for r in payload.regions] == ["test"]
        assert payload.regions[0].reachable and payload.regions[0].ready
        assert all(r.ok and r.reason == "" and r.region == "test" for r in payload.results), (
            payload.results
        )
        assert all((c.requests, c.errors) == (0, 0) for c in payload.requests)
        assert payload.active_people == 0
    rounds = [_payload(e).round_at for e in later]
    assert len(set(rounds)) == len(rounds)  # one event per round
    seen = {r.component for e in entries for r in _payload(e).results}
    assert seen == set(COMPONENTS)
    # Every round checks every component but uploads, which come every other round.
    for entry in entries:
        components = [r.component for r in _payload(entry).results]
        uploads = (_payload(entry).round_at // 1000) % 2 == 0
        assert components == [c for c in COMPONENTS if c != "uploads" or uploads]
    person = [c for e in later[len(entries) :] for c in _payload(e).requests]
    assert sum(c.requests for c in person if c.component == "for_you") == 1
    assert sum(c.requests for c in person if c.component == "sign_in") == 1
    assert max(_payload(e).active_people for e in later) == 1


def test_a_retried_round_is_the_same_single_event(tmp_path: Path) -> None:
    with _serving(tmp_path, probe_every_s=3600) as live:  # no round of its own meanwhile
        prober: Prober = live.app.state.prober
        round_at = 3_600_000 * 490_000
        first = live.call(prober.round(round_at))
        again = live.call(prober.round(round_at))
        assert first is not None and again is not None
        assert again.replayed and again.seq == first.seq and again.payload == first.payload
        assert [_payload(e).round_at for e in _probes(live)] == [round_at]


def _silent_listener() -> socket.socket:
    """A port that accepts connections and never answers: a frozen region."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


def test_a_region_gone_or_frozen_fails_every_check_in_time_and_the_prober_goes_on(
    tmp_path: Path,
) -> None:
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with _silent_listener() as frozen:
        frozen_url = f"http://127.0.0.1:{frozen.getsockname()[1]}"
        with _serving(
            tmp_path,
            probe_every_s=1,
            probe_timeout_s=1.0,
            peers=(gone, frozen_url),
            peer_names=("gone", "frozen"),
        ) as live:
            entries = _wait_for(live, lambda found: len(found) >= 3)
    for entry in entries:
        payload = _payload(entry)
        by_region: dict[str, list[Any]] = {}
        for result in payload.results:
            by_region.setdefault(result.region, []).append(result)
        assert all(r.ok for r in by_region["test"]), by_region["test"]
        for region, reasons in (("gone", {"unreachable"}), ("frozen", {"timeout"})):
            results = by_region[region]
            assert {r.component for r in results} >= set(COMPONENTS) - {"uploads"}
            assert all(not r.ok and r.reason in reasons for r in results), results
            assert all(r.latency_ms < 2000 for r in results)  # the limit, and some slack
        seen = {r.region: r for r in payload.regions}
        assert seen["test"].reachable
        assert not seen["gone"].reachable and not seen["frozen"].reachable
    # Round after round: one that overran its slot skips to the next one.
    rounds = [_payload(e).round_at for e in entries]
    assert all(0 < b - a <= 3000 for a, b in itertools.pairwise(rounds))


def test_a_check_that_turns_is_one_log_line_and_every_check_is_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.events")
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with _serving(tmp_path, probe_every_s=3600, peers=(gone,), peer_names=("gone",)) as live:
        prober: Prober = live.app.state.prober
        for n in range(2):  # the same two verdicts twice: said once
            assert live.call(prober.round(3_600_000 * (490_000 + n))) is not None
        with httpx.Client(base_url=live.url) as client:
            scraped = client.get("/metrics", headers=live.operator).text
    turned = [fields_of(r) for r in caplog.records if r.getMessage() == "probe.verdict"]
    assert {(t["target"], t["ok"], t["reason"]) for t in turned} == {("gone", False, "unreachable")}
    assert sorted(t["component"] for t in turned) == sorted(set(COMPONENTS) - {"uploads"})
    assert all(t["region"] == "test" for t in turned)
    for component in set(COMPONENTS) - {"uploads"}:
        for target, result in (("gone", "failed"), ("test", "ok")):
            sample = (
                f'stormproof_probe_checks_total{{component="{component}",region="test",'
                f'result="{result}",target="{target}"}} 2.0'
            )
            assert sample in scraped.splitlines()


def _cluster_log(cluster: LocalCluster) -> list[Entry]:
    """Every entry of a cluster's log, every partition, as the first live
    region's server holds it. A read that fails while the cluster is still
    forming (its streams being set up by the regions) is tried again."""

    async def read() -> list[Entry]:
        alive = [i for i, name in enumerate(cluster.names) if cluster.pids(name)]
        log = JetStreamLog(cluster.nats_urls, alive[0])
        try:  # a start that fails still closes its links
            await log.start()
            found = []
            for partition in range(log.partitions):
                found += await log.read(partition, 0, limit=100_000)
            return found
        finally:
            await log.close()

    for _ in range(4):
        try:
            return asyncio.run(read())
        except LogError:
            time.sleep(1)
    return asyncio.run(read())


def _cluster_rounds(cluster: LocalCluster) -> list[ProbesRecorded]:
    return [e.event.data for e in _cluster_log(cluster) if isinstance(e.event.data, ProbesRecorded)]


def _all_ok(payload: ProbesRecorded, regions: set[str]) -> bool:
    return {r.region for r in payload.results} == regions and all(r.ok for r in payload.results)


def test_in_a_cluster_every_region_probes_every_region_and_sees_one_lose_power(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster.create(tmp_path / "cluster", 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_PROBE_EVERY_S": "1",
            "STORMPROOF_PROBE_UPLOAD_EVERY_ROUNDS": "3",
        }
    )
    cluster.up()
    try:
        names = set(cluster.names)
        deadline = time.monotonic() + 90
        while True:  # every prober has had a round where everything worked everywhere
            entries = _cluster_log(cluster)
            rounds = [e.event.data for e in entries if isinstance(e.event.data, ProbesRecorded)]
            # and each prober's writes in a region went to that region's
            # partition: a check of one region is never answered by another's
            probers = {
                e.event.actor: e.event.data.prober
                for e in entries
                if isinstance(e.event.data, ProbesRecorded)
            }
            wrote = {
                (probers[e.event.actor], e.partition, e.event.type)
                for e in entries
                if e.event.actor in probers
            }
            everywhere = all(
                {p for who, p, t in wrote if (who, t) == (prober, kind)} == {0, 1, 2}
                for prober in names
                for kind in ("interactions.recorded", "message.sent", "video.uploaded")
            )
            # one key for two writes would make the second a duplicate of the
            # first; one write may land twice (acked late by its partition and
            # sent again to the next: the log's contract), the same event
            events_of: dict[str, set[bytes]] = {}
            for e in entries:
                if e.event.actor in probers:
                    events_of.setdefault(e.key, set()).add(encode(e.event))
            assert all(len(events) == 1 for events in events_of.values()), events_of
            if everywhere and {p.prober for p in rounds if _all_ok(p, names)} == names:
                break
            assert time.monotonic() < deadline, (rounds[-6:], sorted(wrote))
            time.sleep(1)
        victim = cluster.names[2]
        cluster.kill(victim)  # a power cut: SIGKILL, no goodbye
        killed_at = int(time.time() * 1000)
        while True:  # the others record it failing, and go on with each other
            after = [p for p in _cluster_rounds(cluster) if p.round_at > killed_at + 1000]
            assert all(p.prober != victim for p in after)  # a region without power records nothing
            # A round where a check of a live region ran out of time (the
            # machine is shared) is not the point: wait for a clean one.
            if {p.prober for p in after if _saw_only_the_victim_down(p, victim)} == names - {
                victim
            }:
                break
            assert time.monotonic() < deadline + 60, after
            time.sleep(1)
    finally:
        cluster.down()


def _saw_only_the_victim_down(payload: ProbesRecorded, victim: str) -> bool:
    theirs = [r for r in payload.results if r.region == victim]
    seen = {r.region: r for r in payload.regions}
    return (
        bool(theirs)
        and all(not r.ok and r.reason == "unreachable" for r in theirs)
        and not seen[victim].reachable
        and all(r.ok for r in payload.results if r.region != victim)
    )
