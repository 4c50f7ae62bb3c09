"""Postmortems and drill reports: what operators write (ADR 025).

A postmortem's draft is computed from the log when read; operators add what
only people can say — root cause, lessons, action items — and publish it.
A drill (``stormproof drill``, run by an operator) reports what it did and
measured, so the postmortems of the incidents it caused can say so.

Both are operators' actions like those of ``actions/incidents.py``: the
caller's role is checked first (403 ``not_an_operator``), then everything
given, so that nothing reaches the log that cannot apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stormproof.actions import NOW, WriteTime, Written, derived_id, log_key, prior, write
from stormproof.actions.incidents import known_regions
from stormproof.actions.roles import require_role
from stormproof.errors import Conflict, NotFound, Unprocessable
from stormproof.events import (
    DRILL_FAULTS,
    MAX_ACTION_ITEMS,
    MAX_POSTMORTEM_CHARS,
    MAX_UPDATE_CHARS,
    ActionItem,
    DrillFault,
    DrillReported,
    DrillWrites,
    PostmortemEdited,
)
from stormproof.region import Region
from stormproof.views import incidents

__all__ = ["ItemIn", "edit_postmortem", "report_drill"]


@dataclass(frozen=True)
class ItemIn:
    """An action item as a request gives it, not yet checked."""

    text: str
    owner: str = ""


def _long_text(text: str | None, what: str) -> str | None:
    if text is not None and len(text) > MAX_POSTMORTEM_CHARS:
        raise Unprocessable(
            f"the {what} is at most {MAX_POSTMORTEM_CHARS} characters", code="text_too_long"
        )
    return text


def _items(items: Sequence[ItemIn] | None) -> tuple[ActionItem, ...] | None:
    if items is None:
        return None
    if len(items) > MAX_ACTION_ITEMS:
        raise Unprocessable(
            f"at most {MAX_ACTION_ITEMS} action items", code="too_many_action_items"
        )
    for item in items:
        if not item.text.strip():
            raise Unprocessable("an action item must say something", code="empty_text")
        if len(item.text) > MAX_UPDATE_CHARS:
            raise Unprocessable(
                f"an action item is at most {MAX_UPDATE_CHARS} characters", code="text_too_long"
            )
        if len(item.owner) > 100:
            raise Unprocessable("an owner is at most 100 characters", code="owner_too_long")
    return tuple(ActionItem(text=i.text, owner=i.owner) for i in items)


async def edit_postmortem(
    region: Region,
    operator: str,
    incident_id: str,
    *,
    root_cause: str | None = None,
    lessons: str | None = None,
    action_items: Sequence[ItemIn] | None = None,
    published: bool | None = None,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[PostmortemEdited]:
    """An operator fills in or changes the postmortem of a resolved incident,
    or publishes it (``published``); a field left None stays as it was."""
    await require_role(region, operator)
    key = log_key(operator, f"postmortem:{incident_id}", idempotency_key)
    fields = (root_cause, lessons, action_items, published)
    if all(value is None for value in fields):
        raise Unprocessable("say what to change", code="empty_edit")
    payload = PostmortemEdited(
        incident_id=incident_id,
        root_cause=_long_text(root_cause, "root cause"),
        lessons=_long_text(lessons, "lessons"),
        action_items=_items(action_items),
        published=published,
    )
    if done := await prior(region, key, PostmortemEdited, lambda p: p == payload):
        return done
    found = await region.store.query(lambda db: incidents.incident(db, incident_id))
    if found is None:
        raise NotFound("no such incident", code="incident_not_found")
    if found.open:
        raise Conflict(
            "this incident is not resolved: its postmortem is drafted once it is",
            code="incident_not_resolved",
        )
    return await write(region, key, payload, actor=operator, when=when)


@dataclass(frozen=True)
class FaultIn:
    """A drill's fault as a request gives it, not yet checked."""

    kind: str
    region: str
    at: int


async def report_drill(
    region: Region,
    operator: str,
    *,
    scenario: str,
    faults: Sequence[FaultIn],
    writes: DrillWrites | None,
    continuity_permille: int | None,
    cold_start_permille: int | None,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[DrillReported]:
    """A drill run by an operator records what it did and measured."""
    await require_role(region, operator)
    key = log_key(operator, "drill", idempotency_key)
    unknown_kinds = sorted({f.kind for f in faults} - set(DRILL_FAULTS))
    if unknown_kinds:
        raise Unprocessable(
            f"unknown fault kinds {unknown_kinds}: they are {', '.join(DRILL_FAULTS)}",
            code="unknown_fault",
        )
    if not faults:
        raise Unprocessable("a drill reports the faults it made", code="no_faults")
    if writes is not None and writes.lost + writes.duplicated > writes.acknowledged:
        raise Unprocessable(
            "lost and duplicated writes are some of those acknowledged", code="invalid_writes"
        )
    known = await region.store.query(lambda db: known_regions(region, db))
    unknown = sorted({f.region for f in faults} - known)
    if unknown:
        raise Unprocessable(
            f"unknown regions {unknown}: they are {', '.join(sorted(known))}",
            code="unknown_region",
        )
    payload = DrillReported(
        drill_id=derived_id("drl_", key),
        scenario=scenario,
        faults=tuple(
            DrillFault.model_validate({"kind": f.kind, "region": f.region, "at": f.at})
            for f in sorted(faults, key=lambda f: (f.at, f.region, f.kind))
        ),
        writes=writes,
        continuity_permille=continuity_permille,
        cold_start_permille=cold_start_permille,
    )
    if done := await prior(region, key, DrillReported, lambda p: p == payload):
        return done
    return await write(region, key, payload, actor=operator, when=when)
