"""The prober: every round, check every region of the cluster (this one
included) the way a person would, and record what it saw as one
``probes.recorded`` event in this region's partition (ADR 020).

A round is a slot of ``probe_every_s`` in unix time (``round_at``, a multiple
of the period), so every region's rounds line up. In each, for each region at
once: its health (as its operator), then a sign-in as this region's probe
account, then with that session For You, a range of the probe's own video, a
watch of it, a message seen arriving on the probe recipient's stream, and
every ``probe_upload_every_rounds`` rounds an upload (deleted afterwards).
Each check has its time limit, so a region that is down or frozen yields
failures (``unreachable``, ``timeout``) within it, and a round's work is
bounded: six checks per region, at most :data:`MAX_REGIONS` regions, one
round at a time (one that overran its slot makes the prober skip to the next).

Before its first round the prober creates its system accounts through the
log and uploads the video its playback checks read, and tries again each
round until both are done. It never stops the region: a round that fails is
logged and the next one comes; it stops when the region closes.

Its own results are counted for ``/metrics`` (checks by region, component
and result; rounds by how they ended), and a check that fails after passing,
or passes again after failing, is one log line (``probe.verdict``) — what
this prober saw, not the status view's verdict, which weighs every prober's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from stormproof.actions import Written
from stormproof.actions.system import create_system_account, record_probes
from stormproof.errors import StormproofError
from stormproof.events import (
    COMPONENTS,
    MAX_TIME_MS,
    Component,
    ProbeResult,
    ProbesRecorded,
    RegionSeen,
)
from stormproof.logs import log_event
from stormproof.metrics import RoundOutcome
from stormproof.operators import operator_headers
from stormproof.region import Region
from stormproof.status.checks import Checks, Health, Outcome, Target, timed
from stormproof.status.identity import PROBE_HEADER, ProbeAccounts, probe_token, system_password
from stormproof.status.traffic import Traffic

__all__ = ["MAX_REGIONS", "Prober", "make_clip"]

logger = logging.getLogger(__name__)

#: regions one prober checks at most (an event holds 100 health answers)
MAX_REGIONS = 100
#: a probe session lasts this long at most before the prober starts another
_SESSION_WINDOW_MS = 24 * 3600 * 1000


def make_clip() -> bytes:
    """A small real video (one second, 128x128, H.264 in MP4) made with PyAV."""
    from stormproof.media import make_video

    with tempfile.TemporaryDirectory() as folder:
        path = make_video(Path(folder) / "probe.mp4", seconds=1.0, width=128, height=128, fps=10)
        return path.read_bytes()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Prober:
    """One region's prober; :meth:`run` until cancelled, or :meth:`round`
    once (a retried round is the same write)."""

    def __init__(self, region: Region, traffic: Traffic) -> None:
        settings = region.settings
        self.region = region
        self.traffic = traffic
        self.period_ms = round(settings.probe_every_s * 1000)
        self.accounts = ProbeAccounts.of(region.name)
        self.targets = self._targets()
        self.passwords = {
            name: system_password(region.secret, name)
            for name in (self.accounts.prober, self.accounts.recipient)
        }
        #: the probe account's user id once it exists (the actor of its events)
        self.actor: str | None = None
        #: the video playback and interaction checks use, once uploaded
        self.video_id: str | None = None
        self.clip: bytes | None = None
        self._window_ms = max(1, min(_SESSION_WINDOW_MS, settings.session_ttl_s * 500))
        self._http: httpx.AsyncClient | None = None
        self._checks: Checks | None = None
        self._said: str | None = None
        #: (region, component) -> whether its last check passed
        self._last: dict[tuple[str, Component], bool] = {}

    def _targets(self) -> list[Target]:
        settings = self.region.settings
        own = [Target(settings.url.rstrip("/"), settings.region)] if settings.url else []
        names = settings.peer_names
        peers = [
            Target(url.rstrip("/"), names[i] if i < len(names) else None)
            for i, url in enumerate(settings.peers)
        ]
        targets = own + peers
        if len(targets) > MAX_REGIONS:
            logger.warning("%s probes its first %d regions only", self.region.name, MAX_REGIONS)
        return targets[:MAX_REGIONS]

    async def run(self, ready: Callable[[], Awaitable[None]]) -> None:
        """Probe round after round, once ``ready`` returned (the region
        caught up), until cancelled."""
        try:
            await ready()
        except StormproofError:
            return  # the region never serves: nothing to probe from
        if not self.targets:
            logger.warning("%s has no region to probe (no url, no peers)", self.region.name)
            return
        try:
            while True:
                now = _now_ms()
                round_at = (now // self.period_ms + 1) * self.period_ms
                await asyncio.sleep((round_at - now) / 1000)
                outcome: RoundOutcome
                try:
                    outcome = "waiting" if await self.round(round_at) is None else "recorded"
                except StormproofError as exc:
                    outcome = "not_recorded"
                    self._say(f"round {round_at} not recorded: {exc.message}")
                except Exception:  # a bug: logged, and the next round comes
                    outcome = "failed"
                    logger.exception("%s: probe round %d failed", self.region.name, round_at)
                self.region.metrics.probe_round(outcome)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http, self._checks = None, None

    def _say(self, message: str) -> None:
        """Log a problem once, not every round while it lasts."""
        if message != self._said:
            logger.warning("%s prober: %s", self.region.name, message)
            self._said = message

    def _client(self) -> Checks:
        if self._checks is None:
            settings = self.region.settings
            self._http = httpx.AsyncClient(
                timeout=settings.probe_timeout_s,
                headers={PROBE_HEADER: probe_token(self.region.secret)},
                limits=httpx.Limits(max_connections=10 * len(self.targets) + 10),
            )
            operator = operator_headers(self.region.secret)
            self._checks = Checks(self._http, self.accounts, self.passwords, operator)
        return self._checks

    async def round(self, round_at: int) -> Written[ProbesRecorded] | None:
        """Check every region once and record it as the round at
        ``round_at``; None when the prober cannot act yet (no account)."""
        checks = self._client()
        if not await self._set_up(checks):
            return None
        settings = self.region.settings
        upload = (round_at // self.period_ms) % settings.probe_upload_every_rounds == 0
        window = round_at // self._window_ms
        uploaded: list[tuple[Target, str]] = []
        seen = await asyncio.gather(
            *(self._probe(checks, t, round_at, window, upload, uploaded) for t in self.targets)
        )
        payload = ProbesRecorded(
            prober=self.region.name,
            round_at=round_at,
            period_ms=self.period_ms,
            results=tuple(result for results, _ in seen for result in results),
            regions=tuple(health for _, health in seen if health is not None),
            requests=self.traffic.take(),
            active_people=self.traffic.active_people(),
        )
        self._observe(payload.results)
        assert self.actor is not None
        written = await record_probes(self.region, payload, actor=self.actor)
        await self._delete(checks, uploaded)
        return written

    def _observe(self, results: tuple[ProbeResult, ...]) -> None:
        """Count a round's checks, and log those that turned (a first check
        that fails turns too: a prober starts out assuming all is well)."""
        for result in results:
            self.region.metrics.probed(result.region, result.component, ok=result.ok)
            if self._last.get((result.region, result.component), True) != result.ok:
                log_event(
                    "probe.verdict", level=logging.INFO if result.ok else logging.WARNING,
                    region=self.region.name, target=result.region,
                    component=result.component, ok=result.ok, reason=result.reason,
                    latency_ms=result.latency_ms,
                )  # fmt: skip
            self._last[(result.region, result.component)] = result.ok

    async def _set_up(self, checks: Checks) -> bool:
        """The probe accounts (needed to act at all) and the probe's video
        (needed for playback and interactions). False while no account."""
        try:
            if self.actor is None:
                for name in (self.accounts.recipient, self.accounts.prober):
                    created = await create_system_account(self.region, name, self.passwords[name])
                    checks.min_seq.append(created.seq)
                self.actor = created.payload.user_id
            if self.clip is None:
                self.clip = await asyncio.to_thread(make_clip)
        except StormproofError as exc:
            self._say(f"cannot set up: {exc.message}")
            return self.actor is not None
        if self.video_id is None:
            own = self.targets[0]
            key = "probe-video:" + hashlib.sha256(self.clip).hexdigest()[:16]

            limit = self.region.settings.probe_upload_timeout_s

            async def upload() -> None:
                await checks.sign_in(own, _now_ms() // self._window_ms)
                self.video_id, seq = await checks.upload(own, self.clip or b"", key, limit)
                checks.min_seq.append(seq)

            done = await timed(upload(), limit)
            if not done.ok:
                self._say(f"cannot upload the probe's video at {own.url}: {done.reason}")
        return True

    async def _probe(
        self,
        checks: Checks,
        target: Target,
        round_at: int,
        window: int,
        upload: bool,
        uploaded: list[tuple[Target, str]],
    ) -> tuple[list[ProbeResult], RegionSeen | None]:
        """Every check of one region, and what its health said."""
        settings = self.region.settings
        timeout = settings.probe_timeout_s
        health_check = asyncio.create_task(self._health(checks, target, timeout))
        signed_in = await timed(checks.sign_in(target, window), timeout)
        outcomes: dict[Component, Outcome] = {"sign_in": signed_in}
        if target.token is not None:
            work: dict[Component, tuple[Coroutine[Any, Any, object], float]] = {
                "for_you": (checks.for_you(target), timeout),
                "messages": (checks.message(target, round_at, window), timeout),
            }
            if (video_id := self.video_id) is not None:
                work["playback"] = (checks.playback(target, video_id), timeout)
                work["interactions"] = (checks.interaction(target, video_id, round_at), timeout)
            if upload and self.clip is not None:
                limit = settings.probe_upload_timeout_s

                async def upload_one(clip: bytes) -> None:
                    key = f"probe-upload:{target.tag}:{round_at}"
                    video_id, _ = await checks.upload(target, clip, key, limit)
                    uploaded.append((target, video_id))

                work["uploads"] = (upload_one(self.clip), limit)
            done = await asyncio.gather(*(timed(check, limit) for check, limit in work.values()))
            outcomes.update(zip(work, done, strict=True))
        elif signed_in.region_fault:
            # No answer there, or a broken one, or a 5xx: no component can
            # work for anyone who has to sign in.
            for component in COMPONENTS:
                if component != "uploads" or upload:
                    outcomes[component] = signed_in
        # Otherwise the prober itself has no session there (its account is
        # not there yet, say): it can tell nothing more of that region.
        health = await health_check
        if target.name is None and health.name is not None:
            target.name = health.name  # an unnamed peer, named by its own answer
        if target.name is None:
            self._say(f"{target.url} has no name yet: its results are left out")
            return [], None
        results = [
            ProbeResult(
                region=target.name,
                component=component,
                ok=outcomes[component].ok,
                latency_ms=min(outcomes[component].latency_ms, MAX_TIME_MS),
                reason=outcomes[component].reason,
            )
            for component in COMPONENTS
            if component in outcomes
        ]
        seen = RegionSeen(
            region=target.name,
            reachable=health.reachable,
            ready=health.ready,
            remaining=health.remaining,
            eta_s=health.eta_s,
        )
        return results, seen

    async def _health(self, checks: Checks, target: Target, timeout: float) -> Health:
        try:
            async with asyncio.timeout(timeout):
                return await checks.health(target)
        except TimeoutError:
            return Health(reachable=False)

    async def _delete(self, checks: Checks, uploaded: list[tuple[Target, str]]) -> None:
        """The videos the upload checks made go away again (best effort)."""
        if not uploaded:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.region.settings.probe_timeout_s):
                await asyncio.gather(
                    *(checks.delete(t, video_id) for t, video_id in uploaded),
                    return_exceptions=True,
                )
