"""HLS through a power cut: three regions on loopback (real processes) that
make HLS ladders, a person whose page came from us-east watching a video
over HLS; us-east is SIGKILLed. The video plays on from its buffer and then
past it, its next segments asked of the regions still up — the same files,
named by their hash, on every region — never falling back to the MP4."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page

from stormproof.cluster import LocalCluster
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.conftest import PASSWORD, sign_up, upload
from tests.web.conftest import PHONE, log_in
from tests.web.test_hls_playback import hls_files, plays, requests_of

#: seconds of the clip: longer than the 20 s the player buffers ahead
SECONDS = 30.0


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


def ready_everywhere(urls: list[str], video_ids: list[str], patience: float = 120.0) -> None:
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


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_the_video_playing_through_a_power_cut_gets_its_next_segments_elsewhere(
    browser: Browser, cluster: LocalCluster, tmp_path: Path
) -> None:
    east, *_ = cluster.names
    url_east, *others = cluster.urls
    with httpx.Client(base_url=url_east, timeout=30) as api:
        maker = sign_up(api, "maker")
        # longer than the player buffers ahead (20 s): it needs segments after the cut
        clip = make_video(tmp_path / "long.mp4", seconds=SECONDS, width=144, height=256, seed=70)
        uploaded = upload(api, maker, clip, caption="through the storm")
        assert uploaded.status_code == 201, uploaded.text
        video_id = uploaded.json()["id"]
        sign_up(api, "viewer")
    ready_everywhere(cluster.urls, [video_id])

    context = browser.new_context(viewport=PHONE, base_url=url_east)
    context.set_default_timeout(30_000)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        seen = requests_of(page)
        got = answered(page)
        log_in(page, "viewer", PASSWORD)
        shown = page.get_by_role("region", name="Video 1")
        plays(shown, "maker")
        assert {origin(u) for u in hls_files(got, ".m4s")} == {url_east}
        player = shown.get_by_label("Video by maker", exact=False).element_handle()
        buffered = page.evaluate("v => v.buffered.end(v.buffered.length - 1)", player)
        assert buffered < SECONDS - 2  # segments are still to come

        cluster.kill(east)  # SIGKILL, every process of the region at once
        # It plays on from its buffer, and past it: its next segments and
        # playlists are answered by the regions still up.
        page.wait_for_function(
            "([v, at]) => v.currentTime > at + 1", arg=[player, buffered], timeout=90_000
        )
        later = {origin(u) for u in hls_files(got, ".m4s")} - {url_east}
        assert later and later <= set(others), got
        assert not [u for u in seen if u.split("?")[0].endswith("/file")]  # never the MP4
        assert errors == []
    finally:
        context.close()
