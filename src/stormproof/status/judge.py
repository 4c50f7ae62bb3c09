"""The judge: every region's, after each probe round, turns the status into
incidents — opened, updated with figures, moved to monitoring, resolved —
by itself (ADR 021).

What it decides (:func:`decide`, a pure function of what it read):

- a component of a region in a **major outage** (the flap guard crossed:
  :mod:`stormproof.status.states`) that no open incident covers, and no
  maintenance window in progress holds, is added to the region's open
  automatic incident, or opens one (its components, the round the earliest
  of them went down, impact ``critical`` when they are down in every region
  judged, else ``major``);
- an open automatic incident whose components are all **operational** again
  (the guard cleared) moves to monitoring; one in monitoring whose
  components stayed operational for ``incident_quiet_s`` since they came
  back is resolved; one in monitoring whose component is down again goes
  back to investigating;
- an open automatic incident with no update for ``incident_update_every_s``
  gets one with the figures as they stand.

Incidents operators opened are theirs: the judge adds nothing to them, but
no automatic one opens for what they cover.

It also writes, once rounds resume, the incident of a blackout — a span in
which no region recorded any probe round, so that nothing could be judged
(:mod:`stormproof.status.blackouts`): opened resolved, about every region.

Every region runs a judge, at a moment of the round staggered by its index,
so the first region standing usually decides and the others find it done.
When two decide the same thing at once, each writes under a key of its own
naming the same incident (or update) id — derived from the region and the
round the outage began (or the incident, the kind of step and its round) —
and the incidents view shows the earliest (:mod:`stormproof.views.incidents`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from stormproof.actions import Written, derived_id
from stormproof.actions.incidents import JudgedPayload, record_judgement
from stormproof.errors import StormproofError
from stormproof.events import (
    COMPONENTS,
    Component,
    Impact,
    IncidentOpened,
    IncidentStatus,
    IncidentUpdated,
)
from stormproof.region import Region
from stormproof.status.blackouts import unrecorded_blackouts
from stormproof.status.figures import capitalized_names_of, describe, figures_for, names_of, utc
from stormproof.status.page import Page, RegionStatus, read_page
from stormproof.views import incidents
from stormproof.views.incidents import Incident, Window

__all__ = ["Judge", "Opening", "Step", "decide"]

logger = logging.getLogger(__name__)

StepKind = Literal["components", "monitoring", "investigating", "resolved", "figures"]


@dataclass(frozen=True)
class Opening:
    """An automatic incident to open."""

    region: str
    components: tuple[Component, ...]
    began_at: int
    impact: Impact

    @property
    def incident_id(self) -> str:
        return derived_id("inc_", f"incident:{self.region}:{self.began_at}")


@dataclass(frozen=True)
class Step:
    """An automatic update of an open incident."""

    incident: Incident
    kind: StepKind
    status: IncidentStatus
    #: what makes the decision one: the round it follows, or the slot of a
    #: figures update
    mark: int
    components: tuple[Component, ...] = ()

    @property
    def update_id(self) -> str:
        return derived_id("upd_", f"{self.incident.incident_id}:{self.kind}:{self.mark}")


def _ordered(components: set[str]) -> tuple[Component, ...]:
    return tuple(c for c in COMPONENTS if c in components)


def decide(
    page: Page,
    open_incidents: list[Incident],
    windows: list[Window],
    *,
    now: int,
    update_every_ms: int,
    quiet_ms: int,
) -> tuple[list[Opening], list[Step]]:
    """What to write now (see the module's docstring)."""
    states = {(r.region, c.component): r for c in page.components for r in c.regions}
    everywhere = {c.component for c in page.components if c.state == "major_outage"}
    automatic: dict[str, Incident] = {}
    for incident in reversed(open_incidents):  # the earliest opened of a region's
        if incident.automatic:
            automatic.setdefault(incident.regions[0], incident)

    def covered(region: str, component: str) -> bool:
        return any(region in i.regions and component in i.components for i in open_incidents)

    down: dict[str, dict[str, int]] = {}
    for (region, component), r in sorted(states.items()):
        if r.state != "major_outage" or r.since is None:
            continue
        if any(w.covers(region, component, now) for w in windows):
            continue
        if not covered(region, component):
            down.setdefault(region, {})[component] = r.since
    openings, steps = [], []
    for region, uncovered in down.items():
        mine = automatic.get(region)
        if mine is None:
            impact: Impact = "critical" if set(uncovered) <= everywhere else "major"
            openings.append(
                Opening(region, _ordered(set(uncovered)), min(uncovered.values()), impact)
            )
        else:
            status = "investigating" if mine.status == "monitoring" else mine.status
            steps.append(
                Step(mine, "components", status, min(uncovered.values()), _ordered(set(uncovered)))
            )
    for incident in open_incidents:
        if incident.automatic and incident.incident_id not in {
            s.incident.incident_id for s in steps
        }:
            step = _next_step(
                incident, states, now=now, update_every_ms=update_every_ms, quiet_ms=quiet_ms
            )
            if step is not None:
                steps.append(step)
    return openings, steps


def _next_step(
    incident: Incident,
    states: dict[tuple[str, str], RegionStatus],
    *,
    now: int,
    update_every_ms: int,
    quiet_ms: int,
) -> Step | None:
    """The lifecycle of one open automatic incident, then its figures."""
    region = incident.regions[0]
    judged = [s for c in incident.components if (s := states.get((region, c))) is not None]
    judged = [s for s in judged if s.since is not None]
    down = [s.since for s in judged if s.state == "major_outage" and s.since is not None]
    back = [s.since for s in judged if s.state == "operational" and s.since is not None]
    all_back = bool(judged) and len(back) == len(judged)
    if incident.status == "monitoring" and down:
        return Step(incident, "investigating", "investigating", min(down))
    if incident.status in ("investigating", "identified") and all_back:
        return Step(incident, "monitoring", "monitoring", max(back))
    if incident.status == "monitoring" and all_back and now - max(back) >= quiet_ms:
        return Step(incident, "resolved", "resolved", max(back))
    if now - incident.updates[-1].at >= update_every_ms:
        return Step(incident, "figures", incident.status, now // update_every_ms)
    return None


def _say(step: Step, figures_text: str) -> str:
    incident, region = step.incident, step.incident.regions[0]
    match step.kind:
        case "components":
            return (
                f"{capitalized_names_of(step.components)} stopped working in {region} too, "
                f"at {utc(step.mark)}. {figures_text}"
            )
        case "monitoring":
            return (
                f"Probes of {region} pass again since {utc(step.mark)}. We are watching "
                f"before calling it resolved. {figures_text}"
            )
        case "investigating":
            return (
                f"{region} failed again at {utc(step.mark)}: we are investigating. {figures_text}"
            )
        case "resolved":
            return (
                f"Resolved: {names_of(incident.components)} in {region} work again since "
                f"{utc(step.mark)}, and stayed up since. {figures_text}"
            )
        case "figures":
            return f"Still {incident.status}. {figures_text}"


class Judge:
    """One region's judge: :meth:`run` until cancelled, or :meth:`tick` once."""

    def __init__(self, region: Region, actor: Callable[[], str | None]) -> None:
        settings = region.settings
        self.region = region
        #: the system account its writes are made as (the prober's), once it exists
        self.actor = actor
        self.period_ms = round(settings.probe_every_s * 1000)
        # Staggered: the first region decides half way through a round, the
        # next a tenth of a round later, and so on.
        self.offset_ms = self.period_ms * (5 + settings.region_index % 5) // 10
        self._said: str | None = None

    async def run(self, ready: Callable[[], Awaitable[None]]) -> None:
        """Judge once a round, once ``ready`` returned, until cancelled."""
        try:
            await ready()
        except StormproofError:
            return
        while True:
            now = _now_ms()
            at = (now - self.offset_ms) // self.period_ms * self.period_ms + self.period_ms
            await asyncio.sleep((at + self.offset_ms - now) / 1000)
            try:
                await self.tick()
            except StormproofError as exc:
                if exc.message != self._said:
                    logger.warning("%s judge: %s", self.region.name, exc.message)
                    self._said = exc.message
            except Exception:  # a bug: logged, and the next round comes
                logger.exception("%s: judging failed", self.region.name)

    async def tick(self, now: int | None = None) -> list[Written[JudgedPayload]]:
        """Decide from what the views hold now and write it (``now``: the
        time to judge at, unix ms, and the time of what it writes; the
        clock's by default)."""
        actor = self.actor()
        if actor is None:
            return []
        at = _now_ms() if now is None else now
        plan = await self.region.store.query(lambda db: self._plan(db, at))
        written = []
        for key, payload in plan:
            written.append(await record_judgement(self.region, key, payload, actor=actor, at=at))
        return written

    def _plan(self, db: sqlite3.Connection, now: int) -> list[tuple[str, JudgedPayload]]:
        """Read, decide and word it all at one position of the views."""
        settings = self.region.settings
        db.execute("BEGIN")
        try:
            page = read_page(
                db, fail_rounds=settings.probe_fail_rounds, pass_rounds=settings.probe_pass_rounds
            )
            openings, steps = decide(
                page,
                incidents.open_incidents(db),
                incidents.windows(db, ending_after=now),
                now=now,
                update_every_ms=round(settings.incident_update_every_s * 1000),
                quiet_ms=round(settings.incident_quiet_s * 1000),
            )
            until = now if page.newest_round_at is None else min(now, page.newest_round_at)
            plan: list[tuple[str, JudgedPayload]] = [self._opening(db, o, until) for o in openings]
            plan += [self._step(db, s, until) for s in steps]
            plan += [
                (f"{o.incident_id}:opened-by:{self.region.name}", o)
                for o in unrecorded_blackouts(db, settings.probe_fail_rounds)
            ]
            return plan
        finally:
            db.execute("COMMIT")

    def _opening(
        self, db: sqlite3.Connection, o: Opening, until: int
    ) -> tuple[str, IncidentOpened]:
        figures = figures_for(
            db, o.region, o.components, since=o.began_at, until=max(o.began_at, until)
        )
        fail_rounds = self.region.settings.probe_fail_rounds
        payload = IncidentOpened(
            incident_id=o.incident_id,
            title=f"{capitalized_names_of(o.components)} down in {o.region}",
            regions=(o.region,),
            components=o.components,
            impact=o.impact,
            began_at=o.began_at,
            text=(
                f"{capitalized_names_of(o.components)} stopped working in {o.region} at "
                f"{utc(o.began_at)}: most probers saw it fail {fail_rounds} rounds in a row. "
                f"We are investigating. {describe(figures)}"
            ),
            figures=figures,
            automatic=True,
        )
        return f"incident:{o.region}:{o.began_at}:opened-by:{self.region.name}", payload

    def _step(self, db: sqlite3.Connection, s: Step, until: int) -> tuple[str, IncidentUpdated]:
        incident = s.incident
        window = round(self.region.settings.incident_update_every_s * 1000)
        since = min(until, max(incident.began_at, until - window))
        components = _ordered(set(incident.components) | set(s.components))
        figures = figures_for(db, incident.regions[0], components, since=since, until=until)
        outage = s.kind not in ("monitoring", "resolved")
        payload = IncidentUpdated(
            incident_id=incident.incident_id,
            update_id=s.update_id,
            status=s.status,
            text=_say(s, describe(figures, outage=outage)),
            components=s.components,
            figures=figures,
            automatic=True,
        )
        key = f"{incident.incident_id}:{s.kind}:{s.mark}:by:{self.region.name}"
        return key, payload


def _now_ms() -> int:
    return int(time.time() * 1000)
