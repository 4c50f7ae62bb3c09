"""Events are canonical, versioned values; old versions are upcast on read."""

from __future__ import annotations

import copy
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stormproof.errors import LogError
from stormproof.events import (
    COMPONENTS,
    CURRENT_VERSION,
    DRILL_FAULTS,
    IMPACTS,
    INCIDENT_STATUSES,
    MAX_INT,
    MAX_TEXT_CHARS,
    MAX_TIME_MS,
    MAX_WATCHED_MS,
    MAX_WINDOW_MS,
    PAYLOADS,
    REPORT_REASONS,
    REPORT_TARGETS,
    SLIS,
    SYSTEM_ID_PREFIX,
    UNDECODABLE,
    UPCASTERS,
    WATCH_SOURCES,
    AccountCreated,
    AccountDeleted,
    ActionItem,
    BlockStarted,
    BlockStopped,
    CommentDeleted,
    CommentPosted,
    CreditLine,
    CreditPosted,
    DrillFault,
    DrillReported,
    DrillWrites,
    EarningsEnrolled,
    EarningsRateSet,
    Event,
    Figures,
    FollowStarted,
    FollowStopped,
    ForYouReset,
    IncidentOpened,
    IncidentUpdated,
    Interaction,
    InteractionsRecorded,
    LedgerAdjusted,
    MaintenanceEnded,
    MaintenanceScheduled,
    MessageSent,
    PasswordChanged,
    Payload,
    PayoutSent,
    PlannedRung,
    PostmortemEdited,
    ProbeResult,
    ProbesRecorded,
    RegionRequests,
    RegionSeen,
    RenditionFailed,
    RenditionReady,
    RenditionsPlanned,
    ReportFiled,
    RequestsCounted,
    RoleGranted,
    RoleRevoked,
    SessionRevoked,
    SessionStarted,
    TimeZoneSet,
    UpdateCorrected,
    UploadChunkStored,
    UploadCreated,
    UploadEnded,
    VideoDeleted,
    VideoUploaded,
    WebhookAttempt,
    WebhookDelivered,
    WebhookFailed,
    WebhookRemoved,
    WebhookSubscribed,
    _decode_any,
    _decode_current,
    decode,
    decode_entry,
    encode,
    is_system,
    new_event,
)

ids = st.text("abcXYZ019_.-", min_size=1, max_size=64)
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(text=texts.filter(lambda t: len(t) <= MAX_TEXT_CHARS), to=ids)
def test_encode_decode_round_trip_is_canonical(text: str, to: str) -> None:
    event = new_event(MessageSent(message_id="m", to_id=to, text=text), actor="u", at=5)
    raw = encode(event)
    assert decode(raw) == event
    assert encode(decode(raw)) == raw
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False).encode()  # fmt: skip


def test_old_versions_are_upcast_when_read_never_rewritten() -> None:
    # Pretend follow.started was once v1 with "user" and is now v2 with "followee_id".
    stored = json.dumps(
        {
            "type": "follow.started",
            "v": 1,
            "id": "e1",
            "at": 1,
            "actor": "a",
            "data": {"user": "u9"},
        }
    ).encode()

    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"followee_id": data["user"]}

    event = decode(
        stored,
        upcasters={("follow.started", 1): v1_to_v2},
        current={"follow.started": 2},
    )
    assert event.v == 2 and event.data == FollowStarted(followee_id="u9")


def test_a_stored_v1_account_is_read_as_a_persons() -> None:
    stored = json.dumps(
        {
            "type": "account.created",
            "v": 1,
            "id": "e1",
            "at": 1,
            "actor": "",
            "data": {"user_id": "u_1", "username": "ann", "password_hash": "h"},
        }
    ).encode()
    event = decode(stored)
    assert event.v == 2
    assert event.data == AccountCreated(user_id="u_1", username="ann", password_hash="h")
    assert isinstance(event.data, AccountCreated) and event.data.system is False


def test_stored_v1_request_counts_read_as_delays_not_counted() -> None:
    """Guards the upcaster of probes.recorded v1 → v2: a v1 prober counted no
    delayed writes — unknown, never a made-up 0 (ADR 025)."""
    stored = json.dumps(
        {"type": "probes.recorded", "v": 1, "id": "e1", "at": 1, "actor": "sys_a",
         "data": {"prober": "a", "round_at": 10_000, "period_ms": 10_000, "results": [],
                  "requests": [{"component": "uploads", "requests": 3, "errors": 1}]}}
    ).encode()  # fmt: skip
    event = decode(stored)
    assert event.v == 2 and isinstance(event.data, ProbesRecorded)
    [counted] = event.data.requests
    assert (counted.errors, counted.delayed, counted.touched) == (1, None, ())


@pytest.mark.parametrize("type_", ["incident.opened", "incident.updated"])
def test_stored_v1_incident_figures_read_as_uploads_not_counted(type_: str) -> None:
    figures = {"region": "w", "since": 1, "until": 2, "probes": 3, "probes_failed": 1}
    data: dict[str, Any] = {"incident_id": "i", "text": "down", "figures": figures}
    if type_ == "incident.opened":
        data |= {"title": "t", "regions": ["w"], "components": ["uploads"], "impact": "major",
                 "began_at": 1}  # fmt: skip
    else:
        data |= {"update_id": "u", "status": "monitoring"}
    stored = json.dumps({"type": type_, "v": 1, "id": "e", "at": 1, "actor": "", "data": data})
    event = decode(stored.encode())
    assert event.v == CURRENT_VERSION[type_]
    read = event.data.figures  # type: ignore[attr-defined]
    assert read.uploads_refused is None and read.creators_touched is None


def test_stored_v2_incident_openings_read_as_opened_unresolved() -> None:
    """Guards the upcaster of incident.opened v2 → v3: before blackouts
    (ADR 021) every incident opened unresolved."""
    data = {"incident_id": "i", "title": "t", "regions": ["w"], "components": ["uploads"],
            "impact": "major", "began_at": 1, "text": "down"}  # fmt: skip
    stored = {"type": "incident.opened", "v": 2, "id": "e", "at": 1, "actor": "", "data": data}
    event = decode(json.dumps(stored).encode())
    assert event.v == 3 and isinstance(event.data, IncidentOpened)
    assert event.data.status == "investigating" and event.data.resolved_at is None


def test_stored_v1_watches_read_as_from_an_unknown_source() -> None:
    """Guards the upcaster of interactions.recorded v1 → v2: before clients
    said where a watch came from, every watch's source is "unknown"."""
    items = [{"type": "watch", "video_id": "v", "watched_ms": 5, "completed": True},
             {"type": "like", "video_id": "v"}]  # fmt: skip
    stored = {"type": "interactions.recorded", "v": 1, "id": "e", "at": 1, "actor": "u_a",
              "data": {"items": items}}  # fmt: skip
    event = decode(json.dumps(stored).encode())
    assert event.v == 2 and isinstance(event.data, InteractionsRecorded)
    assert [item.source for item in event.data.items] == ["unknown", "unknown"]
    assert event.data.items[0].watched_ms == 5


def test_a_watch_source_is_one_the_platform_knows() -> None:
    assert Interaction(type="watch", video_id="v", source="profile").source == "profile"
    with pytest.raises(ValidationError):
        Interaction(type="watch", video_id="v", source="elsewhere")  # type: ignore[arg-type]


def test_an_incident_opens_resolved_only_saying_when_it_ended() -> None:
    given: dict[str, Any] = {"incident_id": "i", "title": "t", "regions": ["w"],
                             "components": ["uploads"], "impact": "critical", "began_at": 10,
                             "text": "no region recorded a round"}  # fmt: skip
    assert IncidentOpened(**given, status="resolved", resolved_at=20).resolved_at == 20
    with pytest.raises(ValidationError):
        IncidentOpened(**given, status="resolved")
    with pytest.raises(ValidationError):
        IncidentOpened(**given, resolved_at=20)  # investigating, yet ended
    with pytest.raises(ValidationError):
        IncidentOpened(**given, status="resolved", resolved_at=9)  # before it began


def test_a_system_account_is_known_by_its_id_alone() -> None:
    # Guards the rule every view relies on: a system actor's interactions may
    # be applied before its sign-up (another partition), so its id must say it.
    made = AccountCreated(user_id="sys_a", username="probe_a", password_hash="h", system=True)
    assert is_system(made.user_id) and not is_system("u_1")
    with pytest.raises(ValidationError):
        AccountCreated(user_id="u_1", username="probe_a", password_hash="h", system=True)
    with pytest.raises(ValidationError):
        AccountCreated(user_id="sys_1", username="ann", password_hash="h")
    v1_with_a_system_id = (
        b'{"actor":"","at":1,"data":{"password_hash":"h","user_id":"sys_1","username":"ann"},'
        b'"id":"e","type":"account.created","v":1}'
    )
    assert decode_entry(v1_with_a_system_id).type == UNDECODABLE


def _probes(**changed: Any) -> ProbesRecorded:
    result = {"region": "b", "component": "sign_in", "ok": True, "latency_ms": 12}
    values: dict[str, Any] = {
        "prober": "a",
        "round_at": 20_000,
        "period_ms": 10_000,
        "results": [result],
        **changed,
    }
    return ProbesRecorded.model_validate(values)


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"round_at": 25_000}, "multiple of period_ms"),
        ({"round_at": -10_000}, "round_at"),
        ({"period_ms": 999}, "period_ms"),
        ({"period_ms": 3_600_001}, "period_ms"),
        ({"prober": "a b"}, "prober"),
        ({"active_people": -1}, "active_people"),
        ({"active_people": 2**63}, "active_people"),
        ({"results": [{"region": "b", "component": "search", "ok": True, "latency_ms": 1}]},
         "component"),
        ({"results": [{"region": "b", "component": "for_you", "ok": True, "latency_ms": -1}]},
         "latency_ms"),
        ({"results": [{"region": "b", "component": "for_you", "ok": False, "latency_ms": 1,
                       "reason": "Timed out"}]}, "reason"),
        ({"results": [{"region": "b", "component": "for_you", "ok": True, "latency_ms": 1,
                       "extra": 1}]}, "extra"),
        ({"results": [{"region": "b", "component": "for_you", "ok": True, "latency_ms": 1}] * 2},
         "one check per region and component"),
        ({"results": [{"region": f"r{n}", "component": "for_you", "ok": True, "latency_ms": 1}
                      for n in range(1001)]}, "results"),
        ({"regions": [{"region": "b", "reachable": True, "remaining": -1}]}, "remaining"),
        ({"regions": [{"region": "b", "reachable": True}] * 2}, "each region once"),
        ({"requests": [{"component": "for_you", "requests": 1, "errors": 2**63}]}, "errors"),
        ({"requests": [{"component": "for_you", "requests": 1, "errors": 0}] * 2},
         "each component once"),
    ],
)  # fmt: skip
def test_a_malformed_probes_round_is_refused_when_made(changed: dict[str, Any], field: str) -> None:
    assert _probes().results[0].ok
    with pytest.raises(ValidationError) as caught:
        _probes(**changed)
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"type": "no.such", "v": 1, "id": "e", "at": 1, "actor": "", "data": {}}',
        b'{"type": "follow.started", "v": 1, "id": "e", "at": 1, "actor": "", "data": {}}',
        b'{"type": "follow.started", "v": 1, "id": "e", "at": 1, "actor": "",'
        b' "data": {"followee_id": "x", "extra": 1}}',
    ],
)
def test_undecodable_events_raise_log_error(raw: bytes) -> None:
    with pytest.raises(LogError) as caught:
        decode(raw)
    assert caught.value.code == "corrupt_event"


def test_every_payload_has_a_unique_type_name() -> None:
    assert len(PAYLOADS) == 43
    assert all(name == model.TYPE for name, model in PAYLOADS.items())


def test_an_event_from_a_newer_version_is_refused_not_misread() -> None:
    raw = b'{"type": "follow.started", "v": 7, "id": "e", "at": 1, "actor": "", "data": {}}'
    with pytest.raises(LogError) as caught:
        decode(raw)
    assert caught.value.code == "event_from_the_future"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: new_event(FollowStarted(followee_id="u"), actor="a", at=2**63), "at"),
        (lambda: new_event(FollowStarted(followee_id="u"), actor="a", at=MAX_TIME_MS + 1), "at"),
        (lambda: new_event(FollowStarted(followee_id="u"), actor="a b", at=1), "actor"),
        (lambda: MessageSent(message_id="m", to_id="u", text="\ud800"), "text"),
        (lambda: MessageSent(message_id="m", to_id="u", text="a\x00b"), "text"),
        (lambda: CommentPosted(comment_id="c", video_id="v", text="x" * 10_001), "text"),
        (lambda: FollowStarted(followee_id="u:1"), "followee_id"),
        (lambda: FollowStarted(followee_id="u" * 65), "followee_id"),
        (lambda: Interaction(type="watch", video_id="v", watched_ms=-1), "watched_ms"),
        (lambda: Interaction(type="watch", video_id="v", watched_ms=2**70), "watched_ms"),
        (lambda: InteractionsRecorded(items=()), "items"),
    ],
)
def test_a_field_views_cannot_store_is_refused_when_the_event_is_made(
    make: Any, field: str
) -> None:
    # Guards: a poisoned event (an `at` past SQLite's INTEGER, a lone surrogate
    # that cannot be encoded) must never reach the log, where it would stop
    # every region's views.
    with pytest.raises(ValidationError) as caught:
        make()
    assert field in str(caught.value)


def test_bytes_that_do_not_decode_become_an_undecodable_event_for_quarantine() -> None:
    event = decode_entry(b"\xff not json")
    assert event.type == UNDECODABLE
    assert event == decode_entry(b"\xff not json")  # the same in every region
    newer = b'{"type": "follow.started", "v": 7, "id": "e", "at": 1, "actor": "", "data": {}}'
    with pytest.raises(LogError):  # a newer version waits for an upgrade, never skipped
        decode_entry(newer)


@pytest.mark.parametrize("version", [b"Infinity", b"-Infinity", b"1e999"])
def test_a_version_past_any_integer_is_a_corrupt_event(version: bytes) -> None:
    # Guards: int() of it raised OverflowError, which no log reader expects,
    # instead of the corrupt_event that the views quarantine.
    raw = b'{"actor":"","at":1,"data":{"followee_id":"u"},"id":"e","type":"follow.started","v":'
    assert decode_entry(raw + version + b"}").type == UNDECODABLE


# -- decode reads the current version in one pass, with the general path's results


class Obj(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs in order, so that a key may repeat."""


class Token(str):
    """JSON text written as it is: NaN, a huge integer, a lone surrogate's escape."""


def as_obj(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj((key, as_obj(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return [as_obj(item) for item in value]
    return value


def to_json(value: Any, ascii: bool) -> str:
    if isinstance(value, Token):
        return value
    if isinstance(value, Obj):
        return "{" + ",".join(f"{to_json(k, ascii)}:{to_json(v, ascii)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(item, ascii) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ascii)


def objects(value: Any) -> list[Obj]:
    """Every JSON object in ``value``, itself included."""
    if isinstance(value, Obj):
        return [value, *(found for _, item in value for found in objects(item))]
    if isinstance(value, list):
        return [found for item in value for found in objects(item)]
    return []


def stored(event: Event) -> Obj:
    """The record :func:`encode` writes, as pairs (encode itself refuses a lone
    surrogate, which a free-form ``str`` field may hold)."""
    envelope = event.model_dump(mode="json", exclude={"data"})
    return as_obj({**envelope, "data": event.data.model_dump(mode="json")})


def read_generally(raw: Any) -> Event:
    return _decode_any(raw, UPCASTERS, CURRENT_VERSION)


def seen(event: Event) -> object:
    """An event as it compares, is typed and prints."""
    return (event, type(event.data), event.model_fields_set, repr(event))


def outcome(read: Callable[[Any], Event], raw: Any) -> object:
    """What reading ``raw`` gives: the event, or the error."""
    try:
        return seen(read(raw))
    except LogError as exc:
        return ("LogError", exc.code, exc.message)
    except Exception as exc:  # an error of the general path's own must stay the same too
        return (type(exc), str(exc))


def assert_read_alike(raw: Any) -> None:
    assert outcome(decode, raw) == outcome(read_generally, raw)


free_text = st.text(max_size=20)  # a plain ``str`` field: any text, lone surrogates too
short_texts = texts.filter(lambda t: len(t) <= 100)
millis = st.integers(0, MAX_TIME_MS)
blob_ids = st.text("0123456789abcdef", min_size=64, max_size=64)
rungs = st.integers(8, 2048).map(lambda half: half * 2)
pixels = st.integers(1, 65_535)
interactions = st.builds(
    Interaction,
    type=st.sampled_from(get_args(Interaction.model_fields["type"].annotation)),
    video_id=ids,
    watched_ms=st.integers(0, MAX_WATCHED_MS),
    completed=st.booleans(),
    source=st.sampled_from(WATCH_SOURCES),
)
#: ``ids`` never begin with the system prefix (no 's' among their letters)
system_ids = ids.map(lambda i: (SYSTEM_ID_PREFIX + i)[:64])
components = st.sampled_from(COMPONENTS)
probe_results = st.builds(
    ProbeResult,
    region=ids,
    component=components,
    ok=st.booleans(),
    latency_ms=millis,
    reason=st.from_regex(r"[a-z0-9_]{0,64}", fullmatch=True),
)
regions_seen = st.builds(
    RegionSeen,
    region=ids,
    reachable=st.booleans(),
    ready=st.booleans(),
    remaining=st.none() | st.integers(0, MAX_INT),
    eta_s=st.none() | st.integers(0, MAX_INT),
)
requests_counted = st.builds(
    RequestsCounted,
    component=components,
    requests=st.integers(0, MAX_INT),
    errors=st.integers(0, MAX_INT),
    delayed=st.none() | st.integers(0, MAX_INT),
    touched=st.lists(ids, max_size=3, unique=True).map(tuple),
)


@st.composite
def probes_recorded(draw: st.DrawFn) -> ProbesRecorded:
    period = draw(st.integers(1000, 3_600_000))
    return ProbesRecorded(
        prober=draw(ids),
        round_at=period * draw(st.integers(0, MAX_TIME_MS // period)),
        period_ms=period,
        results=tuple(
            draw(st.lists(probe_results, max_size=4, unique_by=lambda r: (r.region, r.component)))
        ),
        regions=tuple(draw(st.lists(regions_seen, max_size=3, unique_by=lambda r: r.region))),
        requests=tuple(
            draw(st.lists(requests_counted, max_size=3, unique_by=lambda r: r.component))
        ),
        active_people=draw(st.integers(0, MAX_INT)),
    )


said = texts.filter(lambda t: bool(t.strip()) and len(t) <= 5000)
titles = said.filter(lambda t: len(t) <= 200)
region_sets = st.lists(ids, min_size=1, max_size=3, unique=True).map(tuple)
component_sets = st.lists(components, min_size=1, max_size=6, unique=True).map(tuple)
counts = st.integers(0, MAX_INT)


@st.composite
def figures(draw: st.DrawFn) -> Figures:
    since = draw(millis)
    probes = draw(counts)
    remaining = draw(st.none() | counts)
    requests = draw(st.lists(st.tuples(ids, counts), max_size=3, unique_by=lambda r: r[0]))
    return Figures(
        region=draw(ids),
        since=since,
        until=draw(st.integers(since, MAX_TIME_MS)),
        probes=probes,
        probes_failed=draw(st.integers(0, probes)),
        requests=tuple(
            RegionRequests(region=r, requests=n, errors=draw(st.integers(0, n)))
            for r, n in requests
        ),
        active_people=draw(st.none() | counts),
        catch_up_remaining=remaining,
        catch_up_eta_s=None if remaining is None else draw(st.none() | counts),
        uploads_refused=draw(st.none() | counts),
        uploads_delayed=draw(st.none() | counts),
        creators_touched=draw(st.none() | counts),
    )


@st.composite
def drill_writes(draw: st.DrawFn) -> DrillWrites:
    acknowledged = draw(counts)
    lost = draw(st.integers(0, acknowledged))
    return DrillWrites(acknowledged=acknowledged, lost=lost, duplicated=draw(counts))


postmortem_texts = texts.filter(lambda t: len(t) <= 20_000)
action_items = st.builds(ActionItem, text=said, owner=short_texts)


@st.composite
def postmortem_edited(draw: st.DrawFn) -> PostmortemEdited:
    published = draw(st.none() | st.booleans())
    return PostmortemEdited(
        incident_id=draw(ids),
        root_cause=draw(st.none() | postmortem_texts),
        lessons=draw(st.none() | postmortem_texts),
        action_items=draw(st.none() | st.lists(action_items, max_size=3).map(tuple)),
        published=True if published is None else published,
    )


@st.composite
def maintenance_scheduled(draw: st.DrawFn) -> MaintenanceScheduled:
    starts = draw(st.integers(0, MAX_TIME_MS - 1))
    return MaintenanceScheduled(
        maintenance_id=draw(ids),
        title=draw(titles),
        regions=draw(region_sets),
        components=draw(component_sets),
        starts_at=starts,
        ends_at=draw(st.integers(starts + 1, min(MAX_TIME_MS, starts + MAX_WINDOW_MS))),
        text=draw(said),
    )


notice_update_ids = st.tuples(ids, st.sampled_from(["", ":scheduled", ":completed"])).map("".join)
webhook_urls = st.from_regex(
    r"https?://[a-z0-9.-]{1,30}(:[0-9]{1,5})?(/[\x21-\x7e]{0,60})?", fullmatch=True
).filter(lambda u: "@" not in u)
webhook_attempts = st.lists(
    st.builds(
        WebhookAttempt,
        at=millis,
        took_ms=millis,
        region=ids,
        status=st.integers(0, 999),
        error=st.from_regex(r"[a-z0-9_]{0,64}", fullmatch=True),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


def credit_posted() -> st.SearchStrategy[CreditPosted]:
    """A month's credit whose arithmetic holds."""
    line = st.integers(1, 10**6).flatmap(
        lambda minutes: st.builds(
            CreditLine,
            sli=st.sampled_from(SLIS),
            minutes=st.just(minutes),
            minutes_down=st.integers(0, minutes),
            below_milli_percent=st.integers(0, 100_000),
            credit_percent=st.integers(0, 100),
        )
    )
    lines = st.lists(line, min_size=1, max_size=2, unique_by=lambda x: x.sli).map(tuple)
    return st.tuples(lines, st.integers(0, 10**15), st.integers(0, MAX_TIME_MS - 1)).flatmap(
        lambda t: st.builds(
            CreditPosted,
            creator_id=ids,
            period=st.from_regex(r"[0-9]{4}-(0[1-9]|1[0-2])", fullmatch=True),
            since=st.just(t[2]),
            until=st.integers(t[2] + 1, MAX_TIME_MS),
            base_micros=st.just(t[1]),
            lines=st.just(t[0]),
            credit_micros=st.just(t[1] * max(x.credit_percent for x in t[0]) // 100),
            region=ids,
        )
    )


PAYLOAD_STRATEGIES: dict[type[Payload], st.SearchStrategy[Payload]] = {
    AccountCreated: st.booleans().flatmap(
        lambda system: st.builds(
            AccountCreated,
            user_id=system_ids if system else ids,
            username=st.from_regex(r"[a-z0-9_.]{3,30}", fullmatch=True),
            password_hash=st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1
            ),
            system=st.just(system),
        )
    ),
    SessionStarted: st.builds(SessionStarted, session_id=ids, user_id=ids, expires_at=millis),
    SessionRevoked: st.builds(SessionRevoked, session_id=free_text),
    PasswordChanged: st.builds(PasswordChanged, password_hash=free_text, kept_session_id=free_text),
    AccountDeleted: st.just(AccountDeleted()),
    VideoUploaded: st.builds(
        VideoUploaded,
        video_id=ids,
        owner_id=ids,
        caption=texts,
        blob=blob_ids,
        size=st.integers(0, MAX_INT),
        content_type=short_texts,
        thumbnail_blob=blob_ids,
        duration_ms=millis,
        width=pixels,
        height=pixels,
        codec=short_texts,
    ),
    VideoDeleted: st.builds(VideoDeleted, video_id=ids),
    InteractionsRecorded: st.builds(
        InteractionsRecorded, items=st.lists(interactions, min_size=1, max_size=4).map(tuple)
    ),
    CommentPosted: st.builds(CommentPosted, comment_id=ids, video_id=ids, text=texts),
    CommentDeleted: st.builds(CommentDeleted, comment_id=ids),
    FollowStarted: st.builds(FollowStarted, followee_id=ids),
    FollowStopped: st.builds(FollowStopped, followee_id=ids),
    MessageSent: st.builds(MessageSent, message_id=ids, to_id=ids, text=texts),
    ForYouReset: st.just(ForYouReset()),
    BlockStarted: st.builds(BlockStarted, blocked_id=ids),
    BlockStopped: st.builds(BlockStopped, blocked_id=ids),
    ReportFiled: st.builds(
        ReportFiled,
        report_id=ids,
        target=st.sampled_from(REPORT_TARGETS),
        target_id=ids,
        reason=st.sampled_from(REPORT_REASONS),
        note=texts,
    ),
    ProbesRecorded: probes_recorded(),
    IncidentOpened: st.builds(
        IncidentOpened,
        incident_id=ids,
        title=titles,
        regions=region_sets,
        components=component_sets,
        impact=st.sampled_from(IMPACTS),
        began_at=millis,
        status=st.sampled_from(INCIDENT_STATUSES[:-1]),
        text=said,
        figures=st.none() | figures(),
        automatic=st.booleans(),
    ),
    IncidentUpdated: st.builds(
        IncidentUpdated,
        incident_id=ids,
        update_id=ids,
        status=st.sampled_from(INCIDENT_STATUSES),
        text=said,
        impact=st.none() | st.sampled_from(IMPACTS),
        components=st.lists(components, max_size=6, unique=True).map(tuple),
        figures=st.none() | figures(),
        automatic=st.booleans(),
    ),
    UpdateCorrected: st.builds(UpdateCorrected, incident_id=ids, update_id=ids, text=said),
    MaintenanceScheduled: maintenance_scheduled(),
    MaintenanceEnded: st.builds(
        MaintenanceEnded, maintenance_id=ids, text=texts.filter(lambda t: len(t) <= 5000)
    ),
    RoleGranted: st.builds(RoleGranted, user_id=ids, role=st.just("operator")),
    RoleRevoked: st.builds(RoleRevoked, user_id=ids, role=st.just("operator")),
    WebhookSubscribed: st.builds(
        WebhookSubscribed,
        webhook_id=ids,
        url=webhook_urls,
        sealed_secret=st.from_regex(r"v1(\.[A-Za-z0-9_-]{1,40}){3}", fullmatch=True),
    ),
    WebhookRemoved: st.builds(WebhookRemoved, webhook_id=ids),
    WebhookDelivered: st.builds(
        WebhookDelivered, webhook_id=ids, update_id=notice_update_ids, attempts=webhook_attempts
    ),
    WebhookFailed: st.builds(
        WebhookFailed, webhook_id=ids, update_id=notice_update_ids, attempts=webhook_attempts
    ),
    PostmortemEdited: postmortem_edited(),
    DrillReported: st.builds(
        DrillReported,
        drill_id=ids,
        scenario=short_texts.filter(bool),
        faults=st.lists(
            st.builds(DrillFault, kind=st.sampled_from(DRILL_FAULTS), region=ids, at=millis),
            max_size=3,
        ).map(tuple),
        writes=st.none() | drill_writes(),
        continuity_permille=st.none() | st.integers(0, 1000),
        cold_start_permille=st.none() | st.integers(0, 1000),
    ),
    UploadCreated: st.builds(
        UploadCreated,
        upload_id=ids,
        owner_id=ids,
        video_id=ids,
        length=st.integers(1, MAX_INT),
        caption=texts,
        filename=short_texts,
        expires_at=millis,
    ),
    UploadChunkStored: st.integers(0, MAX_INT - 1).flatmap(
        lambda offset: st.builds(
            UploadChunkStored,
            upload_id=ids,
            offset=st.just(offset),
            length=st.integers(1, MAX_INT - offset),
            blob=blob_ids,
        )
    ),
    UploadEnded: st.builds(
        UploadEnded,
        upload_id=ids,
        reason=st.sampled_from(["terminated", "expired", "rejected"]),
        code=st.from_regex(r"[a-z0-9_]{0,64}", fullmatch=True),
    ),
    TimeZoneSet: st.builds(
        TimeZoneSet, zone=st.from_regex(r"[A-Za-z][A-Za-z0-9_+/-]{0,63}", fullmatch=True)
    ),
    EarningsEnrolled: st.builds(EarningsEnrolled, enrolled=st.booleans()),
    LedgerAdjusted: st.builds(
        LedgerAdjusted,
        adjustment_id=ids,
        creator_id=ids,
        amount_micros=st.integers(-(10**15), 10**15).filter(bool),
        reason=said,
    ),
    PayoutSent: st.builds(
        PayoutSent,
        payout_id=ids,
        creator_id=ids,
        amount_micros=st.integers(1, 10**15),
        reference=texts.filter(lambda t: len(t) <= 200),
        slot=st.none() | st.integers(0, 10**9),
        request_id=st.none() | ids,
    ),
    CreditPosted: credit_posted(),
    EarningsRateSet: st.builds(
        EarningsRateSet, rate_micros=st.integers(0, 10**12), effective_from=millis, reason=said
    ),
    RenditionsPlanned: st.builds(
        RenditionsPlanned,
        video_id=ids,
        segment_ms=st.integers(1000, 10_000),
        rungs=st.lists(
            st.builds(
                PlannedRung,
                rung=rungs,
                width=st.integers(1, 65_535),
                height=st.integers(1, 65_535),
                bitrate=st.integers(1, 10**10),
            ),
            min_size=1,
            max_size=8,
            unique_by=lambda r: r.rung,
        ).map(tuple),
    ),
    RenditionReady: st.builds(
        RenditionReady,
        video_id=ids,
        rung=rungs,
        width=st.integers(1, 65_535),
        height=st.integers(1, 65_535),
        playlist=blob_ids,
        init=blob_ids,
        segments=st.lists(blob_ids, min_size=1, max_size=5).map(tuple),
        poster=blob_ids,
        bandwidth=st.integers(1, 10**10),
        average_bandwidth=st.integers(1, 10**10),
        codecs=st.from_regex(r"[A-Za-z0-9.]{1,30}(,[A-Za-z0-9.]{1,30})?", fullmatch=True),
    ),
    RenditionFailed: st.builds(
        RenditionFailed,
        video_id=ids,
        rung=rungs,
        reason=st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True),
        message=short_texts,
    ),
}
events = st.builds(
    new_event,
    st.one_of(*PAYLOAD_STRATEGIES.values()),
    actor=st.text("abcXYZ019_.-", max_size=64),
    at=millis,
    id=ids,
)

#: values a stored field might hold instead of its own: near misses, other JSON
#: types, and JSON that json.loads and pydantic's parser might read differently
odd_values = st.one_of(
    st.sampled_from([0, 1, 2, -1, True, False, None, "1", 1.0, 1.5, "", "x", [], {}]),
    st.sampled_from([MAX_TIME_MS + 1, 2**63, -(2**63) - 1, 10**20, "watch", *PAYLOADS]),
    st.sampled_from(["\ud800", "a\udc00", "\x00", "a\tb", "é", "\U0001f600"]),
    st.sampled_from(
        [
            Token("NaN"),
            Token("-Infinity"),
            Token("1e999"),
            Token("1e2"),
            Token("-0"),
            Token("1" * 4300),
            Token("1" * 4301),
            Token('"\\ud800"'),
            Token('"\\udc00\\ud800"'),
            Token('"\\ud83d\\ude00"'),
            Token("[" * 250 + "]" * 250),
        ]
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=6,
    ).map(as_obj),
)


#: a few of those, each tried in every place by the test of near misses
NEAR_MISSES = [
    0, 2, True, None, "1", 1.0, "", "u:1", [], {}, MAX_TIME_MS + 1, 2**63, "watch",
    "follow.started", "\ud800", "\x00", Token("NaN"), Token("1" * 4301),
    Token('"\\ud800"'), Token("[" * 250 + "]" * 250),
]  # fmt: skip


def near_misses(record: Obj) -> Iterator[Obj]:
    """``record`` changed in one place, in itself, its data or its first item:
    a key dropped, a value replaced by a near miss, or a near miss added under
    a new key or under a key the object has (before it or after it)."""
    for n, obj in enumerate(objects(record)[:3]):
        for at in range(len(obj)):
            changed = copy.deepcopy(record)
            del objects(changed)[n][at]
            yield changed
            for value in NEAR_MISSES:
                changed = copy.deepcopy(record)
                objects(changed)[n][at] = (obj[at][0], value)
                yield changed
        keys = [key for key, _ in obj] + ["extra"]
        for key, value, at in itertools.product(keys, NEAR_MISSES, (0, len(obj))):
            changed = copy.deepcopy(record)
            objects(changed)[n].insert(at, (key, value))
            yield changed


def mutate(record: Obj, data: st.DataObject) -> None:
    """Change one object somewhere in ``record``: a value replaced, a key
    dropped, or a key added (a new one, or one it has: then twice)."""
    target = data.draw(st.sampled_from(objects(record)))
    keys = sorted({key for obj in objects(record) for key, _ in obj} | {"extra"})
    match data.draw(st.sampled_from(["replace", "drop", "add"])) if target else "add":
        case "replace":
            at = data.draw(st.integers(0, len(target) - 1))
            target[at] = (target[at][0], data.draw(odd_values))
        case "drop":
            del target[data.draw(st.integers(0, len(target) - 1))]
        case "add":
            pair = (data.draw(st.sampled_from(keys)), data.draw(odd_values))
            target.insert(data.draw(st.integers(0, len(target))), pair)


def forms(record: Obj) -> st.SearchStrategy[Any]:
    """The ways stored bytes might hold ``record``."""
    text, ascii = to_json(record, ascii=False), to_json(record, ascii=True)
    utf8 = text.encode("utf-8", "surrogatepass")  # json.loads reads these back too
    return st.sampled_from(
        [
            utf8,
            ascii.encode(),
            text,
            ascii,
            f" \n{ascii}\r\t".encode(),
            b"\xef\xbb\xbf" + utf8,
            "\ufeff" + ascii,
            ascii.encode("utf-16"),
            bytearray(utf8),
            memoryview(utf8),
            utf8[:-1],
            utf8 + b"x",
        ]
    )


def test_there_is_a_strategy_for_every_payload() -> None:
    assert set(PAYLOAD_STRATEGIES) == set(PAYLOADS.values())


@given(events)
def test_stored_events_of_the_current_version_are_read_in_one_pass(event: Event) -> None:
    try:
        raw = encode(event)
    except UnicodeEncodeError:  # a lone surrogate in a free-form field: never stored
        raw = to_json(stored(event), ascii=True).encode()
        assert _decode_current(raw, CURRENT_VERSION) is None  # the general path reads it
    else:
        one_pass = _decode_current(raw, CURRENT_VERSION)
        assert one_pass is not None
        assert seen(one_pass) == seen(read_generally(raw))
        from_text = _decode_current(raw.decode(), CURRENT_VERSION)
        assert from_text is not None and seen(from_text) == seen(one_pass)
    assert decode(raw) == event


@given(events, st.data())
def test_decode_in_one_pass_gives_what_the_general_path_gives(
    event: Event, data: st.DataObject
) -> None:
    record = stored(event)
    for _ in range(data.draw(st.integers(0, 2))):
        mutate(record, data)
    assert_read_alike(data.draw(forms(record)))


@settings(max_examples=10, deadline=None)
@given(events)
def test_every_near_miss_is_read_as_the_general_path_reads_it(event: Event) -> None:
    for record in near_misses(stored(event)):
        assert_read_alike(to_json(record, ascii=False).encode("utf-8", "surrogatepass"))


@given(events, st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=3))
def test_decode_in_one_pass_gives_what_the_general_path_gives_on_damaged_bytes(
    event: Event, damage: list[tuple[int, int]]
) -> None:
    raw = bytearray(to_json(stored(event), ascii=False).encode("utf-8", "surrogatepass"))
    for at, byte in damage:
        raw[at % len(raw)] = byte
    assert_read_alike(bytes(raw))


@given(st.binary() | st.text())
def test_decode_in_one_pass_gives_what_the_general_path_gives_on_garbage(raw: bytes | str) -> None:
    assert_read_alike(raw)


@pytest.mark.parametrize(
    ("raw", "in_one_pass"),
    [
        # json.loads reads a lone surrogate, which pydantic's parser refuses: a
        # free-form str keeps it, a Text field refuses it
        (b'{"actor":"","at":1,"data":{"session_id":"\\ud800"},"id":"e",'
         b'"type":"session.revoked","v":1}', False),
        (b'{"actor":"","at":1,"data":{"session_id":"\xed\xa0\x80"},"id":"e",'
         b'"type":"session.revoked","v":1}', False),
        (b'{"actor":"","at":1,"data":{"message_id":"m","text":"\\ud800","to_id":"u"},"id":"e",'
         b'"type":"message.sent","v":1}', False),
        # the last of duplicate keys wins, in both parsers
        (b'{"actor":"","at":1,"at":2,"data":{"followee_id":"u"},"id":"e",'
         b'"type":"follow.started","v":1}', True),
        # JSON of other types than encode writes: for the general path to read
        (b'{"actor":"","at":1.0,"data":{"followee_id":"u"},"id":"e",'
         b'"type":"follow.started","v":1}', False),
        (b'{"actor":"","at":"1","data":{"followee_id":"u"},"id":"e",'
         b'"type":"follow.started","v":true}', False),
        (b'{"actor":"","at":1,"data":[["followee_id","u"]],"id":"e",'
         b'"type":"follow.started","v":1}', False),
        (b'{"actor":"","at":1,"data":{"followee_id":"u"},"id":"e",'
         b'"type":"follow.started","v":1,"x":0}', False),
    ],
)  # fmt: skip
def test_what_only_json_loads_reads_is_read_as_before(raw: bytes, in_one_pass: bool) -> None:
    assert (_decode_current(raw, CURRENT_VERSION) is not None) == in_one_pass
    assert_read_alike(raw)
    assert_read_alike(raw.decode("utf-8", "surrogatepass"))


def test_a_lower_limit_on_integer_digits_sends_every_event_the_general_way() -> None:
    # Guards: json.loads would refuse the first "at" (more digits than its
    # limit), which pydantic's parser (limit 4300) reads, then drops for the
    # second: the same bytes must not decode in one pass and fail generally.
    raw = (
        b'{"actor":"","at":' + b"1" * 1000 + b',"at":2,"data":{"followee_id":"u"},'
        b'"id":"e","type":"follow.started","v":1}'
    )
    assert decode(raw).at == 2
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        with pytest.raises(LogError) as caught:
            decode(raw)
        assert caught.value.code == "corrupt_event"
        assert_read_alike(raw)
    finally:
        sys.set_int_max_str_digits(limit)


@pytest.mark.parametrize(
    ("payload", "values"),
    [
        (IncidentUpdated, {"incident_id": "i", "update_id": "u", "status": "monitoring",
                           "text": " \n\t"}),
        (IncidentUpdated, {"incident_id": "i", "update_id": "u", "status": "fixed", "text": "x"}),
        (IncidentUpdated, {"incident_id": "i", "update_id": "u", "status": "resolved",
                           "text": "x", "components": ["sign_in", "sign_in"]}),
        (IncidentOpened, {"incident_id": "i", "title": "t", "regions": ["a"],
                          "components": ["teleport"], "impact": "major", "began_at": 1,
                          "text": "x"}),
        (IncidentOpened, {"incident_id": "i", "title": "t", "regions": ["a"],
                          "components": ["uploads"], "impact": "major", "began_at": 1,
                          "text": "x", "status": "resolved"}),
        (MaintenanceScheduled, {"maintenance_id": "m", "title": "t", "regions": ["a"],
                                "components": ["uploads"], "starts_at": 5, "ends_at": 5,
                                "text": "x"}),
        (RoleGranted, {"user_id": "u", "role": "admin"}),
        (WebhookSubscribed, {"webhook_id": "w", "url": "ftp://example.com/",
                             "sealed_secret": "v1.a.b.c"}),
        (WebhookSubscribed, {"webhook_id": "w", "url": "https://u:p@example.com/",
                             "sealed_secret": "v1.a.b.c"}),
        (WebhookSubscribed, {"webhook_id": "w", "url": "https://example.com/",
                             "sealed_secret": "whsec_AAAA"}),
        (WebhookDelivered, {"webhook_id": "w", "update_id": "u", "attempts": []}),
    ],
)  # fmt: skip
def test_incident_events_refuse_what_no_view_should_show(
    payload: type[Payload], values: dict[str, Any]
) -> None:
    """Blank words, unknown statuses or components, a component twice, an
    incident opened resolved, an empty window, an unknown role; a webhook
    URL that is not http(s) or holds credentials, a secret not sealed, a
    delivery with no attempt."""
    with pytest.raises(ValidationError):
        payload.model_validate(values)


def test_figures_hold_no_more_failures_than_checks_and_no_eta_without_progress() -> None:
    base = {"region": "a", "since": 1, "until": 2, "probes": 3, "probes_failed": 3}
    assert Figures.model_validate(base).probes_failed == 3
    for wrong in ({"probes_failed": 4}, {"since": 3}, {"catch_up_eta_s": 5},
                  {"requests": [{"region": "a", "requests": 1, "errors": 2}]}):  # fmt: skip
        with pytest.raises(ValidationError):
            Figures.model_validate({**base, **wrong})
