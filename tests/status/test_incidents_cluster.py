"""Automatic incidents on a real 3-region cluster: a region's power is cut
(SIGKILL of all its processes), an incident naming it opens by itself and
both survivors serve it, on /v1/status and on the status page; power
returns, and it resolves by itself — one incident, the same in every region
(ADR 021) — and every region drafts the same postmortem: the outage and the
recovery in its timeline, writes lost "none known", since nothing measured
them (ADR 025)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from stormproof.cluster import LocalCluster
from stormproof.testing import free_base_port
from tests.conftest import PASSWORD

#: the longest any wait below may take before the test gives up (a safety
#: net for a stuck cluster, not a measure: nothing here is timed)
PATIENCE_S = 180


def _get(url: str, path: str, **params: Any) -> Any:
    try:
        answer = httpx.get(url + path, params=params, timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def _get_as(url: str, path: str, auth: dict[str, str]) -> Any:
    try:
        answer = httpx.get(url + path, headers=auth, timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def _wait(what: str, found: Any, seen: Callable[[], object] | None = None) -> Any:
    """What ``found`` returns once it is something; ``seen`` tells, should
    it never be, what there was instead."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        if (got := found()) is not None and got is not False:
            return got
        assert time.monotonic() < deadline, f"never: {what}" + (
            "" if seen is None else f"; last seen: {seen()}"
        )
        time.sleep(0.5)


def _incident_ids(urls: list[str]) -> set[str]:
    """The ids of the latest incidents every region lists."""
    ids = set()
    for url in urls:
        listed = _get(url, "/v1/incidents", limit=50)
        assert listed is not None, f"{url} lists no incidents"
        ids |= {i["id"] for i in listed["items"]}
    return ids


def _all_clear(urls: list[str]) -> bool:
    """Every region answers, no incident is open, every component operational."""
    for url in urls:
        status = _get(url, "/v1/status")
        if status is None or status["incidents"] or status["state"] != "operational":
            return False
        if len(status["components"]) < 5:  # every component judged at least once
            return False
    return True


def _post(client: httpx.Client, path: str, body: dict[str, str], **kw: Any) -> httpx.Response:
    """A POST, sent again while it is answered 503: right after every region
    came back, a write may find the log still settling ("log_unavailable"),
    and a client tries again, as the code says it may."""
    for _ in range(20):
        answer = client.post(path, json=body, **kw)
        if answer.status_code != 503:
            break
        time.sleep(0.5)
    return answer


def _operator(cluster: LocalCluster, url: str, username: str) -> dict[str, str]:
    """An account of ``url``'s region granted the operator role."""
    with httpx.Client(base_url=url, timeout=30) as client:
        login = {"username": username, "password": PASSWORD}
        created = _post(client, "/v1/accounts", login)
        assert created.status_code == 201, created.text
        session = _post(client, "/v1/sessions", login)
        assert session.status_code == 201, session.text
        granted = _post(client, "/v1/operators", {"username": username}, headers=cluster.operator)
        assert granted.status_code == 201, granted.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One cluster for the module, probing every second, an incident resolving
    2 s after all is well again. Each test starts once all is clear and gives
    back every region it cut, froze or killed, up: what one test did shows in
    the next only as incidents before its own, which it tells apart by time."""
    folder = tmp_path_factory.mktemp("incidents") / "cluster"
    cluster = LocalCluster.create(folder, 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_PROBE_EVERY_S": "1",
            "STORMPROOF_PROBE_UPLOAD_EVERY_ROUNDS": "100000",  # uploads are not the point
            "STORMPROOF_INCIDENT_QUIET_S": "2",
        }
    )
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def test_a_power_cut_opens_an_incident_the_survivors_serve_and_the_restore_resolves_it(
    cluster: LocalCluster,
) -> None:
    victim = cluster.names[2]
    try:
        urls = {name: spec.url for name, spec in cluster.regions.items()}
        # Regions that came up later than others may have been down for a
        # round or three: wait until all is clear.
        _wait("all clear", lambda: _all_clear(list(urls.values())))
        survivors = [urls[name] for name in cluster.names if name != victim]
        # Told apart by id, not by time: the round an outage began may have
        # begun before the cut, its checks still running when it came.
        before = _incident_ids(list(urls.values()))
        cluster.kill(victim)
        listings: dict[str, Any] = {}

        def opened_everywhere() -> str | None:
            seen = set()
            for url in survivors:
                listings[url] = listed = _get(url, "/v1/incidents", open="true")
                mine = [
                    i
                    for i in (listed or {"items": []})["items"]
                    if i["regions"] == [victim] and i["id"] not in before
                ]
                if len(mine) != 1:
                    return None
                # A component whose probe passed just before the cut crosses
                # the flap guard a round after the others: the incident opens
                # with the first and names the others in its next update.
                if not {"sign_in", "for_you"} <= set(mine[0]["components"]):
                    return None
                seen.add(mine[0]["id"])
            return seen.pop() if len(seen) == 1 else None

        incident_id = _wait(
            f"an incident about {victim} on both survivors", opened_everywhere, lambda: listings
        )
        for url in survivors:
            incident = _get(url, f"/v1/incidents/{incident_id}")
            assert incident["automatic"] and incident["status"] == "investigating"
            assert {"sign_in", "for_you"} <= set(incident["components"])
            opening = incident["updates"][0]
            assert victim in opening["text"] and opening["figures"]["region"] == victim
            status = _get(url, "/v1/status")
            assert incident_id in [i["id"] for i in status["incidents"]]
            page = httpx.get(url + "/status", timeout=5)
            assert page.status_code == 200 and incident["title"] in page.text

        cluster.restore(victim)

        def resolved_everywhere() -> dict[str, Any] | None:
            shown = [_get(url, f"/v1/incidents/{incident_id}") for url in urls.values()]
            if any(i is None or i["status"] != "resolved" for i in shown):
                return None
            return shown[0]

        resolved = _wait("the incident resolved in every region", resolved_everywhere)
        statuses = [u["status"] for u in resolved["updates"]]
        assert statuses[0] == "investigating" and statuses[-1] == "resolved"
        assert "monitoring" in statuses
        # One incident about the cut, not one per judge.
        for url in urls.values():
            listed = _get(url, "/v1/incidents")["items"]
            about = [i for i in listed if i["regions"] == [victim] and i["id"] not in before]
            assert [i["id"] for i in about] == [incident_id]

        # Every region drafts one postmortem from the log: the same one.
        auth = _operator(cluster, survivors[0], "olga")

        def drafted_alike() -> dict[str, Any] | None:
            drafts = [_get_as(url, f"/v1/incidents/{incident_id}/postmortem", auth)
                      for url in urls.values()]  # fmt: skip
            if any(d is None for d in drafts):
                return None
            for d in drafts:
                del d["position"]
            return drafts[0] if all(d == drafts[0] for d in drafts) else None

        draft = _wait("the same postmortem drafted by every region", drafted_alike)
        kinds = [m["kind"] for m in draft["timeline"]]
        assert kinds.index("unreachable") < kinds.index("opened") < kinds.index("ready")
        assert kinds.index("ready") < kinds.index("resolved") and "probes_pass" in kinds
        assert victim in draft["trigger"] and draft["detection_ms"] > 0
        lost = draft["impact"]["writes_lost"]
        assert lost["lost"] is None and lost["how"].startswith("None known")
        assert "Acknowledged writes lost: none known" in draft["markdown"]
    finally:
        if not cluster.pids(victim):  # the test stopped before the restore
            cluster.restore(victim)


def test_a_frozen_region_is_judged_down_by_the_others_and_an_incident_names_it(
    cluster: LocalCluster,
) -> None:
    # SIGSTOP: the region's processes exist, hold their ports, and never
    # answer; its own prober reports nothing. The others' votes decide.
    urls = {name: spec.url for name, spec in cluster.regions.items()}
    _wait("all clear", lambda: _all_clear(list(urls.values())))
    victim = cluster.names[1]
    survivors = [urls[name] for name in cluster.names if name != victim]
    cluster.freeze(victim)
    try:

        def down_and_named_everywhere() -> bool:
            for url in survivors:
                status = _get(url, "/v1/status")
                if status is None:
                    return False
                states = {
                    r["state"] for c in status["components"] for r in c["regions"]
                    if r["region"] == victim
                }  # fmt: skip
                named = [i for i in status["incidents"] if i["regions"] == [victim]]
                if states != {"major_outage"} or len(named) != 1:
                    return False
            return True

        _wait(f"{victim} down, with an incident, on both survivors", down_and_named_everywhere)
    finally:
        cluster.thaw(victim)
        cluster.wait_ready(victim)


def test_every_region_down_at_once_leaves_one_incident_written_once_rounds_resume(
    cluster: LocalCluster,
) -> None:
    # A country-wide storm: every region SIGKILLed at once. Nothing can be
    # recorded while it lasts; once power returns, the judges find the span
    # without probe rounds and write one incident about it (ADR 021) — the
    # same one in every region, shown on the page, in the feed, in the
    # uptime bars, with a postmortem draft.
    try:
        urls = list(cluster.urls)
        _wait("all clear", lambda: _all_clear(urls))
        killed_at = int(time.time() * 1000)
        cluster.kill_all()
        time.sleep(6)  # six probe periods without power: twice the flap guard
        restored_at = int(time.time() * 1000)
        with ThreadPoolExecutor(len(cluster.names)) as pool:
            list(pool.map(cluster.restore, cluster.names))

        def blackouts(url: str) -> list[dict[str, Any]] | None:
            # Only this cut's: a test before may have left one of its own (a
            # frozen node that led a stream stalls every write until another
            # is elected, and no round can be recorded meanwhile), and right
            # after the restore it is the only one shown, until this one is
            # written.
            listed = _get(url, "/v1/incidents", limit=50)
            if listed is None:
                return None
            return [
                i for i in listed["items"] if i["recorded_after"] and i["resolved_at"] > killed_at
            ]

        def one_alike_everywhere() -> str | None:
            shown = [blackouts(url) for url in urls]
            if any(s is None or len(s) != 1 for s in shown):
                return None
            ids = {s[0]["id"] for s in shown if s}
            if len(ids) != 1:
                return None
            (found,) = ids
            whole = [_get(url, f"/v1/incidents/{found}") for url in urls]
            return whole[0]["id"] if all(w == whole[0] for w in whole) else None

        incident_id = _wait("one blackout incident, alike in every region", one_alike_everywhere)
        incident = _get(urls[0], f"/v1/incidents/{incident_id}")
        assert incident["regions"] == sorted(cluster.names)
        assert {"sign_in", "for_you", "playback"} <= set(incident["components"])
        assert incident["impact"] == "critical" and incident["status"] == "resolved"
        assert incident["automatic"] and len(incident["updates"]) == 1
        assert incident["began_at"] <= killed_at < restored_at <= incident["resolved_at"]
        assert incident["resolved_at"] <= incident["opened_at"]
        assert "No region recorded any probe round" in incident["updates"][0]["text"]

        for url in urls:
            assert incident["title"] in httpx.get(url + "/status", timeout=5).text
            feed = httpx.get(url + "/status/feed.atom", timeout=5).text
            assert incident["updates"][0]["id"] in feed
            page = _get(url, "/v1/status/page")
            for component in page["uptime"]["components"]:  # the span, less a round at most
                down = sum(d["down_ms"] for d in component["days"])
                assert down >= restored_at - killed_at - 1000

        auth = _operator(cluster, urls[0], "otto")
        draft = _get_as(urls[1], f"/v1/incidents/{incident_id}/postmortem", auth)
        assert draft is not None and draft["trigger"].startswith("No region recorded")
    finally:
        for name in cluster.names:
            if not cluster.pids(name):  # the test stopped before the restore
                cluster.restore(name)
