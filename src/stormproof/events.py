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

Every field is bounded by what every view can store — times and counts fit
SQLite's 64-bit INTEGER, text is valid Unicode of a bounded length, ids are
short and plain — and the models check it when an event is made, so nothing
that reaches the log can fail to apply: an event that broke a view would
replicate to every region and stop them all.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import SchemaValidator, core_schema

from stormproof.errors import LogError

__all__ = [
    "COMPONENTS",
    "CURRENT_VERSION",
    "ID_PATTERN",
    "MAX_INT",
    "MAX_TEXT_CHARS",
    "MAX_TIME_MS",
    "MAX_WATCHED_MS",
    "PAYLOADS",
    "REPORT_REASONS",
    "REPORT_TARGETS",
    "SYSTEM_ID_PREFIX",
    "UNDECODABLE",
    "UPCASTERS",
    "AccountCreated",
    "AccountDeleted",
    "BlockStarted",
    "BlockStopped",
    "CommentDeleted",
    "CommentPosted",
    "Component",
    "Event",
    "FollowStarted",
    "FollowStopped",
    "ForYouReset",
    "Id",
    "Interaction",
    "InteractionsRecorded",
    "MessageSent",
    "PasswordChanged",
    "Payload",
    "ProbeResult",
    "ProbesRecorded",
    "RegionSeen",
    "ReportFiled",
    "RequestsCounted",
    "SessionRevoked",
    "SessionStarted",
    "Text",
    "Undecodable",
    "VideoDeleted",
    "VideoUploaded",
    "decode",
    "decode_entry",
    "encode",
    "is_system",
    "new_event",
]


#: the largest integer a view stores (SQLite's INTEGER is a signed 64-bit number)
MAX_INT = 2**63 - 1
#: the latest time an event may carry, in unix ms: the end of the year 9999
MAX_TIME_MS = 253_402_300_799_999
#: no text of an event is longer, whatever a region's settings allow
MAX_TEXT_CHARS = 10_000


def _plain_unicode(text: str) -> str:
    """Refuse text that cannot be stored as UTF-8 (a lone surrogate, which
    JSON's ``\\ud800`` escape produces) or that holds a NUL character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


#: text a person wrote: valid Unicode, bounded
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_plain_unicode)]
#: an id of something stored: short, letters, digits, '_', '-' and '.'
ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
Id = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
#: a point in time, unix ms
Millis = Annotated[int, Field(ge=0, le=MAX_TIME_MS)]
#: a hex SHA-256: a blob's id
BlobId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Short = Annotated[str, Field(max_length=100), AfterValidator(_plain_unicode)]
Pixels = Annotated[int, Field(ge=1, le=65_535)]


class Payload(BaseModel):
    """Base of every event payload: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str] = ""


#: the user ids of system accounts (a region's prober) begin with this, and
#: nobody else's do (people's begin with ``u_``): so every view tells a
#: system actor from the id alone, whatever order the account's events
#: arrive in — its interactions in one region's partition may be applied
#: before its sign-up in another's (ADR 020)
SYSTEM_ID_PREFIX = "sys_"


def is_system(user_id: str) -> bool:
    """Whether ``user_id`` is a system account's: never recommended, and
    nothing it does counts."""
    return user_id.startswith(SYSTEM_ID_PREFIX)


class AccountCreated(Payload):
    TYPE: ClassVar[str] = "account.created"
    user_id: Id
    username: Annotated[str, Field(pattern=r"^[a-z0-9_.]{3,30}$")]
    password_hash: Annotated[str, Field(max_length=512, pattern=r"^[\x21-\x7e]+$")]
    #: an account of the platform itself (a region's prober): never
    #: recommended, and what it does counts nowhere (v2; v1 accounts are
    #: people). Its id begins with :data:`SYSTEM_ID_PREFIX`, and only its.
    system: bool = False

    @model_validator(mode="after")
    def _system_by_its_id(self) -> AccountCreated:
        if self.system != is_system(self.user_id):
            raise ValueError(
                f"user_id begins with {SYSTEM_ID_PREFIX!r} exactly when the account is a system one"
            )
        return self


class SessionStarted(Payload):
    TYPE: ClassVar[str] = "session.started"
    session_id: Id
    user_id: Id
    expires_at: Millis


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
    video_id: Id
    owner_id: Id
    caption: Text
    blob: BlobId  # sha256 of the video bytes
    size: Annotated[int, Field(ge=0, le=MAX_INT)]
    content_type: Short
    thumbnail_blob: BlobId
    duration_ms: Annotated[int, Field(ge=0, le=MAX_TIME_MS)]
    width: Pixels
    height: Pixels
    codec: Short


class VideoDeleted(Payload):
    TYPE: ClassVar[str] = "video.deleted"
    video_id: Id


#: a watch report longer than this is not a real watch
MAX_WATCHED_MS = 24 * 3600 * 1000

InteractionType = Literal["watch", "like", "unlike", "share", "skip", "not_interested"]


class Interaction(BaseModel):
    """One item of an interactions batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: InteractionType
    video_id: Id
    #: a watch report longer than a day is not a real watch
    watched_ms: Annotated[int, Field(ge=0, le=MAX_WATCHED_MS)] = 0
    completed: bool = False


class InteractionsRecorded(Payload):
    """A whole batch from ``POST /v1/events``: accepted or rejected as one."""

    TYPE: ClassVar[str] = "interactions.recorded"
    items: Annotated[tuple[Interaction, ...], Field(min_length=1, max_length=10_000)]


class CommentPosted(Payload):
    TYPE: ClassVar[str] = "comment.posted"
    comment_id: Id
    video_id: Id
    text: Text


class CommentDeleted(Payload):
    TYPE: ClassVar[str] = "comment.deleted"
    comment_id: Id


class FollowStarted(Payload):
    TYPE: ClassVar[str] = "follow.started"
    followee_id: Id


class FollowStopped(Payload):
    TYPE: ClassVar[str] = "follow.stopped"
    followee_id: Id


class BlockStarted(Payload):
    """The actor blocks someone: no messages or follows between them either
    way, and neither sees the other's videos in their feeds."""

    TYPE: ClassVar[str] = "block.started"
    blocked_id: Id


class BlockStopped(Payload):
    TYPE: ClassVar[str] = "block.stopped"
    blocked_id: Id


ReportTarget = Literal["video", "comment"]
ReportReason = Literal[
    "spam", "harassment", "violence", "sexual", "self_harm", "misinformation", "other"
]
REPORT_TARGETS: tuple[str, ...] = get_args(ReportTarget)
REPORT_REASONS: tuple[str, ...] = get_args(ReportReason)


class ReportFiled(Payload):
    """The actor reports a video or a comment to the operators. The id
    derives from (actor, target, target id): one person's reports of one
    thing are one report."""

    TYPE: ClassVar[str] = "report.filed"
    report_id: Id
    target: ReportTarget
    target_id: Id
    reason: ReportReason
    note: Text = ""


class MessageSent(Payload):
    TYPE: ClassVar[str] = "message.sent"
    message_id: Id
    to_id: Id
    text: Text


class ForYouReset(Payload):
    """The actor starts their For You over: what they did before no longer
    shapes it (what they have seen stays hidden)."""

    TYPE: ClassVar[str] = "foryou.reset"


#: the type of an entry whose stored bytes do not decode (see :func:`decode_entry`)
UNDECODABLE = "undecodable"


class Undecodable(Payload):
    """Stands in for a log entry whose bytes do not decode: no view applies
    it and the view store quarantines it. Never appended; not in PAYLOADS."""

    TYPE: ClassVar[str] = UNDECODABLE
    reason: str


#: what a prober exercises in each region, the way a person would
Component = Literal["sign_in", "for_you", "playback", "interactions", "messages", "uploads"]
COMPONENTS: tuple[Component, ...] = get_args(Component)
#: a machine-readable reason: an API error code, ``timeout``, ``unreachable``…
Reason = Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]*$")]


class ProbeResult(BaseModel):
    """One check of one component of one region, in one round."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: Id
    component: Component
    ok: bool
    latency_ms: Annotated[int, Field(ge=0, le=MAX_TIME_MS)]
    #: why it failed; "" when ok
    reason: Reason = ""


class RegionSeen(BaseModel):
    """What a prober's health check of a region said, in one round."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: Id
    reachable: bool
    ready: bool = False
    #: while the region catches up: log entries it still has to apply, and
    #: its own estimate of the seconds left (None when it has none)
    remaining: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    eta_s: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None


class RequestsCounted(BaseModel):
    """Real people's requests a region served for one component since its
    prober's previous round (probes not counted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    component: Component
    requests: Annotated[int, Field(ge=0, le=MAX_INT)]
    #: answered 5xx, or not at all
    errors: Annotated[int, Field(ge=0, le=MAX_INT)]


class ProbesRecorded(Payload):
    """One round of one region's prober: every component of every region it
    checked, what it saw of each region's health, and its own region's
    request counts. One event per prober and round (ADR 020)."""

    TYPE: ClassVar[str] = "probes.recorded"
    #: the probing region
    prober: Id
    #: the round: its start, unix ms, a multiple of the probe period, so
    #: every prober's results of one round share it
    round_at: Millis
    period_ms: Annotated[int, Field(ge=1000, le=3_600_000)]
    results: Annotated[tuple[ProbeResult, ...], Field(max_length=1000)]
    regions: Annotated[tuple[RegionSeen, ...], Field(max_length=100)] = ()
    requests: Annotated[tuple[RequestsCounted, ...], Field(max_length=100)] = ()
    #: distinct people the probing region served in the 15 minutes before
    active_people: Annotated[int, Field(ge=0, le=MAX_INT)] = 0

    @model_validator(mode="after")
    def _one_round(self) -> ProbesRecorded:
        """A round is a slot of the period, and says each thing once."""
        if self.round_at % self.period_ms:
            raise ValueError("round_at is a multiple of period_ms")
        checked = [(r.region, r.component) for r in self.results]
        if len(set(checked)) != len(checked):
            raise ValueError("results hold one check per region and component")
        if len({seen.region for seen in self.regions}) != len(self.regions):
            raise ValueError("regions hold each region once")
        if len({counted.component for counted in self.requests}) != len(self.requests):
            raise ValueError("requests hold each component once")
        return self


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
    BlockStarted,
    BlockStopped,
    ReportFiled,
    ProbesRecorded,
)

#: event type name -> payload model of the current version
PAYLOADS: dict[str, type[Payload]] = {model.TYPE: model for model in _ALL}

#: event type name -> the version new events are written with
CURRENT_VERSION: dict[str, int] = {**dict.fromkeys(PAYLOADS, 1), AccountCreated.TYPE: 2}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _people_then(data: dict[str, Any]) -> dict[str, Any]:
    """account.created v1 → v2: every account before v2 was a person's."""
    return {**data, "system": False}


#: (type, v) -> function turning a version-v payload dict into version v + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {(AccountCreated.TYPE, 1): _people_then}


class Event(BaseModel):
    """An envelope: who did what, when, under which unique id."""

    model_config = ConfigDict(frozen=True)
    type: str
    v: int
    id: Id
    at: Millis  # set by the writer
    #: user id, "" for anonymous actions such as sign-up
    actor: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]
    data: Payload


def new_event(
    payload: Payload, *, actor: str, at: int | None = None, id: str | None = None
) -> Event:
    """Wrap a payload in an envelope (a new id and the current time unless
    given); raises pydantic's ``ValidationError`` when a field is out of bounds."""
    type_ = payload.TYPE
    return Event(
        type=type_,
        v=CURRENT_VERSION[type_],
        id=id or uuid.uuid4().hex,
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
    """Parse stored bytes into an event of the current version, upcasting old ones.

    Nearly every stored event is of the current version and is read in one
    pass (:func:`_decode_current`); the rest, and whatever is invalid, take
    the general path (:func:`_decode_any`), which gives every error."""
    event = _decode_current(raw, current)
    return event if event is not None else _decode_any(raw, upcasters, current)


def _stored(payload: type[Payload]) -> core_schema.CoreSchema:
    """An event of ``payload``'s type as :func:`encode` stores it: the
    envelope in plain JSON types (its bounds are :class:`Event`'s to check),
    ``data`` checked by the payload model itself, no other keys."""
    field = core_schema.typed_dict_field
    return core_schema.typed_dict_schema(
        {
            "type": field(core_schema.literal_schema([payload.TYPE])),
            "v": field(core_schema.int_schema()),
            "id": field(core_schema.str_schema()),
            "at": field(core_schema.int_schema()),
            "actor": field(core_schema.str_schema()),
            "data": field(payload.__pydantic_core_schema__),
        },
        extra_behavior="forbid",
    )


#: parses stored bytes and checks their payload in one pass, picking the
#: payload model by the ``type`` key
_STORED = SchemaValidator(
    core_schema.tagged_union_schema(
        {name: _stored(model) for name, model in PAYLOADS.items()}, discriminator="type"
    )
)
#: pydantic's JSON parser refuses integers of more digits than this (so does
#: json.loads, unless ``sys.set_int_max_str_digits`` changed its limit)
_PARSER_MAX_INT_DIGITS = 4300


def _decode_current(raw: bytes | str, current: Mapping[str, int]) -> Event | None:
    """Bytes as :func:`encode` writes them for the current version, read in
    one pass of pydantic's JSON parser; ``None`` for anything else (an older
    or newer version, an unknown type, a value of another JSON type than
    encode writes, such as ``1.0`` or ``"1"`` for 1, an extra key, anything
    invalid), which :func:`_decode_any` then reads or refuses.

    Every event this returns is the one :func:`_decode_any` would give: the
    same models check the same values, since whatever this parser accepts
    ``json.loads`` reads alike (the last of duplicate keys wins in both), and
    where the two differ this one refuses (lone surrogates, invalid UTF-8, a
    BOM, nesting deeper than 200, integers of over 4300 digits). Only a lower
    limit on ``json.loads``'s integer digits would make it refuse something
    this parser reads, a duplicate key's dropped value: then every event
    takes the general path."""
    if not isinstance(raw, bytes | str):
        return None  # a memoryview, say, which json.loads refuses
    if 0 < sys.get_int_max_str_digits() < _PARSER_MAX_INT_DIGITS:
        return None
    try:
        fields = _STORED.validate_json(raw, strict=True)
        if fields["v"] != current.get(fields["type"]):
            return None
        # Event checks the envelope, as ever (model_validate's wrapper would add ~1 µs)
        event: Event = Event.__pydantic_validator__.validate_python(fields)
        return event
    except ValidationError:
        return None


def _decode_any(
    raw: bytes, upcasters: Mapping[tuple[str, int], Upcaster], current: Mapping[str, int]
) -> Event:
    """:func:`decode` for any stored bytes: ``json.loads``, the upcasters,
    then the payload model and the envelope each check their fields."""
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
    except (ValueError, KeyError, TypeError, OverflowError, ValidationError) as exc:
        # OverflowError: a version of Infinity (int() of it)
        raise LogError(f"undecodable event: {exc}", code="corrupt_event") from exc


def decode_entry(raw: bytes) -> Event:
    """:func:`decode` for a log reader: bytes that do not decode at all become
    an :class:`Undecodable` event (with an id derived from the bytes), which
    the views quarantine instead of stopping on it. An event from a newer
    stormproof still raises: that region must be upgraded, not skip it."""
    try:
        return decode(raw)
    except LogError as exc:
        if exc.code != "corrupt_event":
            raise
        # A SQLite column may hand back text; either way the id is the bytes'.
        return Event(
            type=UNDECODABLE,
            v=1,
            id=hashlib.sha256(raw if isinstance(raw, bytes) else str(raw).encode()).hexdigest()[
                :32
            ],
            at=0,
            actor="",
            data=Undecodable(reason=exc.message[:200]),
        )
