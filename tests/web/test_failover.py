"""A power cut in the browser: three regions on loopback (real processes),
a person whose page came from us-east scrolling For You in one tab, a
message typed in another and an upload under way in a third; us-east is
SIGKILLed. The feed still scrolls and plays, the message is delivered once,
the upload completes on another region, and the app says what happened."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from stormproof.cluster import LocalCluster
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.conftest import PASSWORD, sign_up, upload
from tests.web.conftest import PHONE, log_in, token_of

FAILED_OVER = re.compile(
    r"us-east is down; you are now served from us-(central|west) — nothing was lost"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster.create(tmp_path_factory.mktemp("cluster"), 3, free_base_port())
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def min_seq(page: Page) -> dict[str, Any]:
    """What the person's app wrote or read: read back at least that."""
    seen = json.loads(page.evaluate("localStorage.getItem('stormproof.seen') || '{}'"))
    return {"min_seq": sorted(seen.values())}


def test_a_power_cut_costs_the_person_in_the_browser_nothing(
    browser: Browser, cluster: LocalCluster, tmp_path: Path
) -> None:
    east, *_ = cluster.names
    url_east, url_central, _ = cluster.urls
    with httpx.Client(base_url=url_east, timeout=30) as api:
        maker = sign_up(api, "maker")
        for i in range(4):
            clip = make_video(tmp_path / f"c{i}.mp4", seconds=1.0, seed=60 + i)
            assert upload(api, maker, clip, caption=f"clip {i}").status_code == 201
        sign_up(api, "viewer")
    big = make_video(tmp_path / "long.mp4", seconds=12.0, width=480, height=852, seed=9)

    context = browser.new_context(viewport=PHONE, base_url=url_east)
    context.set_default_timeout(30_000)
    errors: list[str] = []
    try:
        scrolling = context.new_page()
        scrolling.on("pageerror", lambda e: errors.append(str(e)))
        log_in(scrolling, "viewer", PASSWORD)
        expect(scrolling.get_by_role("region", name="Video 1")).to_be_visible()

        writing = context.new_page()
        writing.goto("/inbox?to=maker")
        writing.get_by_label("Message").fill("typed during the cut")

        uploading = context.new_page()
        uploading.goto("/upload")
        # a slow uplink, so that the cut comes mid-upload: the generated clip
        # is ~55 KB, so 20 KB/s makes its upload last a few seconds
        cdp = context.new_cdp_session(uploading)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 20_000},
        )
        uploading.get_by_label("Video file").set_input_files(big)
        uploading.get_by_label("Caption").fill("sent through the storm")
        uploading.get_by_role("button", name="Upload").click()
        bar = uploading.get_by_role("progressbar", name="Upload progress")
        # polled by time: a page in the background gets no animation frames
        uploading.wait_for_function("bar => bar.value >= 5", arg=bar.element_handle(), polling=50)

        at_cut = bar.evaluate("bar => bar.value")
        assert at_cut < 100  # the cut comes mid-upload
        cluster.kill(east)  # SIGKILL, every process of the region at once
        cut = time.monotonic()

        # The feed scrolls on and the next video plays.
        scrolling.keyboard.press("ArrowDown")
        second = scrolling.get_by_role("region", name="Video 2")
        expect(second).to_be_visible()
        video = second.get_by_label(re.compile("^Video by maker"))
        scrolling.wait_for_function("v => v.currentTime > 0", arg=video.element_handle())
        playing = time.monotonic() - cut
        expect(scrolling.get_by_role("status").filter(has_text=FAILED_OVER)).to_be_visible()
        told = time.monotonic() - cut
        scrolling.keyboard.press("ArrowDown")
        expect(scrolling.get_by_role("region", name="Video 3")).to_be_visible()

        # The message goes, once.
        writing.get_by_role("button", name="Send").click()
        thread = writing.get_by_role("region", name="Conversation with maker")
        expect(
            thread.get_by_role("listitem").filter(has_text="typed during the cut")
        ).to_have_count(1)

        # The upload completes on another region.
        expect(uploading.get_by_role("status")).to_contain_text("Uploaded", timeout=90_000)
        expect(bar).to_have_js_property("value", 100)
        print(
            f"after the cut: next video playing {playing:.2f} s, banner {told:.2f} s,"
            f" upload ({at_cut} % at the cut) done {time.monotonic() - cut:.2f} s"
        )

        auth = token_of(writing)
        with httpx.Client(base_url=url_central, timeout=30) as api:
            sent = api.get(
                "/v1/conversations/maker/messages", headers=auth, params=min_seq(writing)
            )
            assert [m["text"] for m in sent.json()] == ["typed during the cut"]
            mine = api.get("/v1/accounts/viewer/videos", params=min_seq(uploading)).json()
            assert [v["caption"] for v in mine] == ["sent through the storm"]
        assert errors == []
    finally:
        context.close()
