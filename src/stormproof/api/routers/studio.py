"""``/v1/studio``: a creator's analytics, for that creator only (ADR 030)."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Path, Query
from fastapi.responses import Response

from stormproof.api.deps import Caller, Fresh, RegionDep
from stormproof.api.routers import api_router
from stormproof.creators.analytics import (
    MAX_DAYS,
    DayFigures,
    DayRange,
    Overview,
    VideoReport,
    day_range,
    overview,
    video_report,
)
from stormproof.creators.ledger import zone_of
from stormproof.errors import Forbidden, NotFound
from stormproof.events import ID_PATTERN
from stormproof.region import Region

router = api_router(prefix="/v1/studio", tags=["studio"])

From = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=10,
        description="the first day, YYYY-MM-DD, in the creator's time zone (default: 27 days "
        f"before `to`); at most {MAX_DAYS} days from `from` to `to`",
    ),
]
To = Annotated[
    str | None,
    Query(alias="to", max_length=10, description="the last day, YYYY-MM-DD (default: today)"),
]
VideoId = Annotated[str, Path(pattern=f"^{ID_PATTERN}$")]

_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}
}


async def _days(region: Region, user_id: str, first: str | None, last: str | None) -> DayRange:
    """The days asked for, in the creator's time zone (``PUT /v1/studio/time-zone``)."""
    zone = (await region.store.query(lambda db: zone_of(db, user_id))).key
    return day_range(first, last, zone=zone, today=datetime.now(ZoneInfo(zone)).date())


@router.get("/overview")
async def studio_overview(
    region: RegionDep, caller: Caller, _: Fresh, first: From = None, last: To = None
) -> Overview:
    """Your figures over all your videos, by day: views, qualified views,
    unique viewers, watch time, share watched, watched-in-full rate, likes,
    comments, shares, new followers and traffic sources."""
    days = await _days(region, caller.user_id, first, last)
    qualified = region.settings.studio_qualified_ms
    return await region.store.query(
        lambda db: overview(db, caller.user_id, days, qualified_after_ms=qualified)
    )


@router.get("/export.csv", response_class=Response, responses=_CSV)
async def studio_overview_csv(
    region: RegionDep, caller: Caller, _: Fresh, first: From = None, last: To = None
) -> Response:
    """The days of ``/v1/studio/overview`` as CSV, one row a day."""
    return _csv((await studio_overview(region, caller, _, first, last)).days)


async def _report(region: Region, user_id: str, video_id: str, days: DayRange) -> VideoReport:
    qualified = region.settings.studio_qualified_ms

    def read(db: sqlite3.Connection) -> VideoReport:
        row = db.execute(
            "SELECT owner_id, duration_ms FROM videos WHERE video_id = ?", (video_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no video {video_id}", code="video_not_found")
        if row[0] != user_id:
            raise Forbidden("only its creator sees a video's analytics", code="not_your_video")
        return video_report(db, video_id, row[1], days, qualified_after_ms=qualified)

    return await region.store.query(read)


@router.get("/videos/{video_id}")
async def studio_video(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    video_id: VideoId,
    first: From = None,
    last: To = None,
) -> VideoReport:
    """One of your videos, by day, and its retention curve over the range
    (403 ``not_your_video`` for anyone else's)."""
    return await _report(
        region, caller.user_id, video_id, await _days(region, caller.user_id, first, last)
    )


@router.get("/videos/{video_id}/export.csv", response_class=Response, responses=_CSV)
async def studio_video_csv(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    video_id: VideoId,
    first: From = None,
    last: To = None,
) -> Response:
    """The days of ``/v1/studio/videos/{video_id}`` as CSV, one row a day."""
    report = await _report(
        region, caller.user_id, video_id, await _days(region, caller.user_id, first, last)
    )
    return _csv(report.days)


def _csv(days: list[DayFigures]) -> Response:
    """One row a day, the columns of :class:`DayFigures` (sources as
    ``source_<name>``); an empty cell for a figure that is None."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header: list[str] = []
    for day in days:
        flat = day.model_dump()
        date, sources = flat.pop("date"), flat.pop("sources")
        if not header:
            header = ["date", *flat, *(f"source_{name}" for name in sources)]
            writer.writerow(header)
        values = [date, *flat.values(), *sources.values()]
        writer.writerow(["" if value is None else value for value in values])
    return Response(out.getvalue(), media_type="text/csv")
