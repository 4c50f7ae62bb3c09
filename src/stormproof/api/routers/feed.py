"""The For You and Following feeds."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import time
from typing import Annotated

from fastapi import Query, Response
from pydantic import BaseModel

from stormproof.actions import social
from stormproof.api.deps import (
    Caller,
    Fresh,
    IdemKey,
    RegionDep,
    When,
    acknowledge,
    decode_cursor,
    encode_cursor,
)
from stormproof.api.routers import api_router
from stormproof.api.schemas import Ack, VideoOut, videos_out
from stormproof.errors import BadRequest
from stormproof.recommend.ranker import Pick, rank
from stormproof.views import follows, videos

__all__ = ["decode_feed_cursor", "encode_feed_cursor", "router"]

router = api_router(prefix="/v1/feed", tags=["feed"])

#: a cursor remembers this many served videos, by a prefix of their id, so it
#: stays a few kilobytes (proxies refuse long URLs); an older one may come back
_CURSOR_MEMORY = 300
_ID_PREFIX = 14


class Explanation(BaseModel):
    score: float
    #: which candidate sources offered the video: collaborative, followed,
    #: trending, fresh (the exposure ladder), catalog (filling a page), own
    sources: list[str]
    #: what the score was made of (relevance parts, predicted rates)
    signals: dict[str, float]
    #: your videos that made this one a collaborative candidate
    because_of: list[str]


class FeedItem(BaseModel):
    video: VideoOut
    explain: Explanation | None = None


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str | None


#: a cursor we give out stays well under this (300 short ids)
_CURSOR_MAX_CHARS = 8 * 1024


def decode_feed_cursor(cursor: str | None) -> list[str]:
    """The video id prefixes a For You cursor remembers; 400 ``invalid_cursor``
    for anything we did not give out (never another error, whatever the text)."""
    if not cursor:
        return []
    if len(cursor) > _CURSOR_MAX_CHARS or not cursor.isascii():
        raise BadRequest("this cursor is not one we gave out", code="invalid_cursor")
    try:
        served = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=="))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadRequest("this cursor is not one we gave out", code="invalid_cursor") from exc
    if not isinstance(served, list) or not all(isinstance(v, str) for v in served):
        raise BadRequest("this cursor is not one we gave out", code="invalid_cursor")
    return served


def encode_feed_cursor(served: list[str]) -> str:
    short = [video_id[:_ID_PREFIX] for video_id in served[-_CURSOR_MEMORY:]]
    raw = json.dumps(short, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@router.get("/for-you")
async def for_you_feed(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    cursor: str | None = None,
    explain: bool = False,
) -> FeedPage:
    """Videos you have not watched, skipped or hidden, best first. Pass
    ``next_cursor`` back for the next page; ``explain=1`` says why each is here."""
    served = decode_feed_cursor(cursor)
    now = int(time.time() * 1000)

    def read(db: sqlite3.Connection) -> FeedPage:
        picks = rank(
            region.engine,
            caller.user_id,
            limit=limit,
            now=now,
            exclude=served,
            exclude_prefix=_ID_PREFIX,
        )
        live = videos.live_videos(db, [pick.video_id for pick in picks])
        # A pick may have been deleted while the engine had not applied it yet.
        shown = [pick for pick in picks if pick.video_id in live]
        outs = videos_out(db, [live[pick.video_id] for pick in shown])
        items = [
            FeedItem(video=out, explain=_explanation(pick) if explain else None)
            for pick, out in zip(shown, outs, strict=True)
        ]
        next_cursor = encode_feed_cursor(served + [p.video_id for p in picks]) if picks else None
        return FeedPage(items=items, next_cursor=next_cursor)

    # On the event loop's thread: ranking is a few milliseconds of numpy and
    # the reads are indexed lookups, and a hop to a worker thread (then GIL
    # turns between threads) cost more than they do under concurrent load.
    return region.store.read_now(read)


def _explanation(pick: Pick) -> Explanation:
    return Explanation(
        score=pick.score,
        sources=list(pick.sources),
        signals=pick.signals,
        because_of=list(pick.because),
    )


@router.post("/for-you/reset")
async def reset_for_you(
    region: RegionDep, caller: Caller, response: Response, when: When, key: IdemKey = None
) -> Ack:
    """Start your For You over: what you did so far stops shaping it. Videos
    you have seen stay hidden; creators you follow stay followed."""
    written = await social.reset_for_you(region, caller.user_id, idempotency_key=key, when=when)
    return Ack(seq=acknowledge(response, region, written))


@router.get("/following")
async def following_feed(
    region: RegionDep,
    caller: Caller,
    _: Fresh,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    cursor: str | None = None,
) -> FeedPage:
    """Newest first, from the creators you follow."""
    before = decode_cursor(cursor)

    def read(db: sqlite3.Connection) -> FeedPage:
        owners = follows.followees(db, caller.user_id)
        found = videos.videos_by_owners(db, owners, before=before, limit=limit)
        items = [FeedItem(video=out) for out in videos_out(db, found)]
        last = found[-1] if len(found) == limit else None
        next_cursor = encode_cursor(last.created_at, last.video_id) if last else None
        return FeedPage(items=items, next_cursor=next_cursor)

    return await region.store.query(read)
