"""HLS through a power cut: three regions on loopback (real processes) that
make HLS ladders, a person whose page came from us-east watching For You
over HLS; us-east is SIGKILLed. The videos that come next play over HLS,
their playlists and segments asked of the regions still up — the same
files, named by their hash, on every region."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from stormproof.cluster import LocalCluster
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.conftest import PASSWORD, sign_up, upload
from tests.web.conftest import PHONE, log_in
from tests.web.test_hls_playback import hls_files, plays, requests_of

CLIPS = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster.create(tmp_path_factory.mktemp("cluster"), 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_TRANSCODE": "1",
            "STORMPROOF_HLS_RUNGS": "144",
            "STORMPROOF_TRANSCODE_POLL_S": "0.2",
        }
    )
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def ready_everywhere(urls: list[str], video_ids: list[str], patience: float = 300.0) -> None:
    """Every region has every video's ladder ready (so none answers 404)."""
    deadline = time.monotonic() + patience
    for url in urls:
        with httpx.Client(base_url=url, timeout=30) as api:
            for video_id in video_ids:
                while True:
                    video = api.get(f"/v1/videos/{video_id}")
                    rungs = video.json().get("renditions", []) if video.status_code == 200 else []
                    if rungs and all(r["state"] == "ready" for r in rungs):
                        break
                    assert time.monotonic() < deadline, f"{url}: {video.text}"
                    time.sleep(0.2)


def answered(page: Page) -> list[str]:
    """Every URL a region answered for the page from now on (not those
    whose connection was refused)."""
    seen: list[str] = []
    page.on("requestfinished", lambda request: seen.append(request.url))
    return seen


def files_of(url: str, master: str) -> set[str]:
    """The paths of every playlist and segment a master playlist leads to."""
    with httpx.Client(base_url=url, timeout=30) as api:
        found = set()
        for line in api.get(master).text.splitlines():
            if line.startswith("/v1/hls/"):
                found.add(line)
                playlist = api.get(line).text
                found.update(re.findall(r'URI="([^"]+)"', playlist))
                found.update(x for x in playlist.splitlines() if x and not x.startswith("#"))
    return {f if f.startswith("/") else f"/v1/hls/{f}" for f in found}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_after_a_power_cut_the_next_videos_play_over_hls_from_another_region(
    browser: Browser, cluster: LocalCluster, tmp_path: Path
) -> None:
    east, *_ = cluster.names
    url_east, *others = cluster.urls
    with httpx.Client(base_url=url_east, timeout=30) as api:
        maker = sign_up(api, "maker")
        ids = []
        for i in range(CLIPS):
            clip = make_video(
                tmp_path / f"c{i}.mp4", seconds=3.0, width=144, height=256, seed=70 + i
            )
            uploaded = upload(api, maker, clip, caption=f"clip {i}")
            assert uploaded.status_code == 201, uploaded.text
            ids.append(uploaded.json()["id"])
        sign_up(api, "viewer")
    ready_everywhere(cluster.urls, ids)

    context = browser.new_context(viewport=PHONE, base_url=url_east)
    context.set_default_timeout(30_000)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        seen = requests_of(page)
        got = answered(page)
        log_in(page, "viewer", PASSWORD)
        plays(page.get_by_role("region", name="Video 1"), "maker")
        assert {origin(u) for u in hls_files(got, ".m4s")} == {url_east}

        cluster.kill(east)  # SIGKILL, every process of the region at once
        cut = len(got)
        # Only the video shown and the two around it are mounted: the fourth
        # is loaded from scratch after the cut.
        for n in range(2, CLIPS + 1):
            page.keyboard.press("ArrowDown")
            expect(page.get_by_role("region", name=f"Video {n}")).to_be_visible()
        plays(page.get_by_role("region", name=f"Video {CLIPS}"), "maker")

        # The fourth video's master playlist, rung playlist and media
        # segments were all answered by the regions still up. (Its init
        # segment may be another video's too: same encoder, same bytes.)
        masters = [u for u in got[cut:] if u.split("?")[0].endswith("/hls.m3u8")]
        assert masters and {origin(u) for u in masters} <= set(others), got[cut:]
        files = files_of(others[0], urlsplit(masters[-1]).path)
        mine = [u for u in got if urlsplit(u).path in files and not u.endswith(".mp4")]
        assert hls_files(mine, ".m3u8") and hls_files(mine, ".m4s"), mine
        assert {origin(u) for u in mine} <= set(others), mine
        assert not [u for u in seen if u.split("?")[0].endswith("/file")]  # never the MP4
        assert errors == []
    finally:
        context.close()
