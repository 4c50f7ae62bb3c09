"""A log entry no view can apply is quarantined — the same way in every
region — and the region keeps serving (the second line of defence behind
validating every event before it is appended)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx

from stormproof.events import Event, FollowStarted, Interaction, InteractionsRecorded, new_event
from stormproof.log import Entry
from stormproof.testing import LiveServer
from stormproof.views import all_views
from stormproof.views.engagement import Counts, counts_of
from stormproof.views.quarantine import quarantined
from stormproof.views.store import ViewStore
from tests.conftest import health, make_settings, sign_up


def _poisoned(at: int) -> Event:
    """An event stamped past SQLite's INTEGER range, made as a writer without
    validation would have made it (what finding 1 of issue 9 produced)."""
    good = new_event(FollowStarted(followee_id="u_x"), actor="u_a", at=1, id="e_poison")
    return Event.model_construct(**{**dict(good), "at": at})


def _entries() -> list[Entry]:
    follow = new_event(FollowStarted(followee_id="u_b"), actor="u_a", at=5, id="e1")
    later = new_event(FollowStarted(followee_id="u_c"), actor="u_a", at=6, id="e3")
    return [
        Entry(0, 1, "k1", follow),
        Entry(0, 2, "poison", _poisoned(2**64)),
        Entry(0, 3, "k3", later),
    ]


def test_an_entry_a_view_cannot_apply_is_quarantined_and_the_rest_applied(
    tmp_path: Path,
) -> None:
    store = ViewStore(tmp_path / "views.sqlite", all_views())
    assert store.apply(_entries()) == (3,)
    with sqlite3.connect(store.path) as db:
        follows = db.execute("SELECT followee_id FROM follows ORDER BY 1").fetchall()
        [record] = quarantined(db)
    assert follows == [("u_b",), ("u_c",)]
    assert (record.key, record.seq, record.error) == ("poison", 2, "OverflowError")
    # Nothing of the poisoned entry stayed, not even its key.
    assert store.reader().execute("SELECT 1 FROM keys WHERE key = 'poison'").fetchone() is None


def test_every_region_quarantines_the_same_entries_whatever_the_batching(
    tmp_path: Path,
) -> None:
    one = ViewStore(tmp_path / "a.sqlite", all_views())
    other = ViewStore(tmp_path / "b.sqlite", all_views())
    entries = _entries()
    one.apply(entries)
    for entry in entries:
        other.apply([entry])
    other.apply(entries)  # re-delivery changes nothing
    assert one.digests() == other.digests()


def _interactions(actor: str, at: int, *items: Interaction) -> Event:
    good = new_event(InteractionsRecorded(items=items), actor=actor, at=1, id=f"e_{actor}")
    return Event.model_construct(**{**dict(good), "at": at})


def test_counters_held_back_in_a_batch_leave_out_a_quarantined_entry(tmp_path: Path) -> None:
    """The engagement view adds a batch's counters up in memory and writes
    them at its end: an entry that fails only there (a share whose time no
    INTEGER holds) is quarantined alone, and the counters hold the others',
    as when the entries come one by one."""
    watch = Interaction(type="watch", video_id="v1", watched_ms=3000, completed=True)
    entries = [
        Entry(0, 1, "k1", _interactions("u_a", 5, watch)),
        Entry(
            0, 2, "poison", _interactions("u_b", 2**64, Interaction(type="share", video_id="v1"))
        ),
        Entry(0, 3, "k3", _interactions("u_c", 6, watch, Interaction(type="share", video_id="v1"))),
    ]
    together = ViewStore(tmp_path / "a.sqlite", all_views())
    one_by_one = ViewStore(tmp_path / "b.sqlite", all_views())
    assert together.apply(entries) == (3,)
    for entry in entries:
        one_by_one.apply([entry])
    assert together.digests() == one_by_one.digests()
    db = together.reader()
    assert [q.key for q in quarantined(db)] == ["poison"]
    assert counts_of(db, ["v1"])["v1"] == Counts(views=2, shares=1, completions=2, watched_ms=6000)
    assert db.execute("SELECT user_id FROM share_windows").fetchall() == [("u_c",)]


def test_a_region_with_a_poisoned_log_entry_keeps_serving(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region")
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            auth = sign_up(client, "writer")
            # Bytes no event decodes from, appended behind the API's back (as
            # a buggy or older writer could): every reader meets them.
            with sqlite3.connect(settings.log_path) as log:
                log.execute("INSERT INTO log (key, body) VALUES ('bad', ?)", (b"\xff{",))
                huge_at = {"type": "follow.started", "v": 1, "id": "e" * 32, "at": 2**63}
                body = json.dumps({**huge_at, "actor": "u", "data": {"followee_id": "x"}})
                log.execute("INSERT INTO log (key, body) VALUES ('huge-at', ?)", (body,))
            posted = client.post("/v1/feed/for-you/reset", headers=auth)
            assert posted.status_code == 200, posted.text
            details = health(client)
            assert details["ready"], details.get("error")
            assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
        server.stop()
        server = LiveServer(settings).start()  # a restart replays past them too
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert health(client)["ready"]
        with sqlite3.connect(settings.views_path) as db:
            assert {q.key for q in quarantined(db)} == {"bad", "huge-at"}
    finally:
        server.stop()
