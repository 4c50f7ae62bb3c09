"""A creator's analytics, by day in their time zone, computed when read from
the views (ADR 030).

Every figure is a function of the log and of three read-time choices — the
days asked for, the creator's time zone, and the qualifying watch time — so
two regions that applied the same entries answer the same, and changing a
time zone or the threshold rewrites nothing.

**Definitions** (:mod:`stormproof.views.studio` says what one view is):

- a view falls on the day its 10-minute window starts;
- *qualified*: watched for at least the threshold, or to the end;
- *share watched* of a view: its watch time over the video's duration, at
  most 1, in millionths rounded down; 1 when it completed or the video has
  no duration;
- *retention* at step k (k = 0…20, every 5 %): the share of views whose
  share watched reached k / 20;
- likes, comments and new followers fall on the day they were made and
  count while they stand (a like taken back, a comment deleted, a follow
  stopped does not count); shares as the engagement view counts them.
"""

from __future__ import annotations

import re
import sqlite3
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from stormproof.errors import Unprocessable
from stormproof.views import studio, studio_reads, studio_totals
from stormproof.views.engagement import WINDOW_MS
from stormproof.views.studio_reads import Window

__all__ = [
    "MAX_DAYS",
    "RETENTION_STEPS",
    "DayFigures",
    "DayRange",
    "Figures",
    "Overview",
    "Sources",
    "VideoReport",
    "day_range",
    "overview",
    "video_report",
]

#: the longest range of days one request may ask for
MAX_DAYS = 366
#: retention is given at 0 %, 5 %, … 100 % of a video
RETENTION_STEPS = studio_totals.STEPS
#: shares watched are counted in millionths
_MILLIONTH = 1_000_000
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: dates asked for lie in these years: their days' times fit every event's
_FIRST_DAY, _LAST_DAY = date(1970, 1, 2), date(9998, 12, 31)


@dataclass(frozen=True)
class DayRange:
    """Consecutive days of one time zone, and where each begins (unix ms)."""

    first: date
    zone: str
    #: the start of each day, then the end of the last
    starts: tuple[int, ...]

    @property
    def since(self) -> int:
        return self.starts[0]

    @property
    def until(self) -> int:
        return self.starts[-1]

    @property
    def last(self) -> date:
        return self.first + timedelta(days=len(self.starts) - 2)

    def dates(self) -> list[str]:
        return [(self.first + timedelta(days=n)).isoformat() for n in range(len(self.starts) - 1)]

    def day_of(self, at: int) -> int | None:
        """The index of the day ``at`` falls on, None outside the range."""
        if not self.since <= at < self.until:
            return None
        return bisect_right(self.starts, at) - 1


def _parse(text: str, what: str) -> date:
    if not _DATE.fullmatch(text):
        raise Unprocessable(f"{what} is a date, YYYY-MM-DD", code="invalid_date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Unprocessable(f"{what} is no date: {text}", code="invalid_date") from None
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise Unprocessable(
            f"{what} lies between {_FIRST_DAY} and {_LAST_DAY}", code="date_out_of_range"
        )
    return day


def day_range(first: str | None, last: str | None, *, zone: str, today: date) -> DayRange:
    """The days from ``first`` to ``last`` (inclusive, YYYY-MM-DD) in
    ``zone``; by default the 28 days ending ``today``. 422 with a code for a
    date that is not one, a reversed range, or more than :data:`MAX_DAYS`."""
    end = _parse(last, "to") if last else min(max(today, _FIRST_DAY), _LAST_DAY)
    begin = _parse(first, "from") if first else max(end - timedelta(days=27), _FIRST_DAY)
    if begin > end:
        raise Unprocessable("from comes after to", code="reversed_range")
    if (end - begin).days + 1 > MAX_DAYS:
        raise Unprocessable(f"at most {MAX_DAYS} days at a time", code="range_too_long")
    tz = ZoneInfo(zone)
    days = [begin + timedelta(days=n) for n in range((end - begin).days + 2)]
    midnights = (datetime.combine(d, datetime.min.time(), tz) for d in days)
    starts = tuple(int(midnight.timestamp() * 1000) for midnight in midnights)
    return DayRange(begin, zone, starts)


class Sources(BaseModel):
    """Views by where their first watch came from, as the client said."""

    for_you: int = 0
    following: int = 0
    profile: int = 0
    shared_link: int = 0
    #: clients that did not say, and every watch before they could
    unknown: int = 0


class Figures(BaseModel):
    """A creator's or a video's figures over some days."""

    views: int
    qualified_views: int
    unique_viewers: int
    watched_ms: int
    #: None without views
    average_watched_ms: float | None
    average_share_watched: float | None = Field(description="0 to 1; None without views")
    watched_in_full_rate: float | None = Field(description="0 to 1; None without views")
    likes: int
    comments: int
    shares: int
    #: a creator's new followers; None for a video
    new_followers: int | None
    sources: Sources


class DayFigures(Figures):
    #: YYYY-MM-DD, in the creator's time zone
    date: str


class Overview(BaseModel):
    """A creator's figures, over all their videos, by day."""

    creator_id: str
    time_zone: str
    qualified_after_ms: int = Field(description="a view qualifies watched this long, or to the end")
    videos: int
    totals: Figures
    days: list[DayFigures]


class VideoReport(BaseModel):
    """One video's figures by day, and its retention over the range."""

    video_id: str
    duration_ms: int
    time_zone: str
    qualified_after_ms: int
    totals: Figures
    days: list[DayFigures]
    retention: list[float] | None = Field(
        description=f"{RETENTION_STEPS} shares of views, 0 to 1: those that watched at least "
        "0 %, 5 %, … 100 % of the video; None without views"
    )


@dataclass
class _Tally:
    """What one day (or the whole range) adds up to, as it is counted."""

    views: int = 0
    qualified: int = 0
    viewers: set[str] = field(default_factory=set)
    watched_ms: int = 0
    completed: int = 0
    share_millionths: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    followers: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    #: views by the highest retention step they reached
    reached: Counter[int] = field(default_factory=Counter)
    #: unique viewers when counted elsewhere than in ``viewers``
    unique_viewers: int | None = None

    def add_window(self, window: Window) -> None:
        """Add what some windows' views add up to."""
        self.views += window.views
        self.qualified += window.qualified
        self.watched_ms += window.watched
        self.completed += window.completed
        self.share_millionths += window.share_millionths
        self.sources.update(window.sources)
        self.reached.update({step: n for step, n in enumerate(window.reached) if n})

    def figures(self, *, creator: bool) -> Figures:
        views = self.views
        return Figures(
            views=views,
            qualified_views=self.qualified,
            unique_viewers=(
                len(self.viewers) if self.unique_viewers is None else self.unique_viewers
            ),
            watched_ms=self.watched_ms,
            average_watched_ms=self.watched_ms / views if views else None,
            average_share_watched=self.share_millionths / _MILLIONTH / views if views else None,
            watched_in_full_rate=self.completed / views if views else None,
            likes=self.likes,
            comments=self.comments,
            shares=self.shares,
            new_followers=self.followers if creator else None,
            sources=Sources(**self.sources),
        )

    def retention(self) -> list[float] | None:
        if not self.views:
            return None
        still, curve = self.views, []
        for step in range(RETENTION_STEPS):
            curve.append(still / self.views)
            still -= self.reached[step]
        return curve


class _Days:
    """A tally per day of a range, and one for the whole range."""

    def __init__(self, days: DayRange) -> None:
        self.range = days
        self.days = [_Tally() for _ in days.dates()]
        self.total = _Tally()

    def tallies(self, at: int) -> Iterable[_Tally]:
        day = self.range.day_of(at)
        return () if day is None else (self.days[day], self.total)

    def count(self, db: sqlite3.Connection, qualified_ms: int, *, creator_id: str = "",
              video_id: str = "") -> None:  # fmt: skip
        """Views, likes, comments and shares of every video of ``creator_id``,
        or of ``video_id``, added up by day and over the range by SQLite —
        from the studio's totals by window where it keeps them and
        ``qualified_ms`` is on their ladder (time in proportion to the
        range's windows), else from the views' rows (a creator or a video
        with fewer than ``totals_after`` views, or a threshold off the
        ladder): the same figures either way (ADR 030, amendments) — and
        likes, comments and shares read with their times."""
        since, until = self.range.since, self.range.until
        first = [-(-at // WINDOW_MS) for at in self.range.starts]
        days = list(pairwise(first))  # they follow one another: the range adds them up
        spans = [*days, (first[0], first[-1])]
        if video_id:
            found = studio_reads.video_spans(db, video_id, days, qualified_ms)
            viewers = studio_reads.video_viewers(db, video_id, spans)
            liked = studio.liked_at(db, video_id, since, until)
            commented = studio.commented_at(db, video_id, since, until)
            shared = studio.shared_at(db, video_id, since, until)
        else:
            found = studio_reads.creator_spans(db, creator_id, days, qualified_ms)
            per_day, whole = studio_reads.creator_viewers(db, creator_id, days)
            viewers = [*per_day, whole]
            liked = studio.owner_liked_at(db, creator_id, since, until)
            commented = studio.owner_commented_at(db, creator_id, since, until)
            shared = studio.owner_shared_at(db, creator_id, since, until)
        tallies = [*self.days, self.total]
        for i, window in found.items():
            self.days[i].add_window(window)
            self.total.add_window(window)
        for tally, count in zip(tallies, viewers, strict=True):
            tally.unique_viewers = count
        for at in liked:
            for tally in self.tallies(at):
                tally.likes += 1
        for at in commented:
            for tally in self.tallies(at):
                tally.comments += 1
        for at in shared:
            for tally in self.tallies(at):
                tally.shares += 1

    def by_day(self, *, creator: bool) -> list[DayFigures]:
        return [
            DayFigures(date=day, **tally.figures(creator=creator).model_dump())
            for day, tally in zip(self.range.dates(), self.days, strict=True)
        ]


def overview(
    db: sqlite3.Connection, creator_id: str, days: DayRange, *, qualified_after_ms: int
) -> Overview:
    """A creator's figures over every video they uploaded (deleted ones too:
    their views happened) and their new followers, by day."""
    tallies = _Days(days)
    (videos,) = db.execute(
        "SELECT COUNT(*) FROM videos WHERE owner_id = ?", (creator_id,)
    ).fetchone()
    tallies.count(db, qualified_after_ms, creator_id=creator_id)
    for at in studio.followed_at(db, creator_id, days.since, days.until):
        for tally in tallies.tallies(at):
            tally.followers += 1
    return Overview(
        creator_id=creator_id,
        time_zone=days.zone,
        qualified_after_ms=qualified_after_ms,
        videos=videos,
        totals=tallies.total.figures(creator=True),
        days=tallies.by_day(creator=True),
    )


def video_report(
    db: sqlite3.Connection, video_id: str, duration_ms: int, days: DayRange, *,
    qualified_after_ms: int,
) -> VideoReport:  # fmt: skip
    """One video's figures by day and its retention curve over the range."""
    tallies = _Days(days)
    tallies.count(db, qualified_after_ms, video_id=video_id)
    return VideoReport(
        video_id=video_id,
        duration_ms=duration_ms,
        time_zone=days.zone,
        qualified_after_ms=qualified_after_ms,
        totals=tallies.total.figures(creator=False),
        days=tallies.by_day(creator=False),
        retention=tallies.total.retention(),
    )
