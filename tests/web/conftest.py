"""The browser tests' fixtures: Debian's chromium driven by Playwright
(never a browser Playwright downloads), and one region for the tests of a
module to share. Elements are found by role and accessible name only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from stormproof.settings import Settings
from stormproof.testing import CHROMIUM, CHROMIUM_ARGS, LiveServer
from stormproof.web.router import DIST
from tests.conftest import make_settings

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
#: the screenshots the README links to, written by the tests
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API runs an event loop of its own, which
    must be gone before the async tests of other modules run theirs."""
    assert (DIST / "index.html").is_file(), "the web app is not built: run ./scripts/test"
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./scripts/test"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings: Settings = make_settings(tmp_path_factory.mktemp("web") / "region")
    live = LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@dataclass
class Person:
    """Someone with a phone: their own browser context (storage, cookies),
    and the script errors their page met (a test ends with none)."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def people(browser: Browser, region: LiveServer) -> Iterator[Callable[[], Person]]:
    """Make people; their pages close before the region stops (their live
    message streams with them)."""
    made: list[Person] = []

    def person() -> Person:
        context = browser.new_context(viewport=PHONE, base_url=region.url, has_touch=True)
        context.set_default_timeout(15_000)
        someone = Person(context, context.new_page())
        someone.page.on("pageerror", lambda error: someone.errors.append(str(error)))
        made.append(someone)
        return someone

    yield person
    for someone in made:
        someone.context.close()


def screenshot(page: Page, name: str) -> None:
    """``name`` at phone and at desktop size, into docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or PHONE
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png")
    page.set_viewport_size(DESKTOP)
    page.wait_for_timeout(150)  # the layout settles
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png")
    page.set_viewport_size(size)


def token_of(page: Page) -> dict[str, str]:
    """The session the app keeps, to ask the API what it recorded."""
    token = page.evaluate("JSON.parse(localStorage.getItem('stormproof.session')).token")
    return {"Authorization": f"Bearer {token}"}


def log_in(page: Page, username: str, password: str, *, signed_in: bool = True) -> None:
    """Log in through the account screen; wait until the app says who is in."""
    page.goto("/account")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if signed_in:  # the navigation's "Log in" became "Account"
        expect(page.get_by_role("link", name="Log in")).to_have_count(0)
