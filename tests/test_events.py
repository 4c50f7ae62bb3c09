"""Events are canonical, versioned values; old versions are upcast on read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stormproof.errors import LogError
from stormproof.events import (
    PAYLOADS,
    FollowStarted,
    MessageSent,
    decode,
    encode,
    new_event,
)


@given(text=st.text(), to=st.text(min_size=1))
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
    assert len(PAYLOADS) == 14
    assert all(name == model.TYPE for name, model in PAYLOADS.items())


def test_an_event_from_a_newer_version_is_refused_not_misread() -> None:
    raw = b'{"type": "follow.started", "v": 7, "id": "e", "at": 1, "actor": "", "data": {}}'
    with pytest.raises(LogError) as caught:
        decode(raw)
    assert caught.value.code == "event_from_the_future"
