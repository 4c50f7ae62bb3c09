"""What the platform said about a drill's faults, as people would see it
(issue 13, item 7; ADR 025).

While the load runs, once a second, every region that no fault holds
(not cut, frozen or cut off) is asked for its status page (``/status``) and
its incidents (``/v1/incidents``), straight, with no failover: so the report
can say whether the page stayed reachable from every surviving region
throughout, and when each incident was first seen. A poll that a fault
overtook (its region was hit while it ran) does not count, nor do those of
a region whose fault just ended until its page first answers again: a
region starting after its power came back is recovering, not surviving.
Incidents are watched until the end, for their resolution.

Once the checker has read every write back, the drill tells the cluster
what it did and measured (``POST /v1/drills``, as an operator account it
made before the clock started): the postmortems of the incidents its faults
caused then cite its figures — acknowledged writes lost, For You
continuity — and show its power cut and restore. It waits (at most
:data:`RESOLVE_WAIT_S`) for those incidents to resolve, reads each one's
updates and postmortem, and writes the postmortem's Markdown beside the
report.

The cluster probes every :data:`STATUS_SETTINGS` ``PROBE_EVERY_S`` seconds,
with a short quiet period, so that a drill's outage opens, and resolves, an
incident within its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stormproof.client import Client, RegionsUnavailable, RequestFailed
from stormproof.drill.people import PASSWORD

__all__ = ["RESOLVE_WAIT_S", "STATUS_SETTINGS", "StatusWatch"]

#: the drill's cluster probes every 2 s, updates open incidents every 10 s
#: and resolves one 4 s after it is back: a quick drill's outage fits
STATUS_SETTINGS = {
    "STORMPROOF_PROBE_EVERY_S": "2",
    "STORMPROOF_INCIDENT_UPDATE_EVERY_S": "10",
    "STORMPROOF_INCIDENT_QUIET_S": "4",
}
#: how long the drill waits, at most, after its check for its incidents to resolve
RESOLVE_WAIT_S = 45.0
#: the account the drill acts as an operator with
OPERATOR = "drill_operator"
#: an incident about a blow's region that began this long before it still is its
_SLACK_S = 10.0
_BLOWS = ("power_cut", "freeze", "partition")
_BACK = {"power_cut": "power_restore", "freeze": "thaw", "partition": "heal"}
_FAULTS = ("power_cut", "power_restore", "freeze", "thaw", "partition", "heal")
_FAILURES_KEPT = 20


@dataclass
class _Seen:
    """An incident as the drill's polls saw it."""

    incident_id: str
    regions: list[str]
    began_at: int
    opened_at: int
    #: drill time (s) of the first poll that listed it, and of the first that
    #: listed it resolved
    first_seen_s: float
    resolved_seen_s: float | None = None


class StatusWatch:
    def __init__(
        self,
        urls: Mapping[str, str],
        now: Callable[[], float],
        faulted: Callable[[], set[str]],
    ) -> None:
        self.urls = dict(urls)
        self.now = now
        self.faulted = faulted
        #: unix seconds at drill time 0
        self.unix0 = time.time() - now()
        self.pages = {name: {"polls": 0, "ok": 0} for name in urls}
        self.failures: list[dict[str, Any]] = []
        self.seen: dict[str, _Seen] = {}
        #: polls of /status stop with the load; incidents are watched to the end
        self.pages_watched = True
        self.operator: Client | None = None
        #: regions a fault held, not yet answering since it ended
        self.returning: set[str] = set()

    async def sign_in(self, operator_token: Mapping[str, str]) -> None:
        """Make the drill's operator account (before the clock starts), all
        in one region: a grant's time is that region's clock, so a grant
        retried or hedged in another region would be a second event under
        the same key, and the regions' role views would differ."""
        first = next(iter(self.urls.values()))
        async with Client([first], attempt_timeout=10.0, deadline=60.0) as one:
            await one.sign_up(OPERATOR, PASSWORD)
            await one.post("/v1/operators", json={"username": OPERATOR}, headers=operator_token)
            await one.log_in(OPERATOR, PASSWORD)
            token = one.token
        self.operator = Client(list(self.urls.values()), attempt_timeout=5.0, deadline=60.0)
        self.operator.token = token

    async def close(self) -> None:
        if self.operator is not None:
            await self.operator.close()

    # -- while the drill runs --

    async def run(self) -> None:
        """Poll every surviving region once a second, until cancelled."""
        async with httpx.AsyncClient(timeout=5.0) as http:
            while True:
                started = self.now()
                await asyncio.gather(*(self._poll(http, n, u) for n, u in self.urls.items()))
                await asyncio.sleep(max(0.1, 1.0 - (self.now() - started)))

    async def _poll(self, http: httpx.AsyncClient, name: str, url: str) -> None:
        if name in self.faulted():
            self.returning.add(name)
            return
        if self.pages_watched:
            at = self.now()
            error = await _page_error(http, url)
            if name in self.returning:  # still coming back: not a survivor yet
                if error is not None:
                    return
                self.returning.discard(name)
            if name not in self.faulted():  # a fault that overtook the poll is no failure
                self.pages[name]["polls"] += 1
                if error is None:
                    self.pages[name]["ok"] += 1
                elif len(self.failures) < _FAILURES_KEPT:
                    self.failures.append({"region": name, "at_s": round(at, 2), "error": error})
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            answer = await http.get(url + "/v1/incidents", params={"limit": 20})
            if answer.status_code == 200:
                self._note(answer.json()["items"])

    def _note(self, items: Sequence[Mapping[str, Any]]) -> None:
        now = self.now()
        for item in items:
            seen = self.seen.get(item["id"])
            if seen is None:
                seen = _Seen(item["id"], list(item["regions"]), int(item["began_at"]),
                             int(item["opened_at"]), round(now, 2))  # fmt: skip
                self.seen[item["id"]] = seen
            if item["status"] == "resolved" and seen.resolved_seen_s is None:
                seen.resolved_seen_s = round(now, 2)

    # -- after the check --

    def _ms(self, drill_s: float) -> int:
        return round((self.unix0 + drill_s) * 1000)

    def _s(self, unix_ms: int) -> float:
        return round(unix_ms / 1000 - self.unix0, 2)

    async def report_drill(
        self, scenario: str, timeline: Sequence[Mapping[str, Any]], report: Mapping[str, Any]
    ) -> str | None:
        """Tell the cluster what the drill did and measured; its drill id."""
        faults = [
            {"kind": e["kind"], "region": e["region"], "at": self._ms(e["actual_s"])}
            for e in timeline
            if e["kind"] in _FAULTS and e.get("actual_s") is not None and e.get("region")
        ]
        if self.operator is None or not faults:
            return None
        writes = report.get("writes") or {}
        for_you = report.get("for_you") or {}
        body: dict[str, Any] = {
            "scenario": scenario,
            "faults": faults,
            "writes": {k: writes[k] for k in ("acknowledged", "lost", "duplicated")}
            if all(k in writes for k in ("acknowledged", "lost", "duplicated"))
            else None,
            "continuity_permille": _permille(for_you.get("continuity_overlap_at_20")),
            "cold_start_permille": _permille(for_you.get("cold_start_overlap_at_20")),
        }
        try:
            answer = await self.operator.post("/v1/drills", json=body)
        except (RegionsUnavailable, RequestFailed):
            return None
        drill_id: str = answer.json()["drill_id"]
        return drill_id

    def _blows(self, timeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each blow of the drill, with the first incident about its region
        opened after it, and the restore that followed it."""
        done = sorted(
            (e for e in timeline if e.get("actual_s") is not None and e.get("region")),
            key=lambda e: e["actual_s"],
        )
        blows = []
        for n, blow in enumerate(done):
            if blow["kind"] not in _BLOWS:
                continue
            at_ms = self._ms(blow["actual_s"])
            back = next(
                (e for e in done[n + 1 :]
                 if e["kind"] == _BACK[blow["kind"]] and e["region"] == blow["region"]),
                None,
            )  # fmt: skip
            about = sorted(
                (s for s in self.seen.values()
                 if blow["region"] in s.regions and s.opened_at >= at_ms
                 and s.began_at >= at_ms - _SLACK_S * 1000),
                key=lambda s: (s.opened_at, s.incident_id),
            )  # fmt: skip
            blows.append({
                "kind": blow["kind"], "region": blow["region"], "at_s": blow["actual_s"],
                "restored_at_s": None if back is None else back["actual_s"],
                "incident": about[0].incident_id if about else None,
            })  # fmt: skip
        return blows

    async def wait_resolved(self, timeline: Sequence[Mapping[str, Any]]) -> None:
        """Until every incident the blows caused is seen resolved, at most
        :data:`RESOLVE_WAIT_S` (the polls go on in the background)."""
        deadline = self.now() + RESOLVE_WAIT_S
        while self.now() < deadline:
            ids = [b["incident"] for b in self._blows(timeline) if b["incident"]]
            if all(self.seen[i].resolved_seen_s is not None for i in ids):
                return
            await asyncio.sleep(0.5)

    async def summary(
        self, timeline: Sequence[Mapping[str, Any]], out: Path, drill_id: str | None
    ) -> dict[str, Any]:
        """The report's ``status`` section; writes each postmortem into ``out``."""
        blows = self._blows(timeline)
        for blow in blows:
            blow.update(await self._incident(blow, out))
        polled = all(p["polls"] > 0 for p in self.pages.values())
        return {
            "probe_every_s": float(STATUS_SETTINGS["STORMPROOF_PROBE_EVERY_S"]),
            "incident_quiet_s": float(STATUS_SETTINGS["STORMPROOF_INCIDENT_QUIET_S"]),
            "page_reachable_throughout": polled and not self.failures,
            "page_polls": self.pages,
            "page_failures": self.failures,
            "drill_id": drill_id,
            "blows": blows,
        }

    async def _incident(self, blow: Mapping[str, Any], out: Path) -> dict[str, Any]:
        """How the platform answered one blow: when its incident opened and
        resolved (against the blow and the restore), its updates, its postmortem."""
        found: dict[str, Any] = {
            "title": None, "opened_after_s": None, "seen_after_s": None,
            "resolved_after_restore_s": None, "resolved_seen_after_restore_s": None,
            "updates": [], "postmortem": None,
        }  # fmt: skip
        incident_id = blow["incident"]
        if incident_id is None or self.operator is None:
            return found
        seen = self.seen[incident_id]
        found["opened_after_s"] = round(self._s(seen.opened_at) - blow["at_s"], 2)
        found["seen_after_s"] = round(seen.first_seen_s - blow["at_s"], 2)
        with contextlib.suppress(RegionsUnavailable, RequestFailed):
            incident = (await self.operator.get(f"/v1/incidents/{incident_id}")).json()
            found["title"] = incident["title"]
            found["updates"] = [
                {"at_s": self._s(u["at"]), "status": u["status"], "automatic": u["automatic"],
                 "text": u["text"], "figures": u["figures"]}
                for u in incident["updates"]
            ]  # fmt: skip
            restored = blow["restored_at_s"]
            if incident["resolved_at"] is not None and restored is not None:
                found["resolved_after_restore_s"] = round(
                    self._s(incident["resolved_at"]) - restored, 2
                )
                if seen.resolved_seen_s is not None:
                    found["resolved_seen_after_restore_s"] = round(
                        seen.resolved_seen_s - restored, 2
                    )
            if incident["resolved_at"] is not None:
                found["postmortem"] = await self._postmortem(incident_id, out)
        return found

    async def _postmortem(self, incident_id: str, out: Path) -> dict[str, Any] | None:
        assert self.operator is not None
        try:
            pm = (await self.operator.get(f"/v1/incidents/{incident_id}/postmortem")).json()
        except (RegionsUnavailable, RequestFailed):
            return None
        path = out / f"postmortem-{incident_id}.md"
        await asyncio.to_thread(_write, path, pm["markdown"])
        return {
            "path": str(path),
            "url": pm["url"],
            "writes_lost": pm["impact"]["writes_lost"]["lost"],
            "timeline": [m["kind"] for m in pm["timeline"]],
            "creators": pm["impact"].get("creators", []),
        }


async def _page_error(http: httpx.AsyncClient, url: str) -> str | None:
    """None when ``url``'s status page answered 200 with the page; else why not."""
    try:
        answer = await http.get(url + "/status")
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if answer.status_code != 200 or "stormproof status" not in answer.text:
        return f"HTTP {answer.status_code}"
    return None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _permille(share: object) -> int | None:
    if isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1:
        return round(share * 1000)
    return None
