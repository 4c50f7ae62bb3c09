"""The uploads view converges whatever order a region applies the events in.

Partitions interleave differently in each region: a chunk written in one
region may be applied before its upload's creation, written in another. The
offset, and the view's digest, must not depend on that order (ADR 027).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import Payload, UploadChunkStored, UploadCreated, UploadEnded, new_event
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from stormproof.views.uploads import chunks, offset_of, upload


def _blob(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _entry(n: int, payload: Payload, actor: str = "u_owner") -> Entry:
    return Entry(0, n, f"k{n}", new_event(payload, actor=actor, at=1000, id=f"e{n}"))


CREATED = UploadCreated(
    upload_id="up_1", owner_id="u_owner", video_id="v_1", length=300,
    caption="", filename="", expires_at=5000,
)  # fmt: skip
PAYLOADS: list[tuple[Payload, str]] = [
    (CREATED, "u_owner"),
    (UploadChunkStored(upload_id="up_1", offset=0, length=100, blob=_blob("a")), "u_owner"),
    (UploadChunkStored(upload_id="up_1", offset=100, length=100, blob=_blob("b")), "u_owner"),
    # the same range sent with other bytes to another region: one wins everywhere
    (UploadChunkStored(upload_id="up_1", offset=100, length=50, blob=_blob("c")), "u_owner"),
    # someone else's chunk for this upload never counts
    (UploadChunkStored(upload_id="up_1", offset=200, length=100, blob=_blob("d")), "u_other"),
    (UploadEnded(upload_id="up_1", reason="terminated"), "u_other"),
]


def _applied(order: list[int]) -> tuple[dict[str, str], int, str | None]:
    with tempfile.TemporaryDirectory() as folder:
        store = ViewStore(Path(folder) / "views.sqlite", all_views())
        try:
            for n, i in enumerate(order, start=1):
                payload, actor = PAYLOADS[i]
                store.apply([_entry(n, payload, actor)])
            db = store.reader()
            found = upload(db, "up_1")
            assert found is not None
            offset = offset_of(chunks(db, found))
            return store.digests()["views"], offset, found.ended
        finally:
            store.close()


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(len(PAYLOADS))))
def test_any_order_of_arrival_gives_the_same_uploads_view(order: list[int]) -> None:
    views, offset, ended = _applied(list(order))
    expected_views, expected_offset, _ = _applied(list(range(len(PAYLOADS))))
    assert views["uploads"] == expected_views["uploads"]
    # "b" < "c" by blob id or the other way: the smaller wins, in every region
    winner = min((_blob("b"), 100), (_blob("c"), 50))
    assert offset == expected_offset == 100 + winner[1]
    assert ended is None  # only the owner ends an upload
