"""The web app as two people use it, in Debian's chromium, on one region:
sign up, upload a real video with the progress bar reaching 100 %, see it on
the profile; another person sees it in For You, likes, comments, follows,
writes; the first sees the message arrive live; the watch reached the API."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from stormproof.testing import LiveServer
from tests.conftest import PASSWORD
from tests.web.conftest import Person, screenshot, token_of

#: when the first video's first frame was there, in ms from navigation start
FIRST_FRAME = """new Promise(done => { const look = () => {
    const mark = performance.getEntriesByName('first-frame');
    mark.length ? done(mark[0].startTime) : setTimeout(look, 20) }; look() })"""


def sign_up(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)  # signed in


def test_two_people_upload_watch_like_comment_follow_and_write(
    people: Callable[[], Person], region: LiveServer, video_file: Path
) -> None:
    ann = people()
    sign_up(ann.page, "ann_web")
    page = ann.page

    # Upload: pick the file, a caption, the progress bar to 100 %.
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("Video file").set_input_files(video_file)
    page.get_by_label("Caption").fill("first light #sky")
    page.get_by_role("button", name="Upload").click()
    bar = page.get_by_role("progressbar", name="Upload progress")
    expect(page.get_by_role("status")).to_contain_text("Uploaded")
    expect(bar).to_have_js_property("value", 100)
    screenshot(page, "upload")

    # It is on her profile.
    page.get_by_role("link", name="your profile").click()
    expect(page.get_by_role("heading", name="@ann_web")).to_be_visible()
    expect(page.get_by_role("link", name="first light #sky")).to_be_visible()
    screenshot(page, "profile")
    # She waits for messages in her inbox.
    page.get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()

    # Ben signs up and finds her video in For You.
    ben = people()
    sign_up(ben.page, "ben_web")
    watching = ben.page
    watching.reload()  # a fresh load: the time to its first video frame is measured
    started = time.monotonic()
    expect(watching.get_by_role("link", name="@ann_web")).to_be_visible()
    expect(watching.get_by_role("button", name="Like")).to_be_visible()
    first_frame = watching.evaluate(FIRST_FRAME)
    print(f"time to first video frame: {first_frame:.0f} ms from navigation start")
    watching.wait_for_timeout(2500)  # watches it: a 2-second clip, looped
    screenshot(watching, "for-you")

    # Like (a button that says it is pressed), comment, follow.
    watching.get_by_role("button", name="Like").click()
    expect(watching.get_by_role("button", name="Like")).to_have_attribute("aria-pressed", "true")
    watching.get_by_role("button", name="Comment").click()
    drawer = watching.get_by_role("dialog", name="Comments")
    drawer.get_by_label("Add a comment").fill("lovely light")
    drawer.get_by_role("button", name="Post").click()
    expect(drawer.get_by_role("listitem").filter(has_text="lovely light")).to_be_visible()
    screenshot(watching, "comments")
    drawer.get_by_role("button", name="Close").click()
    watching.get_by_role("button", name="Follow").click()
    expect(watching.get_by_role("button", name="Following")).to_be_visible()

    # He moves on to her profile (the watch is reported) and writes to her.
    watching.get_by_role("link", name="@ann_web").click()
    watched_s = time.monotonic() - started
    expect(watching.get_by_role("heading", name="@ann_web")).to_be_visible()
    watching.get_by_role("button", name="Message").click()
    watching.get_by_label("Message").fill("hello from ben")
    watching.get_by_role("button", name="Send").click()
    thread = watching.get_by_role("region", name="Conversation with ann_web")
    expect(thread.get_by_role("listitem").filter(has_text="hello from ben")).to_be_visible()

    # Ann sees it arrive, live, unread, without reloading.
    conversation = page.get_by_role("button", name=re.compile("@ben_web"))
    expect(conversation).to_contain_text("hello from ben")
    expect(conversation.get_by_label("1 unread")).to_be_visible()
    conversation.click()
    thread = page.get_by_role("region", name="Conversation with ben_web")
    expect(thread.get_by_role("listitem").filter(has_text="hello from ben")).to_be_visible()
    screenshot(page, "inbox")

    # What the API recorded: one like, one comment, one follower, one message,
    # and a watch of a sensible length from For You.
    with httpx.Client(base_url=region.url, timeout=30) as api:
        auth = token_of(page)
        video = api.get("/v1/accounts/ann_web/videos").json()[0]
        assert video["counts"]["likes"] == 1 and video["counts"]["comments"] == 1
        assert api.get("/v1/accounts/ann_web").json()["followers"] == 1
        messages = api.get("/v1/conversations/ben_web/messages", headers=auth).json()
        assert [m["text"] for m in messages] == ["hello from ben"]
        report = api.get(f"/v1/studio/videos/{video['id']}", headers=auth).json()
        totals = report["totals"]
        assert totals["views"] >= 1 and totals["sources"]["for_you"] >= 1
        # watched while on screen: at least the 2.5 s waited, at most the time there
        assert 2000 <= totals["watched_ms"] <= watched_s * 1000 + 500, (totals, watched_s)

    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Studio").click()
    expect(page.get_by_role("heading", name="Studio")).to_be_visible()
    earnings = page.get_by_role("region", name="Earnings")
    earnings.get_by_role("button", name="Start earning").click()
    expect(earnings.get_by_role("status")).to_have_text("Your qualified views earn from now on.")
    expect(earnings.get_by_role("button", name="Stop earning")).to_be_visible()
    screenshot(page, "studio")
    with httpx.Client(base_url=region.url, timeout=30) as api:
        assert api.get("/v1/studio/earnings", headers=auth).json()["enrolled"] is True
    assert ann.errors == [] and ben.errors == []
