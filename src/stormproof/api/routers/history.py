"""``GET /v1/account/history``: the videos you watched, most recent first."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from stormproof.api.deps import Caller, Fresh, RegionDep, decode_cursor, encode_cursor
from stormproof.api.routers import api_router
from stormproof.api.schemas import VideoOut, videos_out
from stormproof.views import history, videos

router = api_router(prefix="/v1/account", tags=["accounts"])


class WatchedOut(BaseModel):
    video: VideoOut
    #: when you last watched it (unix ms)
    last_watched_at: int
    watches: int
    watched_ms: int
    completed: bool


class HistoryPage(BaseModel):
    items: list[WatchedOut]
    next_cursor: str | None


@router.get("/history")
async def watch_history(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> HistoryPage:
    """Only you see your history. Videos deleted since are left out; pass
    ``next_cursor`` back for the next page."""
    before = decode_cursor(cursor)

    def read(db: sqlite3.Connection) -> HistoryPage:
        rows = history.watch_history(db, caller.user_id, before=before, limit=limit)
        live = videos.live_videos(db, [row.video_id for row in rows])
        kept = [row for row in rows if row.video_id in live]
        outs = videos_out(db, [live[row.video_id] for row in kept])
        items = [
            WatchedOut(
                video=out,
                last_watched_at=row.last_at,
                watches=row.watches,
                watched_ms=row.watched_ms,
                completed=row.completions > 0,
            )
            for row, out in zip(kept, outs, strict=True)
        ]
        last = rows[-1] if len(rows) == limit else None
        next_cursor = encode_cursor(last.last_at, last.video_id) if last else None
        return HistoryPage(items=items, next_cursor=next_cursor)

    return await region.store.query(read)
