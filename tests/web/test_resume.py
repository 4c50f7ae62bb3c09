"""Closing the tab mid-upload and coming back: picking the same file again
resumes the same tus upload (its address kept in the browser), and the
video is stored once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from stormproof.media import make_video
from stormproof.testing import LiveServer
from tests.conftest import PASSWORD, sign_up
from tests.web.conftest import Person, log_in, token_of

#: tus-js-client keeps each unfinished upload under a key starting so
KEPT = "Object.keys(localStorage).filter(k => k.startsWith('tus::'))"


def slow_uplink(page: Page, bytes_per_s: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": bytes_per_s})


def start_upload(page: Page, video: Path) -> None:
    page.goto("/upload")
    page.get_by_label("Video file").set_input_files(video)
    page.get_by_label("Caption").fill("picked up again")
    page.get_by_role("button", name="Upload").click()


def test_an_upload_cut_by_closing_the_tab_resumes_the_same_upload(
    people: Callable[[], Person], region: LiveServer, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "long.mp4", seconds=12.0, width=480, height=852, seed=9)
    with httpx.Client(base_url=region.url, timeout=30) as api:
        sign_up(api, "ivy_web")
    ivy = people()
    log_in(ivy.page, "ivy_web", PASSWORD)

    first = ivy.page
    slow_uplink(first, 10_000)  # about 6 s for the whole file
    start_upload(first, video)
    bar = first.get_by_role("progressbar", name="Upload progress")
    first.wait_for_function("bar => bar.value >= 5 && bar.value < 100", arg=bar.element_handle())
    [key] = first.evaluate(KEPT)
    kept = json.loads(first.evaluate(f"localStorage.getItem({json.dumps(key)})"))
    first.close()  # mid-upload

    again = ivy.context.new_page()
    start_upload(again, video)
    expect(again.get_by_role("status")).to_contain_text("Uploaded")
    assert again.evaluate(KEPT) == []  # done: nothing left to resume
    with httpx.Client(base_url=region.url, timeout=30) as api:
        auth = token_of(again)
        resumed = api.get(kept["uploadUrl"], headers=auth).json()
        mine = api.get("/v1/accounts/ivy_web/videos").json()
        assert [v["id"] for v in mine] == [resumed["video_id"]]  # that upload became the video
    assert ivy.errors == []
