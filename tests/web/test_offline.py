"""The app installs as a PWA: its service worker keeps the shell, so the
app starts with no network at all (and says so, instead of a browser error)."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.web.conftest import Person


def test_the_shell_starts_with_no_network(people: Callable[[], Person]) -> None:
    someone = people()
    page = someone.page
    page.goto("/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # the worker installed: the page and what it names are kept
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    someone.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="Status")).to_be_visible()
    assert someone.errors == []
