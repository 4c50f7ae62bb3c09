"""What a webhook is sent for one update of an incident or a maintenance
(ADR 024): the body, and the ``webhook-id`` a receiver dedupes by.

The body follows the Standard Webhooks shape — ``type``, ``timestamp``,
``data`` — where ``data`` holds the incident (or maintenance) **as of that
update** and the update itself. It is a function of the log alone, not of
when it is sent, so a retry, or another region taking over, sends the same
bytes under the same ``webhook-id``; only the signature's timestamp differs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stormproof.views import incidents
from stormproof.views.webhooks import Owed

__all__ = ["Message", "message_for", "message_id"]


@dataclass(frozen=True)
class Message:
    #: the ``webhook-id``: one per (subscription, update), the same everywhere
    id: str
    type: str
    body: str


def message_id(webhook_id: str, update_id: str) -> str:
    """The ``webhook-id`` of an update sent to a subscription."""
    digest = hashlib.sha256(f"webhook:{webhook_id}:{update_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def message_for(db: sqlite3.Connection, owed: Owed) -> Message | None:
    """The message for an owed update, or None while this region does not
    hold what it is about yet (an update whose incident has not arrived)."""
    if owed.kind.startswith("incident."):
        data = _incident_update(db, owed.notice_id, owed.update_id)
    else:
        data = _maintenance_update(db, owed.notice_id, owed.kind)
    if data is None:
        return None
    at, content = data
    body = {"type": owed.kind, "timestamp": _iso(at), "data": content}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Message(message_id(owed.webhook_id, owed.update_id), owed.kind, text)


def _incident_update(
    db: sqlite3.Connection, incident_id: str, update_id: str
) -> tuple[int, dict[str, Any]] | None:
    found = incidents.incident(db, incident_id)
    if found is None:
        return None
    upto = next((n for n, u in enumerate(found.updates) if u.update_id == update_id), None)
    if upto is None:
        return None
    so_far = found.updates[: upto + 1]
    update = so_far[-1]
    opening = incidents.opening_components(db, incident_id)
    components = set(opening).union(*(u.components for u in so_far))
    resolved = any(u.status == "resolved" for u in so_far)
    incident = {
        "id": found.incident_id,
        "title": found.title,
        "regions": list(found.regions),
        "components": sorted(components),
        "impact": [u.impact for u in so_far if u.impact is not None][-1],
        "status": "resolved" if resolved else update.status,
        "automatic": found.automatic,
        "began_at": _iso(found.began_at),
    }
    shown = {
        "id": update.update_id,
        "at": _iso(update.at),
        "status": update.status,
        "text": update.text,
        "figures": None if update.figures is None else update.figures.model_dump(mode="json"),
        "automatic": update.automatic,
    }
    return update.at, {"incident": incident, "update": shown}


def _maintenance_update(
    db: sqlite3.Connection, maintenance_id: str, kind: str
) -> tuple[int, dict[str, Any]] | None:
    window = incidents.window(db, maintenance_id)
    if window is None:
        return None
    completed = kind == "maintenance.completed"
    if completed and window.completed_text is None:
        return None
    maintenance = {
        "id": window.maintenance_id,
        "title": window.title,
        "regions": list(window.regions),
        "components": list(window.components),
        "starts_at": _iso(window.starts_at),
        "ends_at": _iso(window.ends_at if completed else window.scheduled_ends_at),
    }
    at = window.ends_at if completed else window.starts_at
    update = {
        "id": f"{maintenance_id}:{'completed' if completed else 'scheduled'}",
        "at": _iso(at),
        "status": "completed" if completed else "scheduled",
        "text": window.completed_text if completed else window.text,
    }
    return at, {"maintenance": maintenance, "update": update}
