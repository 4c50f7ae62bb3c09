"""How every region serves the web app (ADR 029): its page at `/` and at
every screen's address, its files, a policy that lets it reach this region
and its peers and nothing else, the list of regions, and — without a build —
a page that says what this is."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from stormproof.testing import LiveServer
from stormproof.web import router as web
from tests.conftest import make_settings

PEERS = ("http://127.0.0.1:1", "http://127.0.0.1:2")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = make_settings(
        tmp_path_factory.mktemp("served") / "region",
        region="us-east",
        peers=PEERS,
        peer_names=("us-central", "us-west"),
    )
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            yield client
    finally:
        live.stop()


def test_the_root_is_the_app_and_everything_it_loads_is_served_here(api: httpx.Client) -> None:
    answer = api.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(answer.text)
    assert "script" in page.tags and "/manifest.webmanifest" in page.links
    assert all(link.startswith("/") for link in page.links), page.links  # nothing elsewhere
    for link in page.links:
        if link.startswith(("/assets/", "/icons/", "/manifest")):
            got = api.get(link)
            assert got.status_code == 200, link
    script = next(link for link in page.links if link.endswith(".js"))
    got = api.get(script)
    assert got.headers["content-type"].startswith("text/javascript")
    assert "immutable" in got.headers["cache-control"]
    # No font, stylesheet or script from another origin in what the page loads.
    assert not re.search(r"https?://(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}/", got.text)


def test_the_page_may_reach_this_region_and_its_peers_and_nothing_else(
    api: httpx.Client,
) -> None:
    policy = dict(
        part.strip().split(" ", 1)
        for part in api.get("/").headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # no inline script, nothing from elsewhere
    assert policy["connect-src"] == "'self' " + " ".join(PEERS)
    assert policy["media-src"].startswith("'self' " + " ".join(PEERS))
    assert policy["frame-ancestors"] == "'none'"


def test_every_screen_address_answers_the_app(api: httpx.Client) -> None:
    root = api.get("/").text
    for path in ("/following", "/upload", "/inbox", "/studio", "/account", "/v/v_1", "/@ann"):
        assert api.get(path).text == root, path
    assert "/" not in api.get("/openapi.json").json()["paths"]


def test_the_pwa_manifest_service_worker_and_icons(api: httpx.Client) -> None:
    manifest = api.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = json.loads(manifest.text)
    assert body["start_url"] == "/" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert api.get(icon["src"]).status_code == 200, icon
    worker = api.get("/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["content-security-policy"] == "default-src 'self'"
    assert "/v1/" not in re.findall(r"caches?\.\w+\([^)]*\)", worker.text)


def test_files_outside_the_build_are_never_served(api: httpx.Client) -> None:
    for path in ("/assets/..%2F..%2Frouter.py", "/assets/%2e%2e", "/icons/nope.png"):
        assert api.get(path).status_code == 404, path


def test_the_regions_this_one_first_then_its_peers(api: httpx.Client) -> None:
    answer = api.get("/v1/regions").json()
    assert answer["regions"] == [
        {"name": "us-east", "url": str(api.base_url).rstrip("/")},
        {"name": "us-central", "url": PEERS[0]},
        {"name": "us-west", "url": PEERS[1]},
    ]


def test_the_shell_stays_under_its_budget(api: httpx.Client) -> None:
    """HTML + JS + CSS, compressed, under 150 KB (issue 16; hls.js apart)."""
    page = _Page()
    html = api.get("/").text
    page.feed(html)
    shell = [html.encode()] + [
        api.get(link).content for link in page.links if link.endswith((".js", ".css"))
    ]
    assert sum(len(gzip.compress(part)) for part in shell) < 150_000


def test_without_a_build_the_root_says_what_this_is(
    api: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "DIST", tmp_path / "not-built")
    answer = api.get("/")
    assert answer.status_code == 200
    page = _Page()
    page.feed(answer.text)
    assert "short-video platform" in page.text and "not built" in page.text
    assert {"/docs", "/status"} <= set(page.links)
    assert "script" not in page.tags
    assert api.get("/assets/index.js").status_code == 404


def test_peer_regions_may_call_this_one_from_a_browser_and_no_one_else(
    api: httpx.Client,
) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, stormproof-write-at",
    }
    allowed = api.options("/v1/messages", headers={"Origin": PEERS[0], **asked})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PEERS[0]
    refused = api.options("/v1/messages", headers={"Origin": "http://elsewhere.example", **asked})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    # What the app reads of an answer is exposed to it.
    answer = api.get("/v1/regions", headers={"Origin": PEERS[1]})
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"stormproof-seq", "stormproof-partitions", "location", "upload-offset"} <= set(
        exposed.split(", ")
    )
