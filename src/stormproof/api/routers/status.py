"""The platform's status as this region's views hold it: ``GET /v1/status``
(states), ``GET /v1/status/page`` (the whole page as JSON), ``GET /status``
(the page, HTML) and ``GET /status/feed.atom`` (incidents, Atom).

Public, and answered even while this region catches up (ADR 020, 023): a
status page must be served by every region still standing, and the one
people reach during an outage may well be replaying the log. Its answer
then says it may be behind (``fresh: false``, and the position its views
stand at); the other regions' answers, at the same position, are the same.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from fastapi import Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from stormproof.api.deps import Fresh, RegionDep
from stormproof.api.routers import api_router
from stormproof.api.routers.incidents import IncidentOut, incident_out
from stormproof.api.routers.maintenance import WindowOut, window_out
from stormproof.region import Region
from stormproof.status import read_page
from stormproof.status.document import PageDocument, StatusOut, read_document, status_out
from stormproof.status.feed import render_feed
from stormproof.status.html import SERVED, render_page
from stormproof.status.maintenance import under_maintenance
from stormproof.views import incidents

__all__ = ["router"]

router = api_router(tags=["status"])

#: the page may load its own inline styles and nothing else: no script, no
#: request anywhere (stricter than the edge's policy for HTML)
_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _fresh(region: Region) -> bool:
    """Whether the views are caught up and applying: else the answer may be behind."""
    return region.ready and (region.failure or region.projector.error) is None


class PlatformStatusOut(StatusOut):
    incidents: list[IncidentOut] = Field(
        description="open incidents, the latest opened first, each with its last update"
    )
    maintenance: list[WindowOut] = Field(description="maintenance scheduled or in progress")


@router.get("/v1/status")
async def platform_status(region: RegionDep, _: Fresh) -> PlatformStatusOut:
    """Each component's state, overall and in each region, from every
    region's probes: a component of a region fails a round when most probers
    saw it fail or could not reach it, is down after ``fail_rounds`` failing
    rounds in a row and back after ``pass_rounds`` passing ones. States are
    Statuspage's: operational, degraded_performance, partial_outage (down in
    some regions), major_outage, under_maintenance (a maintenance window in
    progress holds it). Open incidents and maintenance come with it. No
    sign-in needed."""
    settings = region.settings
    fail_rounds, pass_rounds = settings.probe_fail_rounds, settings.probe_pass_rounds
    now = int(time.time() * 1000)

    def read(db: sqlite3.Connection) -> PlatformStatusOut:
        db.execute("BEGIN")  # one position for every read
        try:
            page = read_page(db, fail_rounds=fail_rounds, pass_rounds=pass_rounds)
            windows = incidents.windows(db, ending_after=now)
            open_ = incidents.open_incidents(db, limit=100)
            position = region.store.position(db)
        finally:
            db.execute("COMMIT")
        status = status_out(
            under_maintenance(page, windows, now),
            region=region.name,
            fresh=_fresh(region),
            position=position,
            fail_rounds=fail_rounds,
            pass_rounds=pass_rounds,
        )
        return PlatformStatusOut(
            **vars(status),
            incidents=[incident_out(i, last_only=True) for i in open_],
            maintenance=[window_out(w, now) for w in windows],
        )

    return await region.store.query(read)


async def _document(region: Region) -> PageDocument:
    settings = region.settings
    return await region.store.query(
        lambda db: read_document(
            db,
            region=region.name,
            fresh=_fresh(region),
            position_of=region.store.position,
            fail_rounds=settings.probe_fail_rounds,
            pass_rounds=settings.probe_pass_rounds,
            now=int(time.time() * 1000),
        )
    )


@router.get("/v1/status/page")
async def status_page_json(region: RegionDep, _: Fresh) -> PageDocument:
    """Everything the status page shows: the states (as ``GET /v1/status``),
    90 days of uptime per component overall and per region, incidents and
    scheduled maintenance. What ``stormproof status export --from`` reads.
    No sign-in needed."""
    return await _document(region)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(region: RegionDep, _: Fresh) -> HTMLResponse:
    """The status page: HTML, no script, nothing loaded from anywhere."""
    document = await _document(region)
    html = render_page(document, now=datetime.now(UTC), links=SERVED)
    headers = {"Content-Security-Policy": _PAGE_CSP, "Cache-Control": "no-cache"}
    return HTMLResponse(html, headers=headers)


@router.get("/status/feed.atom", include_in_schema=False)
async def status_feed(region: RegionDep, _: Fresh) -> Response:
    """Incidents and maintenance, an entry per update, as Atom 1.0."""
    document = await _document(region)
    base = region.settings.url.rstrip("/")
    feed = render_feed(
        document,
        self_href=f"{base}/status/feed.atom",
        page_href=f"{base}/status",
        now=datetime.now(UTC),
    )
    return Response(
        feed, media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )  # fmt: skip
