"""The player and the account screens by keyboard and by name: arrow keys
move between videos, "Why this video", Share (a link that opens the video
for anyone, counted), "Not interested" (gone from For You), Follow and the
Following feed, Reset For You (asked twice), log out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import expect

from stormproof.media import make_video
from stormproof.testing import LiveServer
from tests.conftest import PASSWORD, sign_up, upload
from tests.web.conftest import Person, log_in, screenshot, token_of


def test_the_player_by_keyboard_share_not_interested_following_and_account(
    people: Callable[[], Person], region: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=region.url, timeout=30) as api:
        gus = sign_up(api, "gus_web")
        for i in range(3):
            clip = make_video(tmp_path / f"c{i}.mp4", seconds=1.0, seed=40 + i)
            assert upload(api, gus, clip, caption=f"clip {i} #test").status_code == 201
        sign_up(api, "hal_web")

    hal = people()
    page = hal.page
    log_in(page, "hal_web", PASSWORD)

    # Arrow keys move between videos; only the one on screen is in the tree.
    expect(page.get_by_role("region", name="Video 1")).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("region", name="Video 2")).to_be_visible()
    expect(page.get_by_role("region", name="Video 1")).to_have_count(0)
    page.keyboard.press("ArrowUp")
    expect(page.get_by_role("region", name="Video 1")).to_be_visible()

    # Why this video: a dialog, closed with Escape.
    page.get_by_role("button", name="Why this video").click()
    expect(page.get_by_role("dialog", name="Why this video")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # The first tap turns the sound on, the next pauses; a double tap likes.
    page.get_by_role("button", name="Turn sound on").click()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    like = page.get_by_role("button", name="Like")
    page.get_by_role("button", name="Play").dblclick()
    expect(like).to_have_attribute("aria-pressed", "true")
    # Like by keyboard: the focus is visible and Enter presses the button.
    like.focus()
    page.keyboard.press("Enter")
    expect(like).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Enter")
    expect(like).to_have_attribute("aria-pressed", "true")

    # Share: the video's own link, counted as a share.
    page.get_by_role("button", name="Share").click()
    sheet = page.get_by_role("dialog", name="Share")
    link = sheet.get_by_role("textbox", name="Link").input_value()
    video_id = link.rsplit("/v/", 1)[1]
    sheet.get_by_role("button", name="Copy link").click()
    expect(sheet.get_by_role("status")).not_to_be_empty()
    screenshot(page, "share")
    sheet.get_by_role("button", name="Close").click()

    # The link opens the video for someone who is not signed in.
    guest = people()
    guest.page.goto(link)
    expect(guest.page.get_by_role("link", name="@gus_web")).to_be_visible()
    player = guest.page.get_by_label("Video by gus_web", exact=False)
    guest.page.wait_for_function(
        "v => v.currentTime > 0", arg=player.element_handle(), timeout=15_000
    )

    # Not interested: gone from the screen and from For You.
    page.get_by_role("button", name="Not interested").click()
    expect(page.get_by_role("region", name="Video 1")).to_be_visible()
    auth = token_of(page)
    with httpx.Client(base_url=region.url, timeout=30) as api:
        assert api.get(f"/v1/videos/{video_id}").json()["counts"]["shares"] == 1
        feed = api.get("/v1/feed/for-you", headers=auth).json()
        assert video_id not in [item["video"]["id"] for item in feed["items"]]

    # Follow, and the Following feed has the creator's videos.
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Following")).to_be_visible()
    page.get_by_role("link", name="Following").click()
    following = page.get_by_role("main", name="Following")
    expect(following.get_by_role("link", name="@gus_web")).to_be_visible()

    # An open incident shows as a banner, linking the status page.
    with httpx.Client(base_url=region.url, timeout=30) as api:
        olga = sign_up(api, "olga_web")
        granted = api.post("/v1/operators", json={"username": "olga_web"}, headers=region.operator)
        assert granted.status_code == 201, granted.text
        incident = {
            "title": "Uploads are slow",
            "regions": [region.settings.region],
            "components": ["uploads"],
            "impact": "minor",
            "text": "Uploads take minutes to finish; we are looking into it.",
        }
        assert api.post("/v1/incidents", json=incident, headers=olga).status_code == 201
    page.reload()
    banner = page.get_by_role("status").filter(has_text="Uploads are slow")
    expect(banner.get_by_role("link", name="see the status page")).to_have_attribute(
        "href", "/status"
    )

    # Reset For You asks first; log out ends the session here.
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Reset For You").click()
    page.get_by_role("button", name="Yes, reset For You").click()
    said = page.get_by_role("main").get_by_role("status")
    expect(said).to_contain_text("For You starts over")
    screenshot(page, "account")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('stormproof.session')") is None
    assert hal.errors == [] and guest.errors == []
