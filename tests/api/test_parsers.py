"""Every parser of client text — cursors, Last-Event-ID, min_seq, interaction
batches, stored events — answers with a value or our 4xx error for *any*
input, never another exception (which the API would answer with a 500)."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stormproof.actions.social import parse_interactions
from stormproof.api.deps import decode_cursor, encode_cursor
from stormproof.api.routers.feed import decode_feed_cursor, encode_feed_cursor
from stormproof.api.routers.messages import parse_last_event_id
from stormproof.errors import LogError, StormproofError
from stormproof.events import UNDECODABLE, decode, decode_entry

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.text())
def test_list_cursors_parse_or_are_refused(cursor: str) -> None:
    try:
        at, item_id = decode_cursor(cursor) or (0, "x")
    except StormproofError as exc:
        assert exc.status == 400
    else:
        assert 0 <= at < 10**18 and item_id


@given(st.integers(0, 10**15), st.text("abc019_-", min_size=1, max_size=64))
def test_list_cursors_round_trip(at: int, item_id: str) -> None:
    assert decode_cursor(encode_cursor(at, item_id)) == (at, item_id)


@given(
    st.text() | json_values.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode())
)
def test_feed_cursors_parse_or_are_refused(cursor: str) -> None:
    try:
        served = decode_feed_cursor(cursor)
    except StormproofError as exc:
        assert exc.status == 400
    else:
        assert all(isinstance(v, str) for v in served)


def test_a_deeply_nested_feed_cursor_is_refused_not_a_recursion_error() -> None:
    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()
    with pytest.raises(StormproofError):
        decode_feed_cursor(deep)


@given(st.lists(st.text("abcdef0123456789", min_size=1, max_size=40), max_size=400))
def test_feed_cursors_round_trip_what_they_remember(ids: list[str]) -> None:
    assert decode_feed_cursor(encode_feed_cursor(ids)) == [v[:14] for v in ids[-300:]]


@given(st.text(), st.integers(1, 3))
def test_last_event_ids_parse_or_are_refused(raw: str, partitions: int) -> None:
    try:
        position = parse_last_event_id(raw, partitions)
    except StormproofError as exc:
        assert exc.status == 400
    else:
        assert len(position) == partitions and all(0 <= p < 10**18 for p in position)


@given(st.lists(json_values, max_size=5))
def test_interaction_batches_parse_or_are_refused(raw: list[Any]) -> None:
    try:
        parse_interactions(raw, batch_max=3)
    except StormproofError as exc:
        assert exc.status == 422


@given(st.binary() | json_values.map(lambda v: json.dumps(v).encode()))
def test_stored_bytes_decode_or_raise_log_error(raw: bytes) -> None:
    with contextlib.suppress(LogError):
        decode(raw)
    try:
        assert decode_entry(raw).type  # undecodable bytes become an entry to quarantine
    except LogError as exc:
        assert exc.code == "event_from_the_future"


def test_undecodable_entries_are_typed_as_such() -> None:
    assert decode_entry(b"{}").type == UNDECODABLE
