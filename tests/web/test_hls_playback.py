"""The player plays the HLS ladder once it is ready, the original MP4
before (or when HLS cannot play), as the browser shows it: which requests
went out, and whether the <video> plays. A real region making a real
ladder (tiny rungs, a short clip), Debian's chromium with hls.js."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, Route, expect

from stormproof.media import make_video
from stormproof.testing import LiveServer
from tests.conftest import PASSWORD, make_settings, sign_up, upload
from tests.web.conftest import PHONE, Person, log_in


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's region makes HLS ladders: two small rungs."""
    settings = make_settings(
        tmp_path_factory.mktemp("web-hls") / "region",
        transcode=True,
        hls_rungs=(180, 270),
        transcode_poll_s=0.1,
    )
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


def laddered(api: httpx.Client, video_id: str, patience: float = 120.0) -> dict[str, Any]:
    """The video once every rung of its ladder is ready (asked of the API)."""
    deadline = time.monotonic() + patience
    while True:
        video: dict[str, Any] = api.get(f"/v1/videos/{video_id}").json()
        states = [r["state"] for r in video["renditions"]]
        if states and all(s == "ready" for s in states):
            return video
        assert "failed" not in states, video
        assert time.monotonic() < deadline, f"the ladder is still being made: {video}"
        time.sleep(0.2)


def requests_of(page: Page) -> list[str]:
    """Every URL the page asks for from now on (media included)."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def plays(where: Page | Locator, owner: str) -> None:
    """The video by ``owner`` (on the page, or in a part of it) has data and
    its time advances."""
    page = where if isinstance(where, Page) else where.page
    handle = where.get_by_label(f"Video by {owner}", exact=False).element_handle()
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=handle)
    at = page.evaluate("v => v.currentTime", handle)
    page.wait_for_function("([v, at]) => v.currentTime > at", arg=[handle, at])


def hls_files(seen: list[str], kind: str) -> list[str]:
    return [url for url in seen if "/v1/hls/" in url and url.split("?")[0].endswith(kind)]


def upload_clip(api: httpx.Client, auth: dict[str, str], path: Path, seed: int) -> str:
    clip = make_video(path, seconds=4.0, width=270, height=480, fps=30, seed=seed, sound=True)
    uploaded = upload(api, auth, clip, caption="hls please")
    assert uploaded.status_code == 201, uploaded.text
    return str(uploaded.json()["id"])


def test_for_you_plays_a_video_over_hls_once_its_ladder_is_ready(
    people: Callable[[], Person], region: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=region.url, timeout=30) as api:
        auth = sign_up(api, "lea_hls")
        video = laddered(api, upload_clip(api, auth, tmp_path / "clip.mp4", seed=21))
        sign_up(api, "max_hls")

    max_ = people()
    seen = requests_of(max_.page)
    log_in(max_.page, "max_hls", PASSWORD)
    plays(max_.page, "lea_hls")

    player = max_.page.get_by_label("Video by lea_hls", exact=False)
    assert player.get_attribute("poster") == region.url + video["poster_url"]
    assert f"{region.url}{video['hls_url']}" in seen  # the master playlist
    assert hls_files(seen, ".m3u8"), seen  # a rung's playlist
    assert hls_files(seen, ".mp4"), seen  # its init segment
    assert hls_files(seen, ".m4s"), seen  # and media segments
    assert not [url for url in seen if url.endswith(video["file_url"])]  # never the MP4
    assert max_.errors == []


def test_a_video_whose_hls_fails_everywhere_falls_back_to_its_mp4(
    people: Callable[[], Person], region: LiveServer, tmp_path: Path
) -> None:
    """Every rung's playlist and segment fails (as if no region could serve
    them): hls.js gives up, and the original plays instead."""
    with httpx.Client(base_url=region.url, timeout=30) as api:
        auth = sign_up(api, "ned_hls")
        video = laddered(api, upload_clip(api, auth, tmp_path / "clip.mp4", seed=22))

    guest = people()
    seen = requests_of(guest.page)
    refused: list[str] = []

    def refuse(route: Route, request: Request) -> None:
        refused.append(request.url)
        route.abort("connectionrefused")

    guest.page.route("**/v1/hls/**", refuse)
    guest.page.goto(f"/v/{video['id']}")
    plays(guest.page, "ned_hls")
    assert f"{region.url}{video['hls_url']}" in seen  # HLS was tried first
    assert refused
    assert f"{region.url}{video['file_url']}" in seen  # then the original played
    assert guest.errors == []


def test_a_video_without_a_ladder_plays_its_mp4(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """A region that makes no ladder (or before it is ready): the original."""
    settings = make_settings(tmp_path_factory.mktemp("web-mp4") / "region", transcode=False)
    plain = LiveServer(settings).start()
    context = browser.new_context(viewport=PHONE, base_url=plain.url, has_touch=True)
    try:
        with httpx.Client(base_url=plain.url, timeout=30) as api:
            auth = sign_up(api, "ola_mp4")
            video_id = upload_clip(api, auth, tmp_path / "clip.mp4", seed=23)
            video = api.get(f"/v1/videos/{video_id}").json()
        assert (video["hls_url"], video["poster_url"], video["renditions"]) == (None, None, [])

        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        seen = requests_of(page)
        page.goto(f"/v/{video_id}")
        expect(page.get_by_role("link", name="@ola_mp4")).to_be_visible()
        plays(page, "ola_mp4")
        player = page.get_by_label("Video by ola_mp4", exact=False)
        assert player.get_attribute("poster") == plain.url + video["thumbnail_url"]
        assert f"{plain.url}{video['file_url']}" in seen
        assert not [url for url in seen if "hls" in url]
        assert errors == []
    finally:
        context.close()
        plain.stop()
