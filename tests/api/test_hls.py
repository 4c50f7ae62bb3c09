"""An upload gets an HLS ladder that plays over HTTP (embedded region, ADR 028).

Real videos made with PyAV, a real server on loopback, the real transcoder
(low-priority child processes), and PyAV as the player: it opens the master
playlist's variants over HTTP and decodes their frames.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from stormproof.media import make_video
from stormproof.views import renditions
from tests.conftest import LiveServer, make_settings, sign_up, upload
from tests.snapshots.history import USERS, append_history

#: rungs by short side; the 360x640 source gets the first three, never 540
RUNGS = (180, 270, 360, 540)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("hls") / "region",
        transcode=True,
        hls_rungs=RUNGS,
        transcode_poll_s=0.1,
    )
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def auth(client: httpx.Client) -> dict[str, str]:
    return sign_up(client, "ladder")


def settled(client: httpx.Client, video_id: str, patience: float = 120.0) -> dict[str, Any]:
    """The video once no rung of its ladder is pending any more."""
    deadline = time.monotonic() + patience
    while True:
        video: dict[str, Any] = client.get(f"/v1/videos/{video_id}").json()
        states = [r["state"] for r in video["renditions"]]
        if states and "pending" not in states:
            return video
        assert time.monotonic() < deadline, f"the ladder is still being made: {video}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def laddered(
    client: httpx.Client, auth: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    source = make_video(
        tmp_path_factory.mktemp("clips") / "clip.mp4",
        seconds=3.0, width=360, height=640, fps=30, seed=3, sound=True,
    )  # fmt: skip
    uploaded = upload(client, auth, source)
    assert uploaded.status_code == 201, uploaded.text
    first = client.get(f"/v1/videos/{uploaded.json()['id']}").json()
    assert client.get(first["file_url"]).status_code == 200  # the original plays at once
    return settled(client, uploaded.json()["id"])


def _variants(master: str) -> list[tuple[dict[str, str], str]]:
    lines = master.splitlines()
    found = []
    for n, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            found.append(({k: v.strip('"') for k, v in attrs.items()}, lines[n + 1]))
    return found


def _media_lines(playlist: str) -> tuple[str, list[str], list[str]]:
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
    assert init is not None, playlist
    durations = re.findall(r"#EXTINF:([0-9.]+),", playlist)
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    return init.group(1), durations, segments


def test_the_ladder_has_every_rung_up_to_the_source_and_none_above(
    laddered: dict[str, Any],
) -> None:
    rungs = [(r["rung"], r["width"], r["height"], r["state"]) for r in laddered["renditions"]]
    assert rungs == [(180, 180, 320, "ready"), (270, 270, 480, "ready"), (360, 360, 640, "ready")]
    assert laddered["hls_url"] == f"/v1/videos/{laddered['id']}/hls.m3u8"
    assert laddered["poster_url"].endswith(".jpg")


def test_pyav_plays_every_variant_of_the_master_playlist_over_http(
    server: LiveServer, client: httpx.Client, laddered: dict[str, Any]
) -> None:
    answer = client.get(laddered["hls_url"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert answer.headers["cache-control"] == "no-cache"
    variants = _variants(answer.text)
    assert [v["RESOLUTION"] for v, _ in variants] == ["180x320", "270x480", "360x640"]
    for attrs, uri in variants:
        assert int(attrs["BANDWIDTH"]) > 0 and int(attrs["AVERAGE-BANDWIDTH"]) > 0
        assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attrs["CODECS"]), attrs
        width, height = (int(x) for x in attrs["RESOLUTION"].split("x"))
        with av.open(server.url + uri) as played:
            assert [s.type for s in played.streams] == ["video", "audio"]
            frames = [f for f in played.decode(video=0)]
        assert len(frames) == 90  # 3 s at 30 fps, every one
        assert (frames[0].width, frames[0].height) == (width, height)
    with av.open(server.url + laddered["hls_url"]) as master:  # as a player starts
        assert next(master.decode(video=0)).width in (180, 270, 360)


def test_segments_line_up_across_rungs(client: httpx.Client, laddered: dict[str, Any]) -> None:
    """Keyframes at the same instants in every rung: the same segment
    boundaries, so a player switches rung at any segment."""
    timelines = set()
    for _, uri in _variants(client.get(laddered["hls_url"]).text):
        playlist = client.get(uri).text
        assert "#EXT-X-ENDLIST" in playlist and "#EXT-X-TARGETDURATION:2" in playlist
        _, durations, segments = _media_lines(playlist)
        timelines.add(tuple(durations))
        assert len(segments) == 2
    assert timelines == {("2.000000", "1.000000")}


def test_hls_files_are_immutable_and_served_in_ranges(
    client: httpx.Client, laddered: dict[str, Any]
) -> None:
    (_, uri), *_ = _variants(client.get(laddered["hls_url"]).text)
    playlist = client.get(uri)
    assert playlist.headers["cache-control"] == "public, max-age=31536000, immutable"
    init, _, segments = _media_lines(playlist.text)
    whole = client.get(f"/v1/hls/{segments[0]}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/iso.segment"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert whole.headers["etag"] == f'"{segments[0].split(".")[0]}"'
    part = client.get(f"/v1/hls/{segments[0]}", headers={"Range": "bytes=10-109"})
    assert part.status_code == 206
    assert part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
    assert client.get(f"/v1/hls/{init}").headers["content-type"] == "video/mp4"
    poster = client.get(laddered["poster_url"])
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"


def test_a_range_past_the_end_is_refused(client: httpx.Client, laddered: dict[str, Any]) -> None:
    (_, uri), *_ = _variants(client.get(laddered["hls_url"]).text)
    _, _, segments = _media_lines(client.get(uri).text)
    answer = client.get(f"/v1/hls/{segments[0]}", headers={"Range": "bytes=999999999-"})
    assert answer.status_code == 416  # as for the original's file (tests/api/test_videos.py)


@pytest.mark.parametrize(
    "name",
    [
        "0" * 64 + ".m4s",  # not a file of any rendition
        "0" * 64 + ".exe",
        "../../secret",
        "ABC.m3u8",
    ],
)
def test_only_files_of_ready_rungs_are_served(client: httpx.Client, name: str) -> None:
    answer = client.get(f"/v1/hls/{name}")
    assert answer.status_code == 404
    assert answer.json()["code"] in ("hls_file_not_found", "not_found")


def test_an_original_blob_is_not_served_as_an_hls_file(
    client: httpx.Client, laddered: dict[str, Any]
) -> None:
    original = client.get(laddered["file_url"]).headers["etag"].strip('"')
    assert client.get(f"/v1/hls/{original}.mp4").json()["code"] == "hls_file_not_found"


def test_lists_of_videos_carry_the_master_playlist_and_poster(
    client: httpx.Client, laddered: dict[str, Any]
) -> None:
    """A player reads ``hls_url`` from the feed and the profile grid as from
    the video itself, with no request more per video."""
    username = laddered["owner"]["username"]
    (listed,) = client.get(f"/v1/accounts/{username}/videos").json()
    viewer = sign_up(client, "lister")
    page = client.get("/v1/feed/for-you", headers=viewer).json()
    (fed,) = [i["video"] for i in page["items"]]
    for video in (listed, fed):
        assert video["id"] == laddered["id"]
        assert (video["hls_url"], video["poster_url"]) == (
            laddered["hls_url"],
            laddered["poster_url"],
        )


def test_a_master_playlist_of_no_video_is_404(client: httpx.Client) -> None:
    assert client.get("/v1/videos/v_none/hls.m3u8").json()["code"] == "video_not_found"


def _corrupt(source: Path, target: Path) -> Path:
    """``source`` with its second half of picture data garbled: it opens and
    its first picture decodes (the upload is accepted), the rest does not."""
    data = bytearray(source.read_bytes())
    mdat = data.find(b"mdat")
    rng = random.Random(1)
    for at in range(mdat + (len(data) - mdat) // 2, len(data) - 2000, 50):
        data[at] = rng.randrange(256)
    target.write_bytes(bytes(data))
    return target


def test_a_stream_found_corrupt_late_fails_its_rungs_with_a_reason(
    client: httpx.Client, auth: dict[str, str], tmp_path: Path
) -> None:
    source = make_video(tmp_path / "ok.mp4", seconds=3.0, width=160, height=284, fps=30, seed=4)
    uploaded = upload(client, auth, _corrupt(source, tmp_path / "bad.mp4"))
    assert uploaded.status_code == 201, uploaded.text  # the first picture decodes
    video = settled(client, uploaded.json()["id"])
    # smaller than every rung: one rung at its own size, never above it
    assert [(r["rung"], r["width"], r["height"]) for r in video["renditions"]] == [(160, 160, 284)]
    assert [(r["state"], r["reason"]) for r in video["renditions"]] == [
        ("failed", "corrupt_stream")
    ]
    assert video["hls_url"] is None
    assert client.get(f"/v1/videos/{video['id']}/hls.m3u8").json()["code"] == "hls_not_ready"
    assert client.get(video["file_url"]).status_code == 200  # the original still plays


def test_the_files_of_a_deleted_video_are_gone(
    client: httpx.Client, auth: dict[str, str], tmp_path: Path
) -> None:
    source = make_video(tmp_path / "gone.mp4", seconds=1.0, width=180, height=320, seed=5)
    uploaded = upload(client, auth, source)
    video = settled(client, uploaded.json()["id"])
    (_, uri), *_ = _variants(client.get(video["hls_url"]).text)
    assert client.get(uri).status_code == 200
    assert client.delete(f"/v1/videos/{video['id']}", headers=auth).status_code == 200
    assert client.get(uri).json()["code"] == "hls_file_not_found"


def test_a_rung_whose_every_transcode_dies_fails_instead_of_retrying_forever(
    tmp_path: Path,
) -> None:
    """Transcoding processes that cannot even start (too little memory to
    load PyAV) die on every delivery: after ``transcode_max_deliver`` the
    rung is failed with ``gave_up``, and the original still plays."""
    settings = make_settings(
        tmp_path / "region",
        transcode=True,
        hls_rungs=(180,),
        transcode_poll_s=0.1,
        transcode_max_deliver=2,
        transcode_memory_bytes=32 * 1024 * 1024,
    )
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            auth = sign_up(client, "starved")
            source = make_video(tmp_path / "clip.mp4", seconds=1.0, width=180, height=320, seed=6)
            uploaded = upload(client, auth, source)
            assert uploaded.status_code == 201, uploaded.text
            video = settled(client, uploaded.json()["id"])
            assert [(r["rung"], r["state"], r["reason"]) for r in video["renditions"]] == [
                (180, "failed", "gave_up")
            ]
            assert client.get(video["file_url"]).status_code == 200
    finally:
        live.stop()


def test_a_phone_video_stored_sideways_gets_an_upright_portrait_ladder(
    server: LiveServer, client: httpx.Client, tmp_path: Path
) -> None:
    """A portrait phone video stored as landscape pictures with a quarter
    turn in its display matrix (issue 14): the ladder is planned at the size
    as displayed, and its pictures and poster are upright. The gradient runs
    light (top) to dark as coded; turned 90° counter-clockwise, light is left."""
    auth = sign_up(client, "phone")  # its own account: the lists above see one video
    source = make_video(tmp_path / "phone.mp4", seconds=0.5, width=320, height=180, rotation=90)
    uploaded = upload(client, auth, source)
    assert uploaded.status_code == 201, uploaded.text
    video = settled(client, uploaded.json()["id"])
    assert [(r["rung"], r["width"], r["height"], r["state"]) for r in video["renditions"]] == [
        (180, 180, 320, "ready")
    ]
    ((attrs, uri),) = _variants(client.get(video["hls_url"]).text)
    assert attrs["RESOLUTION"] == "180x320"
    with av.open(server.url + uri) as played:
        pixels = next(played.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    poster = client.get(video["poster_url"]).content
    with av.open(io.BytesIO(poster)) as jpeg:
        still = next(jpeg.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    for picture in (pixels, still):
        assert picture.shape == (320, 180, 3)
        assert picture[:, :20].mean() > picture[:, -20:].mean() + 40


def test_videos_no_region_planned_get_their_ladder_planned_by_a_region_with_transcoding(
    tmp_path: Path,
) -> None:
    # A history whose videos have no plan: their upload region died between
    # the two writes, or the platform had no transcoding yet. A region with
    # transcoding on plans them once it is ready (it looks once a minute, the
    # first time at once). Their sources were never stored: each rung fails
    # at its first delivery with the blob store's final answer, not after
    # every delivery it is allowed (here far more than the test waits for).
    settings = make_settings(
        tmp_path / "region",
        transcode=True,
        transcode_poll_s=0.1,
        hls_rungs=(180,),
        transcode_max_deliver=100,
    )
    asyncio.run(append_history(settings.log_path, range(USERS + 3)))
    names = [f"v{n}" for n in range(3)]

    def planned_and_failed(db: sqlite3.Connection) -> list[bool]:
        return [
            renditions.planned(db, name)
            and [r.state for r in renditions.rungs_of(db, name)] == ["failed"]
            for name in names
        ]

    live = LiveServer(settings).start()
    try:
        region = live.app.state.region
        deadline = time.monotonic() + 60
        found = live.call(region.store.query(planned_and_failed))
        while not all(found) and time.monotonic() < deadline:
            time.sleep(0.2)
            found = live.call(region.store.query(planned_and_failed))
        assert all(found), found
        reasons = live.call(
            region.store.query(
                lambda db: {r.reason for name in names for r in renditions.rungs_of(db, name)}
            )
        )
        assert reasons == {"blob_not_found"}
    finally:
        live.stop()
