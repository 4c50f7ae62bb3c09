"""The renditions view converges whatever order a region applies the events in.

A rung made in one region may be applied before its plan, written in
another; a job done twice completes a rung twice; a rung may fail in one
region and be made in another. Every region ends in the same state (ADR 028).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.api.routers.videos import with_ladder
from stormproof.events import (
    Payload,
    PlannedRung,
    RenditionFailed,
    RenditionReady,
    RenditionsPlanned,
    VideoDeleted,
    VideoUploaded,
    new_event,
)
from stormproof.log import Entry
from stormproof.views import all_views, videos
from stormproof.views.renditions import (
    hls_blob_of_live_video,
    pending_rungs,
    rungs_of,
    unplanned_videos,
)
from stormproof.views.store import ViewStore


def _blob(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _ready(rung: int, width: int, height: int, tag: str) -> RenditionReady:
    return RenditionReady(
        video_id="v_1", rung=rung, width=width, height=height, playlist=_blob(f"p{tag}"),
        init=_blob(f"i{tag}"), segments=(_blob(f"s{tag}"),), poster=_blob(f"j{tag}"),
        bandwidth=1000, average_bandwidth=900, codecs="avc1.64001e",
    )  # fmt: skip


PAYLOADS: list[Payload] = [
    VideoUploaded(
        video_id="v_1",
        owner_id="u_1",
        caption="",
        blob=_blob("src"),
        size=10,
        content_type="video/mp4",
        thumbnail_blob=_blob("t"),
        duration_ms=3000,
        width=720,
        height=1280,
        codec="h264",
    ),
    RenditionsPlanned(
        video_id="v_1",
        segment_ms=2000,
        rungs=(
            PlannedRung(rung=360, width=360, height=640, bitrate=800_000),
            PlannedRung(rung=540, width=540, height=960, bitrate=1_400_000),
            PlannedRung(rung=720, width=720, height=1280, bitrate=2_400_000),
        ),
    ),
    _ready(360, 360, 640, "a"),
    _ready(360, 360, 640, "b"),  # the same job done again elsewhere
    RenditionFailed(video_id="v_1", rung=540, reason="corrupt_stream", message="bad"),
    RenditionFailed(video_id="v_1", rung=720, reason="gave_up", message="lost"),
    _ready(720, 720, 1280, "c"),  # failed in one region, made in another: made
]


def _applied(order: list[int]) -> tuple[str, list[tuple[int, str, int, str]]]:
    with tempfile.TemporaryDirectory() as folder:
        store = ViewStore(Path(folder) / "views.sqlite", all_views())
        try:
            for n, i in enumerate(order, start=1):
                event = new_event(PAYLOADS[i], actor="u_1", at=1000 + i, id=f"e{i}")
                store.apply([Entry(0, n, f"k{i}", event)])
            db = store.reader()
            rungs = [(r.rung, r.state, r.width, r.playlist) for r in rungs_of(db, "v_1")]
            return store.digests()["views"]["renditions"], rungs
        finally:
            store.close()


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(len(PAYLOADS))))
def test_any_order_of_arrival_gives_the_same_renditions_view(order: list[int]) -> None:
    digest, rungs = _applied(list(order))
    expected_digest, expected = _applied(list(range(len(PAYLOADS))))
    assert digest == expected_digest
    assert rungs == expected
    assert [(rung, state, width) for rung, state, width, _ in rungs] == [
        (360, "ready", 360),
        (540, "failed", 540),
        (720, "ready", 720),
    ]
    assert rungs[0][3] == min(_blob("pa"), _blob("pb"))  # the smaller playlist, everywhere


def test_pending_rungs_are_the_planned_ones_not_yet_made_or_failed() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ViewStore(Path(folder) / "views.sqlite", all_views())
        try:
            for i in (0, 1, 2):
                event = new_event(PAYLOADS[i], actor="u_1", at=1000, id=f"e{i}")
                store.apply([Entry(0, i + 1, f"k{i}", event)])
            db = store.reader()
            assert [(p.rung, p.segment_ms) for p in pending_rungs(db)] == [(540, 2000), (720, 2000)]
            assert hls_blob_of_live_video(db, _blob("sa"))
            assert not hls_blob_of_live_video(db, _blob("src"))  # the original is not an HLS file
        finally:
            store.close()


def test_unplanned_videos_are_the_live_uploads_without_a_plan_oldest_first() -> None:
    # v_1's plan arrives before its upload, v_2's after; v_3 is deleted;
    # v_4 and v_5 wait, v_5 uploaded first; v_6 is too recent to count.
    def upload(video_id: str) -> Payload:
        return PAYLOADS[0].model_copy(update={"video_id": video_id})

    def plan(video_id: str) -> Payload:
        return PAYLOADS[1].model_copy(update={"video_id": video_id})

    history: list[tuple[Payload, int]] = [
        (plan("v_1"), 100),
        (upload("v_1"), 100),
        (upload("v_2"), 200),
        (upload("v_3"), 300),
        (upload("v_4"), 500),
        (upload("v_5"), 400),
        (upload("v_6"), 900),
        (plan("v_2"), 200),
        (VideoDeleted(video_id="v_3"), 600),
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = ViewStore(Path(folder) / "views.sqlite", all_views())
        try:
            for n, (payload, at) in enumerate(history, start=1):
                event = new_event(payload, actor="u_1", at=at, id=f"e{n}")
                store.apply([Entry(0, n, f"k{n}", event)])
            db = store.reader()
            assert unplanned_videos(db, before=800) == ["v_5", "v_4"]
            assert unplanned_videos(db, before=800, limit=1) == ["v_5"]
            assert unplanned_videos(db, before=1000) == ["v_5", "v_4", "v_6"]
            assert unplanned_videos(db, before=400) == []
            # The look reads a range of an index, never the whole catalog.
            statements: list[str] = []
            db.set_trace_callback(statements.append)
            unplanned_videos(db, before=800)
            db.set_trace_callback(None)
            (statement,) = statements
            plan_rows = db.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
            assert [row[3].split(" (")[0] for row in plan_rows] == [
                "SEARCH u USING COVERING INDEX unplanned_by_age",
                "SEARCH v USING INDEX sqlite_autoindex_videos_1",
            ]
        finally:
            store.close()


def test_a_video_and_its_ladder_are_read_at_one_position() -> None:
    # A rung made ready between the read of the video and that of its
    # rungs (committed right before the rungs are read, as the projector
    # may) must not show "ready" beside a video with no master playlist.
    with tempfile.TemporaryDirectory() as folder:
        store = ViewStore(Path(folder) / "views.sqlite", all_views())
        try:
            for i in (0, 1):
                event = new_event(PAYLOADS[i], actor="u_1", at=1000, id=f"e{i}")
                store.apply([Entry(0, i + 1, f"k{i}", event)])
            db = store.reader()
            found = videos.video(db, "v_1")
            assert found is not None
            made: list[str] = []

            def between(statement: str) -> None:
                if "FROM renditions WHERE video_id" in statement and not made:
                    made.append(statement)
                    event = new_event(PAYLOADS[2], actor="u_1", at=1000, id="e2")
                    store.apply([Entry(0, 3, "k2", event)])

            db.set_trace_callback(between)
            try:
                out, rungs = with_ladder(db, found)
            finally:
                db.set_trace_callback(None)
            assert made, "the rungs were not read as this test expects"
            assert (out.hls_url is not None) == any(r.state == "ready" for r in rungs)
            out, rungs = with_ladder(db, found)  # read again: the rung is there
            assert out.hls_url is not None and rungs[0].state == "ready"
        finally:
            store.close()
