"""Incidents and maintenance: what operators write, and what a region's
judge writes by itself (ADR 021).

Operators' writes are people's actions like any (``actions/__init__.py``):
a key from the caller's Idempotency-Key, every id derived from it, checks
against the views, one append. Each checks first that the caller holds the
``operator`` role (403 ``not_an_operator``) and then everything it was given
— known regions and components, words that say something, an incident that
is open — so that nothing reaches the log that cannot apply.

The judge's writes (:func:`record_judgement`) carry keys of their own per
judge (ADR 021): two judges that decide the same thing write two events
naming the same incident or update id, and the view shows the earliest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from stormproof.actions import (
    NOW,
    WriteTime,
    Written,
    derived_id,
    event_time,
    log_key,
    prior,
    write,
)
from stormproof.actions.roles import require_role
from stormproof.errors import Conflict, NotFound, Unprocessable
from stormproof.events import (
    COMPONENTS,
    IMPACTS,
    INCIDENT_STATUSES,
    MAX_UPDATE_CHARS,
    MAX_WINDOW_MS,
    Component,
    Impact,
    IncidentOpened,
    IncidentStatus,
    IncidentUpdated,
    MaintenanceEnded,
    MaintenanceScheduled,
    UpdateCorrected,
)
from stormproof.region import Region
from stormproof.views import incidents, status

__all__ = [
    "complete_maintenance",
    "correct_update",
    "known_regions",
    "open_incident",
    "post_update",
    "record_judgement",
    "schedule_maintenance",
]

JudgedPayload = IncidentOpened | IncidentUpdated


def known_regions(region: Region, db: sqlite3.Connection) -> set[str]:
    """Regions an incident may name: this one, its peers, and every region
    a prober reported on."""
    settings = region.settings
    probed = {r for r, _ in status.judged_pairs(db)} | {p for p, _ in status.probers(db)}
    return {settings.region, *settings.peer_names} | probed


def _text(text: str, what: str = "text") -> str:
    if not text.strip():
        raise Unprocessable(f"the {what} must say something", code=f"empty_{what}")
    if len(text) > MAX_UPDATE_CHARS:
        raise Unprocessable(
            f"the {what} is at most {MAX_UPDATE_CHARS} characters", code=f"{what}_too_long"
        )
    return text


def _components(names: Iterable[str], *, at_least_one: bool = True) -> tuple[Component, ...]:
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in COMPONENTS]
    if unknown:
        raise Unprocessable(
            f"unknown components {unknown}: they are {', '.join(COMPONENTS)}",
            code="unknown_component",
        )
    if at_least_one and not chosen:
        raise Unprocessable("name at least one component", code="no_components")
    return tuple(c for c in COMPONENTS if c in chosen)


def _impact(impact: str | None) -> Impact | None:
    if impact is None:
        return None
    for known in IMPACTS:
        if impact == known:
            return known
    raise Unprocessable(f"impact is one of {', '.join(IMPACTS)}", code="invalid_impact")


def _status(value: str) -> IncidentStatus:
    for known in INCIDENT_STATUSES:
        if value == known:
            return known
    raise Unprocessable(f"status is one of {', '.join(INCIDENT_STATUSES)}", code="invalid_status")


async def _regions(region: Region, names: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(sorted(set(names)))
    if not chosen:
        raise Unprocessable("name at least one region", code="no_regions")
    known = await region.store.query(lambda db: known_regions(region, db))
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise Unprocessable(
            f"unknown regions {unknown}: they are {', '.join(sorted(known))}",
            code="unknown_region",
        )
    return chosen


async def open_incident(
    region: Region,
    operator: str,
    *,
    title: str,
    regions: Sequence[str],
    components: Sequence[str],
    impact: str,
    text: str,
    status: str = "investigating",
    began_at: int | None = None,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[IncidentOpened]:
    """An operator opens an incident by hand."""
    await require_role(region, operator)
    key = log_key(operator, "incident", idempotency_key)
    checked_impact = _impact(impact)
    assert checked_impact is not None
    opening = _status(status)
    if opening == "resolved":
        raise Unprocessable("an incident opens unresolved", code="invalid_status")
    at = event_time(region, when)
    payload = IncidentOpened(
        incident_id=derived_id("inc_", key),
        title=_text(title, "title"),
        regions=await _regions(region, regions),
        components=_components(components),
        impact=checked_impact,
        began_at=at if began_at is None else began_at,
        status=opening,
        text=_text(text),
    )

    def same(done: IncidentOpened) -> bool:
        """The same request: its began_at is the first write's time unless given."""
        left, right = done.model_dump(), payload.model_dump()
        if began_at is None:
            left["began_at"] = right["began_at"]
        return left == right

    if done := await prior(region, key, IncidentOpened, same):
        return done
    if payload.began_at > at:
        raise Unprocessable("an incident cannot begin in the future", code="invalid_began_at")
    return await write(region, key, payload, actor=operator, at=at)


async def _open_one(region: Region, incident_id: str) -> incidents.Incident:
    found = await region.store.query(lambda db: incidents.incident(db, incident_id))
    if found is None:
        raise NotFound("no such incident", code="incident_not_found")
    return found


async def post_update(
    region: Region,
    operator: str,
    incident_id: str,
    *,
    status: str,
    text: str,
    impact: str | None = None,
    components: Sequence[str] = (),
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[IncidentUpdated]:
    """An operator updates an open incident: its status (``resolved`` to
    resolve it, for good), what people are told, its impact, more components."""
    await require_role(region, operator)
    key = log_key(operator, f"incident-update:{incident_id}", idempotency_key)
    payload = IncidentUpdated(
        incident_id=incident_id,
        update_id=derived_id("upd_", key),
        status=_status(status),
        text=_text(text),
        impact=_impact(impact),
        components=_components(components, at_least_one=False),
    )
    if done := await prior(region, key, IncidentUpdated, lambda p: p == payload):
        return done
    found = await _open_one(region, incident_id)
    if not found.open:
        raise Conflict("this incident is resolved: open a new one", code="incident_resolved")
    return await write(region, key, payload, actor=operator, when=when)


async def correct_update(
    region: Region,
    operator: str,
    incident_id: str,
    update_id: str,
    *,
    text: str,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[UpdateCorrected]:
    """An operator corrects what an update (or the opening) said; the
    incident may be resolved already — a postmortem's facts get fixed too."""
    await require_role(region, operator)
    key = log_key(operator, f"incident-correction:{update_id}", idempotency_key)
    payload = UpdateCorrected(incident_id=incident_id, update_id=update_id, text=_text(text))
    if done := await prior(region, key, UpdateCorrected, lambda p: p == payload):
        return done
    found = await _open_one(region, incident_id)
    if update_id not in {u.update_id for u in found.updates}:
        raise NotFound("this incident has no such update", code="update_not_found")
    return await write(region, key, payload, actor=operator, when=when)


async def schedule_maintenance(
    region: Region,
    operator: str,
    *,
    title: str,
    regions: Sequence[str],
    components: Sequence[str],
    starts_at: int,
    ends_at: int,
    text: str,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[MaintenanceScheduled]:
    """An operator plans work: a window in the future (or under way now)."""
    await require_role(region, operator)
    key = log_key(operator, "maintenance", idempotency_key)
    if not 0 < ends_at - starts_at <= MAX_WINDOW_MS:
        raise Unprocessable(
            "a window ends after it starts, and lasts 7 days at most", code="invalid_window"
        )
    payload = MaintenanceScheduled(
        maintenance_id=derived_id("mnt_", key),
        title=_text(title, "title"),
        regions=await _regions(region, regions),
        components=_components(components),
        starts_at=starts_at,
        ends_at=ends_at,
        text=_text(text),
    )
    if done := await prior(region, key, MaintenanceScheduled, lambda p: p == payload):
        return done
    at = event_time(region, when)
    if ends_at <= at:
        raise Unprocessable("this window is over already", code="window_in_the_past")
    return await write(region, key, payload, actor=operator, at=at)


async def complete_maintenance(
    region: Region,
    operator: str,
    maintenance_id: str,
    *,
    text: str = "",
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[MaintenanceEnded]:
    """An operator ends a window early (or calls it off before it began)."""
    await require_role(region, operator)
    key = log_key(operator, f"maintenance-end:{maintenance_id}", idempotency_key)
    if len(text) > MAX_UPDATE_CHARS:
        raise Unprocessable(
            f"the text is at most {MAX_UPDATE_CHARS} characters", code="text_too_long"
        )
    payload = MaintenanceEnded(maintenance_id=maintenance_id, text=text)
    if done := await prior(region, key, MaintenanceEnded, lambda p: p == payload):
        return done
    found = await region.store.query(lambda db: incidents.window(db, maintenance_id))
    if found is None:
        raise NotFound("no such maintenance", code="maintenance_not_found")
    at = event_time(region, when)
    if found.state(at) == "completed":
        raise Conflict("this maintenance is over already", code="maintenance_over")
    return await write(region, key, payload, actor=operator, at=at)


async def record_judgement(
    region: Region, key: str, payload: JudgedPayload, *, actor: str, at: int
) -> Written[JudgedPayload]:
    """Append what this region's judge decided at ``at`` (its time, unix
    ms), under its own key (a retry is the same write), checked again
    first: it replicates to every region, whose incidents view must be able
    to hold it."""
    checked = type(payload).model_validate(payload.model_dump())
    if done := await prior(region, key, type(checked)):
        return done
    return await write(region, key, checked, actor=actor, at=at)
