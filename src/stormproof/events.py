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
from stormproof.vocabulary import (
    COMPONENTS,
    IMPACTS,
    INCIDENT_STATUSES,
    Component,
    Impact,
    IncidentStatus,
)

__all__ = [
    "COMPONENTS",
    "CURRENT_VERSION",
    "DRILL_FAULTS",
    "ID_PATTERN",
    "IMPACTS",
    "INCIDENT_STATUSES",
    "MAX_ACTION_ITEMS",
    "MAX_INT",
    "MAX_POSTMORTEM_CHARS",
    "MAX_SEGMENTS",
    "MAX_TEXT_CHARS",
    "MAX_TIME_MS",
    "MAX_TOUCHED",
    "MAX_UPDATE_CHARS",
    "MAX_WATCHED_MS",
    "MAX_WEBHOOK_ATTEMPTS",
    "MAX_WEBHOOK_URL_CHARS",
    "MAX_WINDOW_MS",
    "PAYLOADS",
    "REPORT_REASONS",
    "REPORT_TARGETS",
    "ROLES",
    "SLIS",
    "SYSTEM_ID_PREFIX",
    "UNDECODABLE",
    "UPCASTERS",
    "WATCH_SOURCES",
    "AccountCreated",
    "AccountDeleted",
    "ActionItem",
    "BlockStarted",
    "BlockStopped",
    "CommentDeleted",
    "CommentPosted",
    "Component",
    "CreditLine",
    "CreditPosted",
    "DrillFault",
    "DrillReported",
    "DrillWrites",
    "EarningsEnrolled",
    "EarningsRateSet",
    "Event",
    "Figures",
    "FollowStarted",
    "FollowStopped",
    "ForYouReset",
    "Id",
    "Impact",
    "IncidentOpened",
    "IncidentStatus",
    "IncidentUpdated",
    "Interaction",
    "InteractionsRecorded",
    "LedgerAdjusted",
    "MaintenanceEnded",
    "MaintenanceScheduled",
    "MessageSent",
    "PasswordChanged",
    "Payload",
    "PayoutSent",
    "PlannedRung",
    "PostmortemEdited",
    "ProbeResult",
    "ProbesRecorded",
    "RegionRequests",
    "RegionSeen",
    "RenditionFailed",
    "RenditionReady",
    "RenditionsPlanned",
    "ReportFiled",
    "RequestsCounted",
    "Role",
    "RoleGranted",
    "RoleRevoked",
    "SessionRevoked",
    "SessionStarted",
    "Text",
    "TimeZoneSet",
    "Undecodable",
    "UpdateCorrected",
    "UploadChunkStored",
    "UploadCreated",
    "UploadEnded",
    "VideoDeleted",
    "VideoUploaded",
    "WatchSource",
    "WebhookAttempt",
    "WebhookDelivered",
    "WebhookFailed",
    "WebhookRemoved",
    "WebhookSubscribed",
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


#: what ends a resumable upload before it became a video: its owner
#: (``terminated``), its time (``expired``), or its bytes (``rejected``: not a
#: video the platform takes, for the reason in ``code``)
UploadEndReason = Literal["terminated", "expired", "rejected"]
#: a rung of a video's HLS ladder, named by its picture's short side in pixels
Rung = Annotated[int, Field(ge=16, le=4096, multiple_of=2)]
#: the segments one rendition may have (10 minutes of 2-second segments is 300)
MAX_SEGMENTS = 4096
#: what a failed rendition's reason may be: an error code
ReasonCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
BitsPerSecond = Annotated[int, Field(ge=1, le=10**10)]


class PlannedRung(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    rung: Rung
    width: Pixels
    height: Pixels
    #: the video bitrate the rung is capped at
    bitrate: BitsPerSecond


class RenditionsPlanned(Payload):
    """Video ``video_id`` gets an HLS ladder of these rungs, segments of
    ``segment_ms`` (ADR 028). Each rung is one transcoding job."""

    TYPE: ClassVar[str] = "video.renditions_planned"
    video_id: Id
    segment_ms: Annotated[int, Field(ge=1000, le=10_000)]
    rungs: Annotated[tuple[PlannedRung, ...], Field(min_length=1, max_length=8)]

    @model_validator(mode="after")
    def _each_rung_once(self) -> RenditionsPlanned:
        _each_once("rung", tuple(str(r.rung) for r in self.rungs))
        return self


class RenditionReady(Payload):
    """One rung of a video's ladder is playable: its media playlist, init
    segment and media segments are blobs (ADR 028). Keyed by (video, rung):
    a job done twice writes the same key, applied once."""

    TYPE: ClassVar[str] = "video.rendition_ready"
    video_id: Id
    rung: Rung
    width: Pixels
    height: Pixels
    playlist: BlobId
    init: BlobId
    segments: Annotated[tuple[BlobId, ...], Field(min_length=1, max_length=MAX_SEGMENTS)]
    poster: BlobId
    #: the peak bitrate over segments (HLS BANDWIDTH) and the average
    bandwidth: BitsPerSecond
    average_bandwidth: BitsPerSecond
    #: RFC 6381 codecs of the rendition: ``avc1.64001f`` or ``avc1.64001f,mp4a.40.2``
    codecs: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9.]+(,[A-Za-z0-9.]+)?$")]


class RenditionFailed(Payload):
    """One rung of a video's ladder will not be made, for ``reason`` (an error
    code: ``not_a_video`` for a stream found corrupt late, ``gave_up`` after
    every delivery of its job was lost, ``video_too_complex``...)."""

    TYPE: ClassVar[str] = "video.rendition_failed"
    video_id: Id
    rung: Rung
    reason: ReasonCode
    message: Annotated[str, Field(max_length=500), AfterValidator(_plain_unicode)] = ""


#: the bytes of an upload: at most what a SQLite INTEGER holds
Bytes = Annotated[int, Field(ge=0, le=MAX_INT)]


class UploadCreated(Payload):
    """A resumable (tus) upload begins: ``length`` bytes are promised, to
    become video ``video_id`` once every byte is stored and validated
    (ADR 027). It can be resumed in any region until ``expires_at``."""

    TYPE: ClassVar[str] = "upload.created"
    upload_id: Id
    owner_id: Id
    video_id: Id
    length: Annotated[int, Field(ge=1, le=MAX_INT)]
    caption: Text
    filename: Short
    expires_at: Millis


class UploadChunkStored(Payload):
    """Bytes ``[offset, offset + length)`` of an upload are the blob ``blob``,
    durable before this event was appended (ADR 027)."""

    TYPE: ClassVar[str] = "upload.chunk_stored"
    upload_id: Id
    offset: Bytes
    length: Annotated[int, Field(ge=1, le=MAX_INT)]
    blob: BlobId

    @model_validator(mode="after")
    def _ends_in_range(self) -> UploadChunkStored:
        if self.offset + self.length > MAX_INT:
            raise ValueError("a chunk ends past the largest offset a view stores")
        return self


class UploadEnded(Payload):
    """An upload that will never become a video; its chunks may go."""

    TYPE: ClassVar[str] = "upload.ended"
    upload_id: Id
    reason: UploadEndReason
    #: the error code of a rejected upload (``not_a_video``…), else ""
    code: Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]*$")] = ""


#: a watch report longer than this is not a real watch
MAX_WATCHED_MS = 24 * 3600 * 1000

InteractionType = Literal["watch", "like", "unlike", "share", "skip", "not_interested"]
#: where a watch came from, as the client says (creator analytics' traffic
#: sources); "unknown": a client that does not say, and every watch recorded
#: before clients could (interactions.recorded v1)
WatchSource = Literal["for_you", "following", "profile", "shared_link", "unknown"]
WATCH_SOURCES: tuple[str, ...] = get_args(WatchSource)


class Interaction(BaseModel):
    """One item of an interactions batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: InteractionType
    video_id: Id
    #: a watch report longer than a day is not a real watch
    watched_ms: Annotated[int, Field(ge=0, le=MAX_WATCHED_MS)] = 0
    completed: bool = False
    #: where a watch came from (v2); the other types carry "unknown"
    source: WatchSource = "unknown"


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


#: people a round's request counts name per component, at most (past that,
#: counts of distinct people read from them are floors)
MAX_TOUCHED = 100


class RequestsCounted(BaseModel):
    """Real people's requests a region served for one component since its
    prober's previous round (probes not counted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    component: Component
    requests: Annotated[int, Field(ge=0, le=MAX_INT)]
    #: answered 5xx, or not at all
    errors: Annotated[int, Field(ge=0, le=MAX_INT)]
    #: writes acknowledged on an attempt that began ``write_delayed_after_s``
    #: or more after the client first sent them (its ``Stormproof-Write-At``);
    #: None: not counted (a prober of v1, before this was)
    delayed: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    #: people (by user id) whose requests of it failed or were delayed, the
    #: first :data:`MAX_TOUCHED` of them: for uploads, the creators touched
    touched: Annotated[tuple[Id, ...], Field(max_length=MAX_TOUCHED)] = ()

    @model_validator(mode="after")
    def _each_person_once(self) -> RequestsCounted:
        if len(set(self.touched)) != len(self.touched):
            raise ValueError("touched names each person once")
        return self


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


# -- incidents, maintenance and the people who post them (ADR 021) ------------

#: roles an account may hold besides being a person
Role = Literal["operator"]
ROLES: tuple[Role, ...] = get_args(Role)
#: no update of an incident or a maintenance is longer
MAX_UPDATE_CHARS = 5000


def _said_something(text: str) -> str:
    """Refuse text that is only white space: an update must say something."""
    if not text.strip():
        raise ValueError("text must not be empty")
    return text


#: what people read in an update: valid Unicode, bounded, not blank
UpdateText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_UPDATE_CHARS),
    AfterValidator(_plain_unicode),
    AfterValidator(_said_something),
]
Title = Annotated[
    str,
    Field(min_length=1, max_length=200),
    AfterValidator(_plain_unicode),
    AfterValidator(_said_something),
]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
#: regions something is about: each once, 100 at most (a prober checks as many)
Regions = Annotated[tuple[Id, ...], Field(min_length=1, max_length=100)]
Components = Annotated[tuple[Component, ...], Field(max_length=len(COMPONENTS))]


def _each_once(what: str, values: tuple[str, ...]) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} names each once")


class RegionRequests(BaseModel):
    """People's requests one region served in a window, and how many failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: Id
    requests: Count
    errors: Count

    @model_validator(mode="after")
    def _no_more_errors_than_requests(self) -> RegionRequests:
        if self.errors > self.requests:
            raise ValueError("errors are some of the requests")
        return self


class Figures(BaseModel):
    """The numbers an automatic update carries, as its judge read them from
    the status view: about ``region``, over the rounds from ``since`` to
    ``until``. ``None`` means "not known", never a guess (ADR 021)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: Id
    since: Millis
    until: Millis
    #: probe checks of the incident's components in ``region`` in the window
    probes: Count
    probes_failed: Count
    #: people's requests each region served in the window (their own counts)
    requests: Annotated[tuple[RegionRequests, ...], Field(max_length=100)] = ()
    #: people ``region`` served in the 15 minutes before the incident began
    active_people: Count | None = None
    #: while ``region`` catches up: log entries left and its own ETA
    catch_up_remaining: Count | None = None
    catch_up_eta_s: Count | None = None
    #: uploads every region answered 5xx or not at all in the window, those
    #: acknowledged late (after a first attempt that failed somewhere), and
    #: the distinct people whose uploads were either (a floor past
    #: :data:`MAX_TOUCHED` a round); None: not counted (v1, or an older prober)
    uploads_refused: Count | None = None
    uploads_delayed: Count | None = None
    creators_touched: Count | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Figures:
        if self.since > self.until:
            raise ValueError("since is at or before until")
        if self.probes_failed > self.probes:
            raise ValueError("probes_failed are some of the probes")
        _each_once("requests", tuple(r.region for r in self.requests))
        if self.catch_up_eta_s is not None and self.catch_up_remaining is None:
            raise ValueError("an ETA comes with the entries left")
        return self


class IncidentOpened(Payload):
    """An incident begins, with its first update. Automatic ones are opened
    by a region's judge (``actor``: its system account); their
    ``incident_id`` derives from the region and the round the outage began,
    so every judge that opens it names the same incident, and the earliest
    opening by (at, event id) is the one shown (ADR 021)."""

    TYPE: ClassVar[str] = "incident.opened"
    incident_id: Id
    title: Title
    regions: Regions
    components: Annotated[Components, Field(min_length=1)]
    impact: Impact
    #: when the trouble began: the first failing round, or the operator's word
    began_at: Millis
    status: IncidentStatus = "investigating"
    text: UpdateText
    figures: Figures | None = None
    automatic: bool = False
    #: set only for an incident recorded after it ended: a blackout, when no
    #: region could record anything (ADR 021); it opens ``resolved``, ended then
    resolved_at: Millis | None = None

    @model_validator(mode="after")
    def _an_open_incident(self) -> IncidentOpened:
        _each_once("regions", self.regions)
        _each_once("components", self.components)
        if (self.status == "resolved") != (self.resolved_at is not None):
            raise ValueError("an incident opens unresolved, unless it says when it ended")
        if self.resolved_at is not None and self.resolved_at < self.began_at:
            raise ValueError("an incident ends after it began")
        return self


class IncidentUpdated(Payload):
    """An update of an incident: its status, what people are told, maybe a
    new impact and components now affected too, and figures. Automatic
    updates of one decision (a figures slot, monitoring since a round…)
    share their ``update_id``; the earliest by (at, event id) is shown."""

    TYPE: ClassVar[str] = "incident.updated"
    incident_id: Id
    update_id: Id
    status: IncidentStatus
    text: UpdateText
    impact: Impact | None = None
    #: affected from now on as well (the incident's are the union)
    components: Components = ()
    figures: Figures | None = None
    automatic: bool = False

    @model_validator(mode="after")
    def _each_component_once(self) -> IncidentUpdated:
        _each_once("components", self.components)
        return self


class UpdateCorrected(Payload):
    """An operator corrects the text of an update (or of the opening, whose
    ``update_id`` is the incident's id): the latest correction by (at, event
    id) is shown, and that it was corrected."""

    TYPE: ClassVar[str] = "incident.corrected"
    incident_id: Id
    update_id: Id
    text: UpdateText


#: a maintenance window is at most this long
MAX_WINDOW_MS = 7 * 24 * 3600 * 1000


class MaintenanceScheduled(Payload):
    """Planned work on components of regions from ``starts_at`` to
    ``ends_at``: probes failing then open no incident, and the components
    read "under maintenance" while it is in progress."""

    TYPE: ClassVar[str] = "maintenance.scheduled"
    maintenance_id: Id
    title: Title
    regions: Regions
    components: Annotated[Components, Field(min_length=1)]
    starts_at: Millis
    ends_at: Millis
    text: UpdateText

    @model_validator(mode="after")
    def _a_window(self) -> MaintenanceScheduled:
        _each_once("regions", self.regions)
        _each_once("components", self.components)
        if not 0 < self.ends_at - self.starts_at <= MAX_WINDOW_MS:
            raise ValueError("a window ends after it starts, within 7 days")
        return self


class MaintenanceEnded(Payload):
    """The work is done before its window ends (or called off before it
    began): the window closes at this event's ``at``."""

    TYPE: ClassVar[str] = "maintenance.completed"
    maintenance_id: Id
    text: Annotated[str, Field(max_length=MAX_UPDATE_CHARS), AfterValidator(_plain_unicode)] = ""


class RoleGranted(Payload):
    """An account gets a role (``stormproof operator grant``): the latest of
    its grants and revocations by (at, event id) holds."""

    TYPE: ClassVar[str] = "account.role_granted"
    user_id: Id
    role: Role


class RoleRevoked(Payload):
    TYPE: ClassVar[str] = "account.role_revoked"
    user_id: Id
    role: Role


# -- webhooks: subscriptions to incident and maintenance updates (ADR 024) ----

#: a webhook's URL is at most this long
MAX_WEBHOOK_URL_CHARS = 2000
#: a delivery records at most this many attempts
MAX_WEBHOOK_ATTEMPTS = 50


def _web_address(url: str) -> str:
    """Only what a deliverer may call: an http(s) URL with a host, in
    printable ASCII, naming no credentials (the action says which rule a URL
    broke, with a code; this keeps anything else out of the log)."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if scheme not in ("http", "https") or not sep or not host or "@" in host:
        raise ValueError("an http(s) URL with a host and no credentials")
    return url


WebhookUrl = Annotated[
    str,
    Field(min_length=1, max_length=MAX_WEBHOOK_URL_CHARS, pattern=r"^[\x21-\x7e]+$"),
    AfterValidator(_web_address),
]
#: what an update of an incident or a maintenance is called on the status
#: page and in the feed: an id, or a maintenance's id and a step
#: (``mnt_…:scheduled``)
NoticeUpdateId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}(:[a-z_]{1,20})?$")]


class WebhookSubscribed(Payload):
    """An operator subscribes a URL to every update of an incident or a
    maintenance from now on. The signing secret is sealed under a key
    derived from the cluster's secret (``status/webhooks/sealing.py``): the
    log carries it so that any region can sign, but never in the clear."""

    TYPE: ClassVar[str] = "webhook.subscribed"
    webhook_id: Id
    url: WebhookUrl
    #: ``v1.<nonce>.<sealed secret>.<tag>``, base64url
    sealed_secret: Annotated[str, Field(max_length=400, pattern=r"^v1(\.[A-Za-z0-9_-]+){3}$")]


class WebhookRemoved(Payload):
    TYPE: ClassVar[str] = "webhook.removed"
    webhook_id: Id


class WebhookAttempt(BaseModel):
    """One try at delivering an update to a webhook."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: when it began, unix ms, and how long it took
    at: Millis
    took_ms: Annotated[int, Field(ge=0, le=MAX_TIME_MS)]
    #: the region that made it
    region: Id
    #: the HTTP status answered; 0: none (timeout, no connection…)
    status: Annotated[int, Field(ge=0, le=999)]
    #: why it failed, "" when it did not
    error: Reason = ""


Attempts = Annotated[
    tuple[WebhookAttempt, ...], Field(min_length=1, max_length=MAX_WEBHOOK_ATTEMPTS)
]


class WebhookDelivered(Payload):
    """A webhook answered 2xx to an update: it is not sent again. Written by
    the region that delivered it, under a key of its own (ADR 024)."""

    TYPE: ClassVar[str] = "webhook.delivered"
    webhook_id: Id
    update_id: NoticeUpdateId
    attempts: Attempts


class WebhookFailed(Payload):
    """The deliverer gave up on an update for a webhook: it answered a
    final refusal, or every attempt the settings allow failed."""

    TYPE: ClassVar[str] = "webhook.failed"
    webhook_id: Id
    update_id: NoticeUpdateId
    attempts: Attempts


# -- postmortems and the drills that feed them (ADR 025) ----------------------

#: no field of a postmortem an operator writes is longer
MAX_POSTMORTEM_CHARS = 20_000
#: a postmortem lists at most this many action items
MAX_ACTION_ITEMS = 50


class ActionItem(BaseModel):
    """One thing to do so it does not happen again, and who owns it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    text: UpdateText
    owner: Annotated[str, Field(max_length=100), AfterValidator(_plain_unicode)] = ""


PostmortemText = Annotated[
    str, Field(max_length=MAX_POSTMORTEM_CHARS), AfterValidator(_plain_unicode)
]


class PostmortemEdited(Payload):
    """An operator fills in, changes or publishes an incident's postmortem:
    each field given replaces what it said (``None``: left as it was); the
    latest edit of each field by (at, event id) holds (ADR 025)."""

    TYPE: ClassVar[str] = "postmortem.edited"
    incident_id: Id
    root_cause: PostmortemText | None = None
    lessons: PostmortemText | None = None
    action_items: Annotated[tuple[ActionItem, ...], Field(max_length=MAX_ACTION_ITEMS)] | None = (
        None
    )
    published: bool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> PostmortemEdited:
        if all(
            value is None
            for value in (self.root_cause, self.lessons, self.action_items, self.published)
        ):
            raise ValueError("an edit changes at least one field")
        return self


DrillFaultKind = Literal["power_cut", "power_restore", "freeze", "thaw", "partition", "heal"]
DRILL_FAULTS: tuple[DrillFaultKind, ...] = get_args(DrillFaultKind)


class DrillFault(BaseModel):
    """A fault a drill made happen, and when (unix ms)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: DrillFaultKind
    region: Id
    at: Millis


class DrillWrites(BaseModel):
    """What a drill's checker found reading every write back from every region."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    acknowledged: Count
    lost: Count
    duplicated: Count


class DrillReported(Payload):
    """A drill (``stormproof drill``) says what it did to the cluster and
    what it measured: its faults with their times, the writes its checker
    read back, and the For You continuity of its sample people (overlap@20,
    in thousandths). Postmortems of the incidents its faults caused cite it
    (ADR 025)."""

    TYPE: ClassVar[str] = "drill.reported"
    drill_id: Id
    scenario: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_unicode)]
    faults: Annotated[tuple[DrillFault, ...], Field(max_length=200)]
    writes: DrillWrites | None = None
    continuity_permille: Annotated[int, Field(ge=0, le=1000)] | None = None
    cold_start_permille: Annotated[int, Field(ge=0, le=1000)] | None = None


# -- creators: their settings, the earnings ledger, the SLA (issue 15; ADR 031)

#: a time zone's IANA name (``Europe/Paris``); whether this region's tz
#: database knows it is the action's check, not the model's: a region with an
#: older database must still decode what another appended
ZoneName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}$")]
#: money in millionths of the platform's currency (``ledger_currency``)
Micros = Annotated[int, Field(ge=-(10**15), le=10**15)]
#: a statement's period: a month, ``YYYY-MM``
Period = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Sli = Literal["upload", "distribution"]
SLIS: tuple[Sli, ...] = get_args(Sli)


class TimeZoneSet(Payload):
    """A person's time zone from now on: their studio's days and their
    statements' months are counted in it (the latest by (at, event id) holds)."""

    TYPE: ClassVar[str] = "account.time_zone_set"
    zone: ZoneName


class EarningsEnrolled(Payload):
    """A creator opts in to earnings (or out): qualified views of their
    videos earn while the latest of these by (at, event id) says so."""

    TYPE: ClassVar[str] = "earnings.enrolled"
    enrolled: bool


class LedgerAdjusted(Payload):
    """An operator adds to (or takes from) a creator's balance, and says why."""

    TYPE: ClassVar[str] = "ledger.adjusted"
    adjustment_id: Id
    creator_id: Id
    amount_micros: Micros
    reason: UpdateText

    @model_validator(mode="after")
    def _moves_money(self) -> LedgerAdjusted:
        if self.amount_micros == 0:
            raise ValueError("an adjustment moves money")
        return self


class EarningsRateSet(Payload):
    """An operator sets what creators earn per 1,000 qualified views, in
    millionths, from ``effective_from`` on (ADR 031, amendment): a 10-minute
    window earns at the rate in force at its start. Before the first, the
    setting ``earnings_rate_micros`` holds."""

    TYPE: ClassVar[str] = "earnings.rate_set"
    rate_micros: Annotated[int, Field(ge=0, le=10**12)]
    effective_from: Millis
    reason: UpdateText


class PayoutSent(Payload):
    """What the platform paid a creator out of their balance."""

    TYPE: ClassVar[str] = "ledger.paid_out"
    payout_id: Id
    creator_id: Id
    amount_micros: Annotated[int, Field(ge=1, le=10**15)]
    reference: Annotated[str, Field(max_length=200), AfterValidator(_plain_unicode)] = ""
    #: how many payouts of this creator the writer had applied: the payout's
    #: log key is ``ledger:{creator}:payout:{slot}``, so two payouts checked
    #: against one balance collide on one key (ADR 031, amendment); None in
    #: payouts written before slots
    slot: Annotated[int, Field(ge=0, le=10**9)] | None = None
    #: which request made it (derived from its Idempotency-Key), so a retry
    #: finds its answer and a colliding request knows it lost
    request_id: Id | None = None


class CreditLine(BaseModel):
    """One service-level indicator's month, and the credit it earned: the
    arithmetic shown to the creator."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sli: Sli
    minutes: Annotated[int, Field(ge=1, le=MAX_INT)]
    minutes_down: Count
    #: the tier crossed: uptime below this many thousandths of a percent
    #: (99900: 99.9 %), and its credit in percent of the base; 0 and 0: none
    below_milli_percent: Annotated[int, Field(ge=0, le=100_000)]
    credit_percent: Annotated[int, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _down_within(self) -> CreditLine:
        if self.minutes_down > self.minutes:
            raise ValueError("minutes_down are some of the minutes")
        return self


class CreditPosted(Payload):
    """A creator's month closed: the SLA credit it earned, with its
    arithmetic, posted to their ledger. Every region's closer may write one
    under a key of its own; the earliest by (at, event id) is the one that
    counts (ADR 031)."""

    TYPE: ClassVar[str] = "sla.credit_posted"
    creator_id: Id
    period: Period
    since: Millis
    until: Millis
    #: the month's accrued earnings, which the credit is a share of
    base_micros: Annotated[int, Field(ge=0, le=10**15)]
    lines: Annotated[tuple[CreditLine, ...], Field(min_length=1, max_length=len(SLIS))]
    credit_micros: Annotated[int, Field(ge=0, le=10**15)]
    #: the region whose closer wrote it
    region: Id

    @model_validator(mode="after")
    def _arithmetic(self) -> CreditPosted:
        if self.since >= self.until:
            raise ValueError("a period ends after it begins")
        _each_once("lines", tuple(line.sli for line in self.lines))
        percent = max(line.credit_percent for line in self.lines)
        if self.credit_micros != self.base_micros * percent // 100:
            raise ValueError("credit_micros is the base times the highest tier's percent")
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
    IncidentOpened,
    IncidentUpdated,
    UpdateCorrected,
    MaintenanceScheduled,
    MaintenanceEnded,
    RoleGranted,
    RoleRevoked,
    WebhookSubscribed,
    WebhookRemoved,
    WebhookDelivered,
    WebhookFailed,
    PostmortemEdited,
    DrillReported,
    UploadCreated,
    UploadChunkStored,
    UploadEnded,
    TimeZoneSet,
    EarningsEnrolled,
    LedgerAdjusted,
    PayoutSent,
    CreditPosted,
    EarningsRateSet,
    RenditionsPlanned,
    RenditionReady,
    RenditionFailed,
)

#: event type name -> payload model of the current version
PAYLOADS: dict[str, type[Payload]] = {model.TYPE: model for model in _ALL}

#: event type name -> the version new events are written with
CURRENT_VERSION: dict[str, int] = {
    **dict.fromkeys(PAYLOADS, 1),
    AccountCreated.TYPE: 2,
    ProbesRecorded.TYPE: 2,
    IncidentOpened.TYPE: 3,
    IncidentUpdated.TYPE: 2,
    InteractionsRecorded.TYPE: 2,
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _people_then(data: dict[str, Any]) -> dict[str, Any]:
    """account.created v1 → v2: every account before v2 was a person's."""
    return {**data, "system": False}


def _delays_not_counted(data: dict[str, Any]) -> dict[str, Any]:
    """probes.recorded v1 → v2: a v1 prober counted no delayed writes and
    named nobody — not "none": not counted (``delayed`` None)."""
    requests = [{**r, "delayed": None, "touched": []} for r in data.get("requests", [])]
    return {**data, "requests": requests} if "requests" in data else data


def _uploads_not_counted(data: dict[str, Any]) -> dict[str, Any]:
    """incident.opened / incident.updated v1 → v2: v1 figures said nothing
    of uploads; v2 reads that as not counted (the new fields' None)."""
    return data


def _opened_open(data: dict[str, Any]) -> dict[str, Any]:
    """incident.opened v2 → v3: every v2 incident opened unresolved (the new
    ``resolved_at``'s None)."""
    return data


def _sources_unknown(data: dict[str, Any]) -> dict[str, Any]:
    """interactions.recorded v1 → v2: clients did not yet say where a watch
    came from; its source is "unknown"."""
    if not isinstance(data.get("items"), list):
        return data  # the payload model refuses it
    items = [{**i, "source": "unknown"} if isinstance(i, dict) else i for i in data["items"]]
    return {**data, "items": items}


#: (type, v) -> function turning a version-v payload dict into version v + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    (AccountCreated.TYPE, 1): _people_then,
    (ProbesRecorded.TYPE, 1): _delays_not_counted,
    (IncidentOpened.TYPE, 1): _uploads_not_counted,
    (IncidentOpened.TYPE, 2): _opened_open,
    (IncidentUpdated.TYPE, 1): _uploads_not_counted,
    (InteractionsRecorded.TYPE, 1): _sources_unknown,
}


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
