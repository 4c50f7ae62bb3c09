"""Events are canonical, versioned values; old versions are upcast on read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stormproof.errors import LogError
from stormproof.events import (
    MAX_TEXT_CHARS,
    MAX_TIME_MS,
    PAYLOADS,
    UNDECODABLE,
    CommentPosted,
    FollowStarted,
    Interaction,
    InteractionsRecorded,
    MessageSent,
    decode,
    decode_entry,
    encode,
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
    assert len(PAYLOADS) == 17
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
