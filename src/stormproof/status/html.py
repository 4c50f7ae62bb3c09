"""The status page as HTML: one self-contained document, rendered on the
server from a :class:`~stormproof.status.document.PageDocument` (ADR 023).

No script, no font, no image, no external anything: inline styles only, so
it reads the same with scripts off, on a machine without internet, and as a
file opened from a copied folder (``stormproof status export``). States are
words with a symbol, never a colour alone; each day's bar carries its date
and figures as text. Jinja2 renders it with autoescaping on for every
value: incident titles and updates are operators' words, never markup.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from stormproof.status.document import DayOut, PageDocument
from stormproof.status.feed import anchor
from stormproof.status.jinja import environment
from stormproof.status.uptime import Day, level

__all__ = ["SERVED", "STATIC", "Links", "postmortem_file", "render_page"]

_STATES = {
    "operational": ("✓", "Operational"),
    "under_maintenance": ("⚒", "Under maintenance"),
    "degraded_performance": ("!", "Degraded performance"),
    "partial_outage": ("◑", "Partial outage"),
    "major_outage": ("✕", "Major outage"),
}
_HEADLINES = {"operational": "All systems operational"}
_COMPONENTS = {
    "sign_in": "Sign-in",
    "for_you": "For You",
    "playback": "Playback",
    "interactions": "Likes, comments and shares",
    "messages": "Messages",
    "uploads": "Uploads",
}


@dataclass(frozen=True)
class Links:
    """Where the page points to its machine-readable twins."""

    json: str
    feed: str
    #: a copy made by ``stormproof status export``, not a live page
    static: bool = False
    #: in a copy: the incidents whose published postmortem it holds
    postmortems: frozenset[str] = frozenset()

    def postmortem(self, incident_id: str, served: str) -> str | None:
        """Where an incident's published postmortem is read from the page
        (``served``: its address on a region); None: not in this copy."""
        if not self.static:
            return served
        return postmortem_file(incident_id) if incident_id in self.postmortems else None


def postmortem_file(incident_id: str, suffix: str = ".html") -> str:
    """A postmortem's file in a copy, beside ``index.html``."""
    return f"postmortem-{incident_id}{suffix}"


#: served by a region
SERVED = Links(json="/v1/status/page", feed="/status/feed.atom")
#: a folder written by ``stormproof status export``
STATIC = Links(json="status.json", feed="feed.atom", static=True)


@dataclass(frozen=True)
class Bar:
    level: str
    label: str


def render_page(document: PageDocument, *, now: dt.datetime, links: Links = SERVED) -> str:
    """The page, its relative times counted from ``now`` (aware, UTC)."""
    template = environment(html=True).get_template("status.html")
    return template.render(
        doc=document,
        links=links,
        now=now,
        bars=_bars(document),
        uptimes={found.component: found for found in document.uptime.components},
        region_uptimes={
            (found.component, r.region): r.uptime
            for found in document.uptime.components
            for r in found.regions
        },
        state=lambda name: _STATES.get(name, ("?", name)),
        headline=lambda name: _HEADLINES.get(name, _STATES.get(name, ("", name))[1]),
        component=lambda name: _COMPONENTS.get(name, name),
        when=_when,
        ago=lambda text: _ago(_parse(text), now),
        percent=_percent,
        anchor=anchor,
    )


def _bars(document: PageDocument) -> dict[str, list[Bar]]:
    """Each component's bars overall, one a day of the window, oldest first."""
    first = dt.date.fromisoformat(document.uptime.first_day)
    last = dt.date.fromisoformat(document.uptime.last_day)
    dates = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    bars = {}
    for found in document.uptime.components:
        by_date = {d.date: d for d in found.days}
        bars[found.component] = [_bar(date, by_date.get(date.isoformat())) for date in dates]
    return bars


def _bar(date: dt.date, found: DayOut | None) -> Bar:
    day = None if found is None else Day(date, **found.model_dump(exclude={"date"}))
    shade = level(day)
    if day is None:
        return Bar(shade, f"{date}: no data")
    if not day.down_ms and not day.partial_ms:
        return Bar(shade, f"{date}: no downtime")
    where = (
        "in some regions only"
        if not day.down_ms
        else "in every region"
        if not day.partial_ms
        else f"{_minutes(day.down_ms)} of it in every region"
    )
    total = _minutes(day.down_ms + day.partial_ms)
    return Bar(shade, f"{date}: down {total} ({day.share_down * 100:.2f} %), {where}")


def _minutes(ms: int) -> str:
    if 0 < ms < 60_000:
        return "under a minute"
    minutes = round(ms / 60_000)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _percent(share: float | None) -> str:
    """An uptime, never rounded up to 100 %: 99.999 % reads 99.99 %."""
    if share is None:
        return "no data"
    floored = math.floor(share * 10_000) / 100
    return "100 %" if floored >= 100 else f"{floored:.2f} %"


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _when(text: str) -> str:
    return _parse(text).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(moment: dt.datetime, now: dt.datetime) -> str:
    """How long before (or after) ``now``, in words, in its largest unit."""
    seconds = (now - moment).total_seconds()
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if abs(seconds) >= size:
            count = int(abs(seconds) // size)
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{words} ago" if seconds > 0 else f"in {words}"
    return "just now"
