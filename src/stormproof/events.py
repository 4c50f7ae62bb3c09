"""The vocabulary: every event stormproof records, as typed, versioned values.

An event is stored as canonical JSON (sorted keys, no spaces, UTF-8)::

    {"type": "video.uploaded", "v": 1, "id": "...", "at": 1764000000000,
     "actor": "u_...", "data": {...}}

``type`` and ``v`` pick the payload model. Payloads are never rewritten in the
log: when a payload changes shape its version goes up, and an upcaster that
turns version n into n + 1 is registered in :data:`UPCASTERS`; :func:`decode`
runs the chain, so views only ever see the current version.

Views must be a function of the log: they read time from ``at`` (set once, by
the writer) and never from the clock.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from stormproof.errors import LogError

__all__ = [
    "CURRENT_VERSION",
    "PAYLOADS",
    "UPCASTERS",
    "AccountCreated",
    "AccountDeleted",
    "CommentDeleted",
    "CommentPosted",
    "Event",
    "FollowStarted",
    "FollowStopped",
    "ForYouReset",
    "Interaction",
    "InteractionsRecorded",
    "MessageSent",
    "PasswordChanged",
    "Payload",
    "SessionRevoked",
    "SessionStarted",
    "VideoDeleted",
    "VideoUploaded",
    "decode",
    "encode",
    "new_event",
]


class Payload(BaseModel):
    """Base of every event payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str] = ""


class AccountCreated(Payload):
    TYPE: ClassVar[str] = "account.created"
    user_id: str
    username: str
    password_hash: str


class SessionStarted(Payload):
    TYPE: ClassVar[str] = "session.started"
    session_id: str
    user_id: str
    expires_at: int  # unix ms


class SessionRevoked(Payload):
    """The actor ends one of their own sessions (a revocation by anyone else
    is ignored by the views)."""

    TYPE: ClassVar[str] = "session.revoked"
    session_id: str


class PasswordChanged(Payload):
    """The actor's new password. Every session of theirs started at or
    before this event's ``at`` ends, except ``kept_session_id`` (the one that
    asked for the change)."""

    TYPE: ClassVar[str] = "password.changed"
    password_hash: str
    kept_session_id: str


class AccountDeleted(Payload):
    """The actor's account is gone: its sessions end, its videos and
    comments are hidden, its username stays retired (ADR 011)."""

    TYPE: ClassVar[str] = "account.deleted"


class VideoUploaded(Payload):
    TYPE: ClassVar[str] = "video.uploaded"
    video_id: str
    owner_id: str
    caption: str
    blob: str  # sha256 of the video bytes
    size: int
    content_type: str
    thumbnail_blob: str
    duration_ms: int
    width: int
    height: int
    codec: str


class VideoDeleted(Payload):
    TYPE: ClassVar[str] = "video.deleted"
    video_id: str


InteractionType = Literal["watch", "like", "unlike", "share", "skip", "not_interested"]


class Interaction(BaseModel):
    """One item of an interactions batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: InteractionType
    video_id: str
    watched_ms: int = 0
    completed: bool = False


class InteractionsRecorded(Payload):
    """A whole batch from ``POST /v1/events``: accepted or rejected as one."""

    TYPE: ClassVar[str] = "interactions.recorded"
    items: tuple[Interaction, ...]


class CommentPosted(Payload):
    TYPE: ClassVar[str] = "comment.posted"
    comment_id: str
    video_id: str
    text: str


class CommentDeleted(Payload):
    TYPE: ClassVar[str] = "comment.deleted"
    comment_id: str


class FollowStarted(Payload):
    TYPE: ClassVar[str] = "follow.started"
    followee_id: str


class FollowStopped(Payload):
    TYPE: ClassVar[str] = "follow.stopped"
    followee_id: str


class MessageSent(Payload):
    TYPE: ClassVar[str] = "message.sent"
    message_id: str
    to_id: str
    text: str


class ForYouReset(Payload):
    """The actor starts their For You over: what they did before no longer
    shapes it (what they have seen stays hidden)."""

    TYPE: ClassVar[str] = "foryou.reset"


_ALL: tuple[type[Payload], ...] = (
    AccountCreated,
    SessionStarted,
    SessionRevoked,
    PasswordChanged,
    AccountDeleted,
    VideoUploaded,
    VideoDeleted,
    InteractionsRecorded,
    CommentPosted,
    CommentDeleted,
    FollowStarted,
    FollowStopped,
    MessageSent,
    ForYouReset,
)

#: event type name -> payload model of the current version
PAYLOADS: dict[str, type[Payload]] = {model.TYPE: model for model in _ALL}

#: event type name -> the version new events are written with
CURRENT_VERSION: dict[str, int] = dict.fromkeys(PAYLOADS, 1)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: (type, v) -> function turning a version-v payload dict into version v + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class Event(BaseModel):
    """An envelope: who did what, when, under which unique id."""

    model_config = ConfigDict(frozen=True)
    type: str
    v: int
    id: str
    at: int  # unix ms, set by the writer
    actor: str  # user id, "" for anonymous actions such as sign-up
    data: Payload


def new_event(payload: Payload, *, actor: str, at: int | None = None) -> Event:
    """Wrap a payload in a fresh envelope with a new id and the current time."""
    type_ = payload.TYPE
    return Event(
        type=type_,
        v=CURRENT_VERSION[type_],
        id=uuid.uuid4().hex,
        at=int(time.time() * 1000) if at is None else at,
        actor=actor,
        data=payload,
    )


def encode(event: Event) -> bytes:
    """Canonical JSON bytes of an event: the same event always gives the same bytes."""
    record = {
        "type": event.type,
        "v": event.v,
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "data": event.data.model_dump(mode="json"),
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(
    raw: bytes,
    *,
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
    current: Mapping[str, int] = CURRENT_VERSION,
) -> Event:
    """Parse stored bytes into an event of the current version, upcasting old ones."""
    try:
        record = json.loads(raw)
        type_, v, data = record["type"], int(record["v"]), dict(record["data"])
        model = PAYLOADS[type_]
        if v > current[type_]:
            raise LogError(
                f"{type_} v{v} comes from a newer stormproof (this one knows v{current[type_]})",
                code="event_from_the_future",
            )
        while v < current[type_]:
            data = upcasters[(type_, v)](data)
            v += 1
        return Event(
            type=type_,
            v=v,
            id=record["id"],
            at=record["at"],
            actor=record["actor"],
            data=model.model_validate(data),
        )
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise LogError(f"undecodable event: {exc}", code="corrupt_event") from exc
