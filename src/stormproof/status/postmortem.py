"""An incident's postmortem, drafted from the log when read (ADR 025).

When an incident is resolved its draft exists: the Google SRE template's
fields — title, summary, impact with numbers, trigger, detection, resolution,
a UTC timeline — computed from what the views hold at one position, and the
fields only people can fill (root cause, lessons, action items) from the
postmortems view. Nothing of it depends on the region that reads it, its
settings or its clock: every region at one log position drafts the same
postmortem, whatever order the partitions arrived in.

The numbers are those the platform recorded (``status/figures.py``) over
the incident, from its first failing round to its resolution; a number
nobody recorded is ``None`` and said as unknown. Acknowledged writes lost
in particular are only ever a figure a drill's checker measured (it read
every write back from every region); with no drill about the incident they
read "none known", with why — never a 0 nobody counted.

Every read is bounded by the incident's window and an index.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stormproof.creators.impact import CreatorImpact, ImpactRates, impact_on_creators
from stormproof.events import COMPONENTS, ActionItem, DrillFault, Figures, RegionRequests
from stormproof.status.figures import capitalized_names_of, figures_for
from stormproof.views import postmortems
from stormproof.views.incidents import Incident, Update
from stormproof.views.postmortems import Drill, Edits

__all__ = [
    "DRILL_LOOKBACK_MS",
    "Continuity",
    "Moment",
    "Postmortem",
    "PostmortemImpact",
    "RoundsDown",
    "WritesLost",
    "draft",
    "duration",
    "named",
    "when",
]

#: a drill's blow this long before an incident's first failing round may be its trigger
DRILL_LOOKBACK_MS = 10 * 60 * 1000
#: regions of one incident a draft reads figures for, at most
_REGIONS = 10
#: what a drill's fault reads as in a timeline
_FAULTS = {
    "power_cut": "power cut in {region}: every process of the region killed (SIGKILL)",
    "power_restore": "power restored in {region}",
    "freeze": "{region} frozen: every process stopped (SIGSTOP)",
    "thaw": "{region} thawed",
    "partition": "{region} cut off from the other regions",
    "heal": "{region}'s links to the other regions healed",
}
_BLOWS = ("power_cut", "freeze", "partition")


def when(ms: int) -> str:
    """``2026-12-01 14:03:05 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int) -> str:
    """``4 min 12 s``, ``1 h 3 min``, ``40 s``."""
    seconds = max(0, round(ms / 1000))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass(frozen=True)
class Moment:
    """One line of the timeline."""

    at: int
    #: what kind of moment: drill_<fault kind>, first_failing_round, opened,
    #: update, unreachable, answering, ready, probes_pass, resolved
    kind: str
    text: str


@dataclass(frozen=True)
class WritesLost:
    """Acknowledged writes lost, and how that is known."""

    #: None: not measured
    lost: int | None
    duplicated: int | None
    acknowledged: int | None
    how: str


@dataclass(frozen=True)
class Continuity:
    """For You continuity a drill measured across its blow (overlap@20)."""

    overlap_at_20: float
    cold_start_overlap_at_20: float | None
    drill_id: str
    scenario: str


@dataclass(frozen=True)
class RoundsDown:
    """Of the probe rounds that judged a region's affected components over
    the incident, how many found one of them failing."""

    region: str
    judged: int
    failing: int


@dataclass(frozen=True)
class PostmortemImpact:
    duration_ms: int
    regions: tuple[str, ...]
    components: tuple[str, ...]
    rounds: tuple[RoundsDown, ...]
    #: per region of the incident: its probe checks, and the people it
    #: served in the 15 minutes before (None: not recorded)
    figures: tuple[Figures, ...]
    #: people's requests each region counted over the incident
    requests: tuple[RegionRequests, ...]
    requests_failed: int | None
    uploads_refused: int | None
    uploads_delayed: int | None
    creators_touched: int | None
    writes_lost: WritesLost
    continuity: Continuity | None
    #: the creators whose uploads it touched, and what it cost them (ADR 031)
    creators: tuple[CreatorImpact, ...] = ()


@dataclass(frozen=True)
class Postmortem:
    incident_id: str
    title: str
    incident_title: str
    summary: str
    impact: PostmortemImpact
    began_at: int
    opened_at: int
    resolved_at: int
    #: first failing round to the incident opened
    detection_ms: int
    trigger: str
    resolution: str
    timeline: tuple[Moment, ...]
    drills: tuple[str, ...]
    root_cause: str
    lessons: str
    action_items: tuple[ActionItem, ...]
    published_at: int | None
    edited_at: int | None

    @property
    def published(self) -> bool:
        return self.published_at is not None


#: a postmortem drafted without a region's settings prices creators' minutes so
_DEFAULT_RATES = ImpactRates()


def draft(
    db: sqlite3.Connection, found: Incident, rates: ImpactRates = _DEFAULT_RATES
) -> Postmortem | None:
    """The postmortem of the incident ``found`` (as the incidents view shows
    it), once it is resolved; None while it is open. Read in one
    transaction with ``found`` to see one position."""
    if found.resolved_at is None:
        return None
    incident_id = found.incident_id
    began, resolved = found.began_at, found.resolved_at
    regions = found.regions[:_REGIONS]
    drills = [
        d
        for d in postmortems.drills_about(
            db, regions, since=began - DRILL_LOOKBACK_MS, until=resolved
        )
        if _blows(d, regions, began - DRILL_LOOKBACK_MS, resolved)
    ]
    figures = tuple(
        figures_for(db, r, found.components, since=began, until=max(began, resolved))
        for r in regions
    )
    rounds = tuple(_rounds_down(db, r, found.components, began, resolved) for r in regions)
    impact = _impact(found, figures, rounds, drills)
    creators = tuple(impact_on_creators(db, began, resolved, rates))
    impact = dataclasses.replace(impact, creators=creators)
    timeline = _timeline(db, found, drills)
    edits: Edits = postmortems.edits(db, incident_id)
    return Postmortem(
        incident_id=incident_id,
        title=f"Postmortem: {found.title}",
        incident_title=found.title,
        summary=_summary(found, impact),
        impact=impact,
        began_at=began,
        opened_at=found.opened_at,
        resolved_at=resolved,
        detection_ms=max(0, found.opened_at - began),
        trigger=_trigger(found, drills),
        resolution=_resolution(found, timeline),
        timeline=timeline,
        drills=tuple(d.drill_id for d in drills),
        root_cause=edits.root_cause,
        lessons=edits.lessons,
        action_items=edits.action_items,
        published_at=edits.published_at,
        edited_at=edits.edited_at,
    )


def _in_window(fault: DrillFault, regions: Sequence[str], since: int, until: int) -> bool:
    return fault.region in regions and since <= fault.at <= until


def _blows(drill: Drill, regions: Sequence[str], since: int, until: int) -> list[DrillFault]:
    """The drill's blows (a cut, a freeze, a partition) to the incident's regions."""
    return [f for f in drill.faults if f.kind in _BLOWS and _in_window(f, regions, since, until)]


# -- impact --------------------------------------------------------------------


def _impact(
    found: Incident,
    figures: tuple[Figures, ...],
    rounds: tuple[RoundsDown, ...],
    drills: list[Drill],
) -> PostmortemImpact:
    first = figures[0]
    requests = first.requests  # every region's own counts: the same for each figures
    return PostmortemImpact(
        duration_ms=(found.resolved_at or found.began_at) - found.began_at,
        regions=found.regions,
        components=_ordered(found.components),
        rounds=rounds,
        figures=figures,
        requests=requests,
        requests_failed=sum(r.errors for r in requests) if requests else None,
        uploads_refused=first.uploads_refused,
        uploads_delayed=first.uploads_delayed,
        creators_touched=first.creators_touched,
        writes_lost=_writes_lost(drills),
        continuity=_continuity(drills),
    )


def _writes_lost(drills: list[Drill]) -> WritesLost:
    measured = [d for d in drills if d.writes is not None]
    if not measured:
        return WritesLost(
            lost=None,
            duplicated=None,
            acknowledged=None,
            how="None known: nothing read the writes back during this incident (a drill's "
            "checker does). A write is acknowledged only once the log made it durable — in a "
            "cluster, on a majority of regions — so losing one region should lose none; "
            "this time, nothing measured it.",
        )
    lost = sum(d.writes.lost for d in measured if d.writes)
    duplicated = sum(d.writes.duplicated for d in measured if d.writes)
    acknowledged = sum(d.writes.acknowledged for d in measured if d.writes)
    names = ", ".join(f"{d.scenario} ({d.drill_id})" for d in measured)
    return WritesLost(
        lost=lost,
        duplicated=duplicated,
        acknowledged=acknowledged,
        how=f"Measured by the checker of drill {names}: it read every one of the "
        f"{acknowledged:,} acknowledged writes back from every region; {lost:,} were missing "
        f"and {duplicated:,} duplicated.",
    )


def _continuity(drills: list[Drill]) -> Continuity | None:
    for d in drills:
        if d.continuity_permille is not None:
            cold = d.cold_start_permille
            return Continuity(
                overlap_at_20=d.continuity_permille / 1000,
                cold_start_overlap_at_20=None if cold is None else cold / 1000,
                drill_id=d.drill_id,
                scenario=d.scenario,
            )
    return None


def _ordered(components: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(components, key=lambda c: (COMPONENTS.index(c), c) if c in COMPONENTS
                        else (len(COMPONENTS), c)))  # fmt: skip


def named(components: Sequence[str]) -> str:
    """``Sign-in and For You``: their names, in the status page's order, as a sentence begins."""
    return capitalized_names_of(_ordered(components))


def _rounds_down(
    db: sqlite3.Connection, region: str, components: Sequence[str], began: int, until: int
) -> RoundsDown:
    marks = ",".join("?" * len(components))
    judged, failing = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(down), 0) FROM (SELECT MAX(failing) AS down "
        f"FROM probe_verdicts WHERE region = ? AND component IN ({marks}) "
        "AND round_at BETWEEN ? AND ? GROUP BY round_at)",
        (region, *components, began, until),
    ).fetchone()
    return RoundsDown(region=region, judged=int(judged), failing=int(failing))


def _summary(found: Incident, impact: PostmortemImpact) -> str:
    where = ", ".join(found.regions)
    verb = "was" if len(found.components) == 1 else "were"
    said = [
        f"{named(found.components)} {verb} down in {where} for "
        f"{duration(impact.duration_ms)}, from {when(found.began_at)} to "
        f"{when(found.resolved_at or found.began_at)} (impact: {found.impact}).",
        "Probe rounds that found it down: "
        + "; ".join(f"{r.region} {r.failing:,} of {r.judged:,}" for r in impact.rounds)
        + ".",
    ]
    if impact.requests_failed is not None:
        total = sum(r.requests for r in impact.requests)
        said.append(
            f"{impact.requests_failed:,} of {total:,} of people's requests failed, as counted "
            "by the regions that answered."
        )
    lost = impact.writes_lost
    said.append(
        "Acknowledged writes lost: none known (not measured)."
        if lost.lost is None
        else f"Acknowledged writes lost: {lost.lost:,} of {lost.acknowledged:,} (measured)."
    )
    return " ".join(said)


def _trigger(found: Incident, drills: list[Drill]) -> str:
    regions = found.regions[:_REGIONS]
    since = found.began_at - DRILL_LOOKBACK_MS
    blows = sorted(
        ((f, d) for d in drills for f in _blows(d, regions, since, found.resolved_at or since)),
        key=lambda pair: pair[0].at,
    )
    if found.recorded_after:
        detected = (
            f"No region recorded any probe round after the round of {when(found.began_at)}: "
            "every region was down at once, or none could write to the log."
        )
    elif found.automatic:
        detected = (
            f"{named(found.components)} of {', '.join(found.regions)} failed most "
            f"probers' checks from the round of {when(found.began_at)}."
        )
    else:
        detected = f"An operator opened the incident: {found.updates[0].text}"
    if not blows:
        return detected
    fault, drill = blows[0]
    made = _fault(fault)
    return f"A drill ({drill.scenario}) made it happen at {when(fault.at)}: {made}. {detected}"


def _resolution(found: Incident, timeline: tuple[Moment, ...]) -> str:
    resolved = next(u for u in found.updates if u.status == "resolved")
    if found.recorded_after:
        return (
            f"Probe rounds resumed at {when(found.resolved_at or found.began_at)}; the "
            f"platform's judge recorded the blackout at {when(resolved.at)}, after the fact."
        )
    if not resolved.automatic:
        return f"Resolved by an operator at {when(resolved.at)}: {resolved.text}"
    said = [m.text for m in timeline if m.kind in ("ready", "probes_pass")]
    said.append(
        f"The platform's judge resolved it at {when(resolved.at)}, once its components had "
        "stayed up through the quiet period."
    )
    return " ".join(said)


# -- timeline ------------------------------------------------------------------

#: the order of moments that share a time
_ORDER = {
    "drill_power_cut": 0,
    "drill_freeze": 0,
    "drill_partition": 0,
    "unreachable": 1,
    "first_failing_round": 2,
    "last_round": 2,
    "opened": 3,
    "update": 4,
    "drill_power_restore": 5,
    "drill_thaw": 5,
    "drill_heal": 5,
    "answering": 6,
    "ready": 7,
    "probes_pass": 8,
    "rounds_resume": 8,
    "resolved": 9,
}


def _timeline(db: sqlite3.Connection, found: Incident, drills: list[Drill]) -> tuple[Moment, ...]:
    resolved = found.resolved_at or found.began_at
    regions = found.regions[:_REGIONS]
    since = found.began_at - DRILL_LOOKBACK_MS
    moments = [
        Moment(f.at, f"drill_{f.kind}", f"Drill {d.scenario}: {_fault(f)}.")
        for d in drills
        for f in d.faults
        if _in_window(f, regions, since, resolved)
    ]
    if found.recorded_after:
        moments += [
            Moment(found.began_at, "last_round", "Last probe round any region recorded."),
            Moment(resolved, "rounds_resume", "Probe rounds recorded again."),
        ]
    else:
        first = (
            f"First failing probe round: {named(found.components)} of "
            f"{', '.join(found.regions)} failed most probers' checks."
            if found.automatic
            else "The trouble began (as the operator who opened the incident said)."
        )
        moments.append(Moment(found.began_at, "first_failing_round", first))
    for n, update in enumerate(found.updates):
        moments.append(_said(update, opening=n == 0))
    for region in regions:
        moments += _health(db, region, found.began_at, resolved)
        passing = _probes_pass(db, region, found.components, found.began_at, resolved)
        if passing is not None:
            said = f"Probes of {region} pass again from {when(passing)}."
            moments.append(Moment(passing, "probes_pass", said))
    return tuple(sorted(moments, key=lambda m: (m.at, _ORDER.get(m.kind, 10), m.text)))


def _fault(fault: DrillFault) -> str:
    return _FAULTS[fault.kind].format(region=fault.region)


def _said(update: Update, *, opening: bool) -> Moment:
    who = "automatic" if update.automatic else "by an operator"
    if opening:
        said = f"Incident opened ({who}, {update.status}): {update.text}"
        return Moment(update.at, "opened", said)
    kind = "resolved" if update.status == "resolved" else "update"
    return Moment(update.at, kind, f"{update.status.capitalize()} ({who}): {update.text}")


def _health(db: sqlite3.Connection, region: str, began: int, until: int) -> list[Moment]:
    """When no prober found ``region`` ready, and when one found it answering
    (catching up) and ready again after that — what its own health said."""
    down = db.execute(
        "SELECT round_at FROM probe_regions WHERE region = ? AND round_at BETWEEN ? AND ? "
        "GROUP BY round_at HAVING MAX(reachable AND ready) = 0 ORDER BY round_at LIMIT 1",
        (region, began, until),
    ).fetchone()
    if down is None:
        return []  # ready throughout, as far as the probers saw: only components failed
    moments = [Moment(down[0], "unreachable", f"No prober found {region} ready.")]
    answering, ready = db.execute(
        "SELECT MIN(round_at), MIN(CASE WHEN ready THEN round_at END) FROM probe_regions "
        "WHERE region = ? AND round_at > ? AND round_at <= ? AND reachable = 1",
        (region, down[0], until),
    ).fetchone()
    if answering is not None and answering != ready:
        moments.append(Moment(answering, "answering", f"{region} answers again, catching up."))
    if ready is not None:
        moments.append(Moment(ready, "ready", f"{region} is ready again from {when(ready)}."))
    return moments


def _probes_pass(
    db: sqlite3.Connection, region: str, components: Sequence[str], began: int, until: int
) -> int | None:
    """The first round after the incident's last failing one in which every
    one of its components of ``region`` passed."""
    marks = ",".join("?" * len(components))
    (last,) = db.execute(
        f"SELECT MAX(round_at) FROM probe_verdicts WHERE region = ? AND component IN ({marks}) "
        "AND failing = 1 AND round_at BETWEEN ? AND ?",
        (region, *components, began, until),
    ).fetchone()
    row = db.execute(
        f"SELECT round_at FROM probe_verdicts WHERE region = ? AND component IN ({marks}) "
        "AND round_at > ? AND round_at <= ? GROUP BY round_at HAVING SUM(failing) = 0 "
        "ORDER BY round_at LIMIT 1",
        (region, *components, began if last is None else last, until),
    ).fetchone()
    return None if row is None else int(row[0])
