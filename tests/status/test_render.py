"""The page and the feed rendered from a document holding incidents: every
value escaped, every update an Atom entry (ADR 023). Incidents are made up
here; the incidents view feeds them through ``page.incidents_section``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from stormproof.status.document import NoticeOut, PageDocument, UpdateOut, read_document
from stormproof.status.feed import render_feed
from stormproof.status.html import SERVED, STATIC, render_page
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from tests.status.html_tree import parse
from tests.status.probes import entry, probes

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
NOW = dt.datetime(2025, 11, 24, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def document(tmp_path: Path) -> PageDocument:
    store = ViewStore(tmp_path / "views.sqlite", all_views())
    store.apply([entry(0, n + 1, probes(p, 0)) for n, p in enumerate(("east", "west"))])
    found = read_document(
        store.reader(),
        region="east",
        fresh=True,
        position_of=store.position,
        fail_rounds=3,
        pass_rounds=2,
        now=int(time.time() * 1000),
    )
    incident = NoticeOut(
        id="inc 1/a",
        title=f"West is down {HOSTILE}",
        impact="major",
        status="monitoring",
        begins_at="2025-11-24T16:10:00.000Z",
        ends_at=None,
        components=["sign_in", "for_you"],
        regions=["west"],
        updates=[
            UpdateOut(id="u2", at="2025-11-24T16:40:00.000Z", status="monitoring", text=HOSTILE),
            UpdateOut(id="u1", at="2025-11-24T16:10:00.000Z", status="investigating",
                      text="Probes from two regions fail."),
        ],
    )  # fmt: skip
    maintenance = NoticeOut(
        id="m1",
        title="Moving west's disks",
        impact="maintenance",
        status="scheduled",
        begins_at="2025-11-25T02:00:00.000Z",
        ends_at="2025-11-25T03:00:00.000Z",
        components=["uploads"],
        regions=["west"],
        updates=[UpdateOut(id="s", at="2025-11-24T12:00:00.000Z", status="scheduled",
                           text="Uploads may be refused for an hour.")],
    )  # fmt: skip
    return found.model_copy(update={"incidents": [incident], "maintenance": [maintenance]})


def test_incidents_and_maintenance_show_with_their_updates_escaped(
    document: PageDocument,
) -> None:
    html = render_page(document, now=NOW, links=SERVED)
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    page = parse(html)
    [main] = page.all("main")
    incident = main.named("section", "Incidents").named("article", f"West is down {HOSTILE}")
    assert incident.attrs["id"] == "notice-inc%201%2Fa"
    text = incident.text()
    assert "Monitoring · impact major · sign in, for you · west" in text
    assert "since 2025-11-24 16:10:00 UTC (50 minutes ago)" in text
    updates = [li.text() for li in incident.all("li")]
    assert updates[0].startswith(f"Monitoring — {HOSTILE}") and "(20 minutes ago)" in updates[0]
    assert updates[1].startswith("Investigating — Probes from two regions fail.")
    upcoming = main.named("section", "Scheduled maintenance").named(
        "article", "Moving west's disks"
    )
    assert "until 2025-11-25 03:00:00 UTC (in 10 hours)" in upcoming.text()


def test_every_update_is_an_atom_entry_newest_first(document: PageDocument) -> None:
    xml = render_feed(document, self_href="feed.atom", page_href="index.html", now=NOW)
    feed = ET.fromstring(xml)
    assert feed.findtext(f"{ATOM}updated") == "2025-11-24T16:40:00.000Z"  # the newest entry
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "urn:stormproof:status:inc%201%2Fa:u2",
        "urn:stormproof:status:inc%201%2Fa:u1",
        "urn:stormproof:status:m1:s",
    ]
    for e in entries:  # what RFC 4287 requires of an entry, and a link to the notice
        assert {"id", "title", "updated", "link", "content"} <= {
            c.tag.removeprefix(ATOM) for c in e
        }
        dt.datetime.fromisoformat(e.findtext(f"{ATOM}updated") or "")
    newest = entries[0]
    assert newest.findtext(f"{ATOM}title") == f"West is down {HOSTILE} (monitoring)"
    assert newest.findtext(f"{ATOM}content") == HOSTILE  # escaped in XML, the same text read back
    assert newest.find(f"{ATOM}content").get("type") == "text"  # type: ignore[union-attr]
    link = newest.find(f"{ATOM}link")
    assert link is not None and link.get("href") == "index.html#notice-inc%201%2Fa"
    assert b"<script>" not in xml


def test_a_static_copy_says_so_and_links_to_its_own_files(document: PageDocument) -> None:
    page = parse(render_page(document, now=NOW, links=STATIC))
    [header] = page.all("header")
    assert "in a copy made 2025-11-24 17:00:00 UTC from region east" in header.text()
    assert "does not update by itself" in header.text()
    hrefs = {node.attrs["href"] for node in page.walk() if "href" in node.attrs}
    assert hrefs == {"status.json", "feed.atom"}


def test_a_region_behind_says_its_page_may_be_behind(document: PageDocument) -> None:
    behind = document.model_copy(
        update={"status": document.status.model_copy(update={"fresh": False})}
    )
    [header] = parse(render_page(behind, now=NOW)).all("header")
    assert "This may be behind. Region east is catching up with the log" in header.text()
    [header] = parse(render_page(document, now=NOW)).all("header")
    assert "behind" not in header.text()
