"""The status page's Atom 1.0 feed (RFC 4287): one entry per update of an
incident or a maintenance, newest first (ADR 023).

Built as an element tree and serialised by the standard library, so every
value is escaped by construction. The feed's id is the same in every region
(``urn:stormproof:status``) and so is each entry's (made from the notice's
and the update's ids): a reader that switches region during an outage sees
one feed, not three. With no incidents yet it is a valid empty feed.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from xml.etree import ElementTree as ET

from stormproof.status.document import NoticeOut, PageDocument, UpdateOut

__all__ = ["ATOM", "FEED_ID", "anchor", "render_feed"]

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:stormproof:status"


def anchor(notice_id: str) -> str:
    """The fragment of a notice on the page (its element's id)."""
    return "notice-" + quote(notice_id, safe="")


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def render_feed(
    document: PageDocument, *, self_href: str, page_href: str, now: dt.datetime
) -> bytes:
    """The feed as UTF-8 XML. ``updated`` is its newest entry's time, else
    the newest probe round's, else ``now``."""
    entries = sorted(
        ((notice, update) for notice in [*document.incidents, *document.maintenance]
         for update in notice.updates),
        key=lambda pair: (pair[1].at, pair[0].id, pair[1].id),
        reverse=True,
    )  # fmt: skip
    # Names without a namespace, and Atom's declared as the default on the
    # root: ElementTree's own default_namespace refuses unqualified attributes.
    feed = ET.Element("feed", xmlns=ATOM)
    _el(feed, "id", FEED_ID)
    _el(feed, "title", "stormproof status: incidents and maintenance")
    newest = entries[0][1].at if entries else document.status.newest_round
    _el(feed, "updated", newest or now.isoformat(timespec="seconds").replace("+00:00", "Z"))
    _el(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    _el(feed, "link", rel="alternate", type="text/html", href=page_href)
    author = _el(feed, "author")
    _el(author, "name", "stormproof")
    _el(feed, "generator", "stormproof")
    for notice, update in entries:
        _entry(feed, notice, update, page_href)
    ET.indent(feed)
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml


def _entry(feed: ET.Element, notice: NoticeOut, update: UpdateOut, page_href: str) -> None:
    entry = _el(feed, "entry")
    _el(entry, "id", f"{FEED_ID}:{quote(notice.id, safe='')}:{quote(update.id, safe='')}")
    status = update.status.replace("_", " ")
    _el(entry, "title", f"{notice.title} ({status})")
    _el(entry, "updated", update.at)
    _el(entry, "published", update.at)
    _el(entry, "link", rel="alternate", type="text/html", href=f"{page_href}#{anchor(notice.id)}")
    _el(entry, "category", term=notice.impact)
    _el(entry, "content", update.text, type="text")
