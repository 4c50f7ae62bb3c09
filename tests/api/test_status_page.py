"""``GET /status``, ``/status/feed.atom`` and ``/v1/status/page``: the
status page a person reads, rendered by a real server from probers' rounds
in its log, self-contained, and its Atom feed (ADR 023)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from stormproof.settings import Settings
from tests.api.test_status import append
from tests.status.html_tree import Node, parse
from tests.status.probes import probes

PROBERS = ("east", "north", "west")
ATOM = "{http://www.w3.org/2005/Atom}"
COMPONENTS = {"sign_in": "Sign-in", "for_you": "For You", "uploads": "Uploads"}


def _outage(settings: Settings) -> int:
    """Six rounds: west fails the last three of them (down), uploads are
    checked in round 0 only; the last round's seq."""
    rounds = []
    for n in range(6):
        failing = {"west"} if n >= 3 else set()
        components = ("sign_in", "for_you", "uploads") if n == 0 else ("sign_in", "for_you")
        rounds += [probes(p, n, failing=failing, components=components) for p in PROBERS]
    return append(settings, rounds)


def _page(client: httpx.Client, seq: int) -> tuple[httpx.Response, Node]:
    answer = client.get("/status", params={"min_seq": seq})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    return answer, parse(answer.text)


def test_the_page_shows_every_component_in_every_region_with_ninety_days(
    client: httpx.Client, settings: Settings
) -> None:
    _, page = _page(client, _outage(settings))
    [html] = page.all("html")
    assert html.attrs["lang"] == "en"
    assert [len(page.all(tag)) for tag in ("header", "main", "footer", "h1")] == [1, 1, 1, 1]
    [main] = page.all("main")
    assert [h.text() for h in main.all("h2")] == [
        "Incidents",
        "Scheduled maintenance",
        "Components",
    ]
    [header] = page.all("header")
    assert "Partial outage" in header.text()
    assert "As of the probe round of 2025-11-24 16:00:50 UTC" in header.text()
    assert "served by region test" in header.text() and "may be behind" not in header.text()
    incidents = main.named("section", "Incidents")
    assert "No incidents reported." in incidents.text()  # the incidents view fills it in later
    assert "No maintenance scheduled." in main.named("section", "Scheduled maintenance").text()
    for component, title in COMPONENTS.items():
        card = main.named("article", title)
        regions = card.named("ul", f"{title} in each region").all("li")
        assert [li.text().split()[0] for li in regions] == list(PROBERS)
        west = regions[2].text()
        bars = card.named("ol", f"{title}: uptime of each of the last 90 days, oldest first")
        days = bars.all("li")
        assert len(days) == 90
        assert all(day.attrs["title"] == day.text() for day in days)  # hover and screen reader
        assert days[0].text() == "2025-08-27: no data"
        if component == "uploads":  # checked once, passing everywhere
            assert "Operational" in west and days[-1].text() == "2025-11-24: no downtime"
        else:
            # three failing rounds of six: west down 30 s, 50 % of the time judged
            assert "Major outage" in west and "since 2025-11-24 16:00:30 UTC" in west
            assert "50.00 % up in 90 days" in west and "3 of 3 probers saw it fail" in west
            assert days[-1].text() == (
                "2025-11-24: down under a minute (50.00 %), in some regions only"
            )
            assert "Partial outage" in card.text()


def test_the_page_loads_nothing_and_links_only_to_its_own_server(
    client: httpx.Client, settings: Settings
) -> None:
    answer, page = _page(client, _outage(settings))
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline';")
    tags = {node.tag for node in page.walk()}
    assert not {"script", "img", "iframe", "object", "embed", "form", "noscript"} & tags
    references = []
    for node in page.walk():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)  # no inline handlers
            if name in ("src", "href", "action", "srcset", "poster", "data", "formaction"):
                references.append(value)
            if name == "style":
                references += re.findall(r"url\(([^)]*)\)", value)
    for style in page.all("style"):
        assert "@import" not in style.text()
        references += re.findall(r"url\(([^)]*)\)", style.text())
    assert sorted(set(references)) == ["/status/feed.atom", "/v1/status/page"]
    assert not re.search(r"(?i)\b(https?:)?//", " ".join(references))
    for reference in set(references):  # each answers here, with no script needed
        assert client.get(reference).status_code == 200, reference


def test_the_feed_is_valid_atom_and_empty_without_incidents(
    client: httpx.Client, settings: Settings
) -> None:
    seq = _outage(settings)
    answer = client.get("/status/feed.atom", params={"min_seq": seq})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    children = [child.tag.removeprefix(ATOM) for child in feed]
    for required in ("id", "title", "updated", "author", "link"):
        assert required in children, required
    assert all(child.tag.startswith(ATOM) for child in feed.iter())
    assert feed.findtext(f"{ATOM}id") == "urn:stormproof:status"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "stormproof"
    updated = feed.findtext(f"{ATOM}updated") or ""
    assert datetime.fromisoformat(updated).isoformat() == "2025-11-24T16:00:50+00:00"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    base = str(client.base_url).rstrip("/")  # the region's own address (settings.url)
    assert links == {"self": f"{base}/status/feed.atom", "alternate": f"{base}/status"}
    assert feed.findall(f"{ATOM}entry") == []


def test_the_page_as_json_is_what_the_html_shows(client: httpx.Client, settings: Settings) -> None:
    seq = _outage(settings)
    document: dict[str, Any] = client.get("/v1/status/page", params={"min_seq": seq}).json()
    states = client.get("/v1/status").json()
    # The same position: nothing came in between. The page lists incidents
    # and maintenance beside the states, not in them.
    assert [states.pop("incidents"), states.pop("maintenance")] == [[], []]
    assert document["status"] == states
    uptime = document["uptime"]
    assert (uptime["first_day"], uptime["last_day"]) == ("2025-08-27", "2025-11-24")
    assert [c["component"] for c in uptime["components"]] == ["sign_in", "for_you", "uploads"]
    sign_in = uptime["components"][0]
    assert sign_in["days"] == [
        {"date": "2025-11-24", "rounds": 6, "judged_ms": 60_000, "down_ms": 0,
         "partial_ms": 30_000},
    ]  # fmt: skip
    assert [(r["region"], r["uptime"]) for r in sign_in["regions"]] == [
        ("east", 1.0),
        ("north", 1.0),
        ("west", 0.5),
    ]
    assert (document["incidents"], document["maintenance"]) == ([], [])


def test_hostile_query_parameters_are_refused_or_ignored(client: httpx.Client) -> None:
    for path in ("/status", "/status/feed.atom", "/v1/status/page"):
        for bad in ("abc", "-1", "9" * 40):
            answer = client.get(path, params={"min_seq": bad})
            assert answer.status_code == 422, (path, bad)
            assert answer.json()["code"] == "invalid_request"
    answer = client.get("/status", params={"<script>": "<script>alert(1)</script>"})
    assert answer.status_code == 200
    assert "<script" not in answer.text and "alert(1)" not in answer.text


def test_the_page_is_not_in_the_api_contract_but_its_json_is(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/status" not in paths and "/status/feed.atom" not in paths
    assert "/v1/status/page" in paths and "/v1/status" in paths
