"""Bad input in the web app: a clear message in words, and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import expect

from stormproof.testing import LiveServer
from tests.conftest import PASSWORD, sign_up
from tests.web.conftest import Person, log_in


def test_a_wrong_password_says_so_and_signs_nobody_in(
    people: Callable[[], Person], region: LiveServer
) -> None:
    with httpx.Client(base_url=region.url) as api:
        sign_up(api, "cleo_web")
    cleo = people()
    log_in(cleo.page, "cleo_web", "not the password", signed_in=False)
    expect(cleo.page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(cleo.page.get_by_role("button", name="Log in")).to_be_visible()
    assert cleo.page.evaluate("localStorage.getItem('stormproof.session')") is None
    assert cleo.errors == []


def test_a_file_that_is_no_video_is_refused_in_words_and_not_stored(
    people: Callable[[], Person], region: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=region.url) as api:
        sign_up(api, "dora_web")
    dora = people()
    log_in(dora.page, "dora_web", PASSWORD)
    page = dora.page
    page.get_by_role("link", name="Upload").click()
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"these are my notes, not a video\n" * 100)
    page.get_by_label("Video file").set_input_files(notes)
    page.get_by_label("Caption").fill("not a video")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("not a video we can play")
    with httpx.Client(base_url=region.url) as api:
        assert api.get("/v1/accounts/dora_web/videos").json() == []
        assert api.get("/v1/accounts/dora_web").json()["videos"] == 0
    assert dora.errors == []


def test_an_empty_message_is_not_sent(people: Callable[[], Person], region: LiveServer) -> None:
    with httpx.Client(base_url=region.url) as api:
        sign_up(api, "eli_web")
        auth = sign_up(api, "fay_web")
        eli = people()
        log_in(eli.page, "eli_web", PASSWORD)
        page = eli.page
        page.get_by_role("link", name="Inbox").click()
        page.get_by_role("button", name="New message").click()
        page.get_by_label("To").fill("fay_web")
        page.get_by_role("button", name="Start").click()
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("alert")).to_have_text("Write a message first.")
        page.get_by_label("Message").fill("   ")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("alert")).to_have_text("Write a message first.")
        assert api.get("/v1/conversations", headers=auth).json() == []
    assert eli.errors == []
