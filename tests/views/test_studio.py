"""A creator's analytics equal a brute-force recomputation from the raw
events, in any interleaving of the partitions, with system accounts counting
nowhere (ADR 030)."""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stormproof.creators.analytics import (
    RETENTION_STEPS,
    Figures,
    day_range,
    overview,
    video_report,
)
from stormproof.errors import Unprocessable
from stormproof.events import (
    WATCH_SOURCES,
    CommentPosted,
    Event,
    FollowStarted,
    FollowStopped,
    Interaction,
    InteractionsRecorded,
    Payload,
    VideoUploaded,
    new_event,
)
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.base import View as BaseView
from stormproof.views.engagement import WINDOW_MS
from stormproof.views.store import ViewStore
from stormproof.views.studio import StudioView, studio_view
from stormproof.views.studio_totals import QUALIFIED_LADDER, TOTALS_AFTER

#: three days around a change to summer time in New York (2024-03-10)
FIRST_DAY = date(2024, 3, 9)
ZONE = "America/New_York"
#: the zones the overview is read in: New York's change of clocks, +5:45,
#: +11 (a zone with half-hour summer time), UTC
ZONES = (ZONE, "Asia/Kathmandu", "Australia/Lord_Howe", "UTC")
BASE = int(datetime(2024, 3, 9, 0, 0, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000)
SPAN_MS = 3 * 24 * 3600 * 1000
CREATOR = "u_ann"
DURATIONS = {"v1": 3000, "v2": 0, "v3": 4000}  # v3 is someone else's
PEOPLE = ("u_bob", "u_cat", "sys_probe")
QUALIFIED_MS = 1000
FOLLOWS = ["follow", "unfollow"]


def _uploaded(video_id: str) -> VideoUploaded:
    owner = "u_bob" if video_id == "v3" else CREATOR
    return VideoUploaded(
        video_id=video_id, owner_id=owner, caption="", blob="a" * 64, size=1,
        content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=DURATIONS[video_id],
        width=64, height=64, codec="h264",
    )  # fmt: skip


@dataclass(frozen=True)
class Act:
    """One generated event: who, when (ms after BASE), what."""

    actor: str
    at: int
    kind: str
    video: str
    watched_ms: int = 0
    completed: bool = False
    source: str = "unknown"


acts = st.builds(
    Act,
    actor=st.sampled_from(PEOPLE),
    # mostly a few windows, where one person's watches share a view
    at=st.integers(0, 5).map(lambda n: n * WINDOW_MS // 2) | st.integers(0, SPAN_MS - 1),
    kind=st.sampled_from(["watch"] * 4 + ["like", "unlike", "share", "comment"] + FOLLOWS),
    video=st.sampled_from(sorted(DURATIONS)),
    watched_ms=st.integers(0, 5000),
    completed=st.booleans(),
    source=st.sampled_from(WATCH_SOURCES),
)  # fmt: skip


def _payload(act: Act, n: int) -> Payload:
    if act.kind == "comment":
        return CommentPosted(comment_id=f"c{n}", video_id=act.video, text="hi")
    if act.kind == "follow":
        return FollowStarted(followee_id=CREATOR)
    if act.kind == "unfollow":
        return FollowStopped(followee_id=CREATOR)
    item = Interaction(
        type=act.kind,  # type: ignore[arg-type]
        video_id=act.video,
        watched_ms=act.watched_ms,
        completed=act.completed,
        source=act.source,  # type: ignore[arg-type]
    )
    return InteractionsRecorded(items=(item,))


def _events(history: list[Act]) -> list[Event]:
    uploads = [
        new_event(_uploaded(v), actor=CREATOR, at=BASE - 1, id=f"up_{v}") for v in sorted(DURATIONS)
    ]
    acted = [
        new_event(_payload(act, n), actor=act.actor, at=BASE + act.at, id=f"e{n:03}")
        for n, act in enumerate(history)
    ]
    return uploads + acted


def _spread(events: list[Event], rng: random.Random) -> list[list[Entry]]:
    """The events over 3 partitions, some twice, the partitions interleaved in batches."""
    partitions: list[list[Entry]] = [[], [], []]
    for event in events:
        for p in rng.sample(range(3), 2 if rng.random() < 0.1 else 1):
            partitions[p].append(Entry(p, len(partitions[p]) + 1, f"k_{event.id}", event))
    batches, cursors = [], [0, 0, 0]
    while any(c < len(part) for c, part in zip(cursors, partitions, strict=True)):
        p = rng.choice([i for i in range(3) if cursors[i] < len(partitions[i])])
        size = rng.randint(1, 3)
        batches.append(partitions[p][cursors[p] : cursors[p] + size])
        cursors[p] += size
    return batches


# -- the brute force ----------------------------------------------------------


def _day(at: int, zone: str = ZONE) -> int:
    """The index of the day (New York's by default) an instant falls on, from FIRST_DAY."""
    return (datetime.fromtimestamp(at / 1000, ZoneInfo(zone)).date() - FIRST_DAY).days


@dataclass
class View:
    watched_ms: int
    completed: bool
    first: tuple[int, str]
    source: str


def _views(history: list[Act], videos: set[str]) -> dict[tuple[str, str, int], View]:
    """One view per (video, person, window) of people's watches."""
    views: dict[tuple[str, str, int], View] = {}
    for n, act in enumerate(history):
        if act.kind != "watch" or act.actor.startswith("sys_") or act.video not in videos:
            continue
        at = BASE + act.at
        key = (act.video, act.actor, at // WINDOW_MS)
        mine = (at, f"e{n:03}")
        old = views.get(key)
        if old is None:
            views[key] = View(act.watched_ms, act.completed, mine, act.source)
        else:
            old.watched_ms = max(old.watched_ms, act.watched_ms)
            old.completed = old.completed or act.completed
            if mine < old.first:
                old.first, old.source = mine, act.source
    return views


def _standing(history: list[Act], kinds: tuple[str, str], by_video: bool) -> dict[object, int]:
    """The time of each standing like (or follow) by its latest event."""
    latest: dict[object, tuple[int, str, bool]] = {}
    for n, act in enumerate(history):
        if act.kind not in kinds or act.actor.startswith("sys_"):
            continue
        key = (act.video, act.actor) if by_video else act.actor
        mark = (BASE + act.at, f"e{n:03}", act.kind == kinds[0])
        if key not in latest or mark[:2] > latest[key][:2]:
            latest[key] = mark
    return {key: at for key, (at, _, on) in latest.items() if on}


def _expected(
    history: list[Act], videos: set[str], days: int, qualified_ms: int = QUALIFIED_MS,
    zone: str = ZONE,
) -> list[dict[str, object]]:  # fmt: skip
    rows: list[dict[str, object]] = [
        {
            "views": 0,
            "qualified": 0,
            "viewers": set(),
            "watched": 0,
            "full": 0,
            "share": 0,
            "likes": 0,
            "comments": 0,
            "shares": set(),
            "followers": 0,
            "sources": Counter(),
            "steps": Counter(),
        }
        for _ in range(days + 1)  # the last: the whole range
    ]

    def rows_of(at: int) -> list[dict[str, object]]:
        day = _day(at, zone)
        return [rows[day], rows[days]] if 0 <= day < days else []

    for (video, viewer, window), view in _views(history, videos).items():
        duration = DURATIONS[video]
        full = view.completed or duration == 0
        watched = min(view.watched_ms, duration)
        for row in rows_of(window * WINDOW_MS):
            row["views"] += 1  # type: ignore[operator]
            row["qualified"] += view.completed or view.watched_ms >= qualified_ms  # type: ignore[operator]
            row["viewers"].add(viewer)  # type: ignore[attr-defined]
            row["watched"] += view.watched_ms  # type: ignore[operator]
            row["full"] += view.completed  # type: ignore[operator]
            row["share"] += 1_000_000 if full else watched * 1_000_000 // duration  # type: ignore[operator]
            row["sources"][view.source] += 1  # type: ignore[index]
            for step in range(RETENTION_STEPS):
                if full or 20 * watched >= step * duration:
                    row["steps"][step] += 1  # type: ignore[index]
    for (video, _), at in _standing(history, ("like", "unlike"), by_video=True).items():  # type: ignore[misc]
        if video in videos:
            for row in rows_of(at):
                row["likes"] += 1  # type: ignore[operator]
    for act in history:
        at = BASE + act.at
        if act.kind == "comment" and act.video in videos and not act.actor.startswith("sys_"):
            for row in rows_of(at):
                row["comments"] += 1  # type: ignore[operator]
        if act.kind == "share" and act.video in videos and not act.actor.startswith("sys_"):
            for row in rows_of(at // WINDOW_MS * WINDOW_MS):
                row["shares"].add((act.video, act.actor, at // WINDOW_MS))  # type: ignore[attr-defined]
    for at in _standing(history, ("follow", "unfollow"), by_video=False).values():
        for row in rows_of(at):
            row["followers"] += 1  # type: ignore[operator]
    return rows


def _check(figures: Figures, row: dict[str, object], *, creator: bool) -> None:
    views = row["views"]
    assert figures.views == views
    assert figures.qualified_views == row["qualified"]
    assert figures.unique_viewers == len(row["viewers"])  # type: ignore[arg-type]
    assert figures.watched_ms == row["watched"]
    assert figures.likes == row["likes"]
    assert figures.comments == row["comments"]
    assert figures.shares == len(row["shares"])  # type: ignore[arg-type]
    assert figures.new_followers == (row["followers"] if creator else None)
    assert {k: v for k, v in figures.sources.model_dump().items() if v} == dict(row["sources"])  # type: ignore[call-overload]
    if not views:
        assert figures.average_watched_ms is None and figures.watched_in_full_rate is None
        return
    assert figures.average_watched_ms == pytest.approx(row["watched"] / views)  # type: ignore[operator]
    assert figures.watched_in_full_rate == pytest.approx(row["full"] / views)  # type: ignore[operator]
    assert figures.average_share_watched == pytest.approx(row["share"] / 1e6 / views)  # type: ignore[operator]


Totals = tuple[dict[tuple[str, str, int], tuple[int, ...]], set[Any], set[Any], set[Any]]


def _totals(db: sqlite3.Connection) -> Totals:
    """The studio's totals by (owner or video, window), its (owner, window,
    viewer, the viewer's previous window of that owner), and who has totals:
    (owner, views, has totals) and (video, has totals)."""
    windows = {
        (table, key, bucket): tuple(rest)
        for table in ("studio_windows", "studio_hours", "studio_video_windows")
        for key, bucket, *rest in db.execute(f"SELECT * FROM {table}")
        if any(rest)
    }
    return (
        windows,
        set(db.execute("SELECT * FROM studio_viewers")),
        set(db.execute("SELECT * FROM studio_creators")),
        set(db.execute("SELECT video_id, totals FROM studio_videos")),
    )


def _totals_brute(history: list[Act], totals_after: int) -> Totals:
    """What the totals must be: every view of every video with at least
    ``totals_after`` views, added up by its own windows, and of every
    creator with that many, by the owner's."""
    owners = {v: _uploaded(v).owner_id for v in DURATIONS}
    views = _views(history, set(DURATIONS))
    by_video = Counter(video for video, _, _ in views)
    by_owner = Counter(owners[video] for video, _, _ in views)
    sums: dict[tuple[str, str, int], list[int]] = {}
    seen: dict[tuple[str, str], set[int]] = {}
    for (video, viewer, window), view in views.items():
        duration, owner = DURATIONS[video], owners[video]
        full = view.completed or duration == 0
        watched = min(view.watched_ms, duration)
        share = 1_000_000 if full else watched * 1_000_000 // duration
        step = 20 if full else watched * 20 // duration
        counts = [
            1, view.watched_ms, int(view.completed), share,
            *(int(view.completed or view.watched_ms >= ms) for ms in QUALIFIED_LADDER),
            *(int(view.source == s) for s in WATCH_SOURCES),
        ]  # fmt: skip
        steps = [int(k == step) for k in range(RETENTION_STEPS)]
        kept = []
        if by_owner[owner] >= totals_after:
            kept.append((("studio_windows", owner, window), counts))
            seen.setdefault((owner, viewer), set()).add(window)
        if by_video[video] >= totals_after:
            kept.append((("studio_video_windows", video, window), counts + steps))
        for key, added in kept:
            total = sums.setdefault(key, [0] * len(added))
            sums[key] = [a + b for a, b in zip(total, added, strict=True)]
    for (table, owner, window), total in list(sums.items()):
        if table == "studio_windows":  # and by hour, 6 windows each
            hour = sums.setdefault(("studio_hours", owner, window // 6), [0] * len(total))
            sums[("studio_hours", owner, window // 6)] = [
                a + b for a, b in zip(hour, total, strict=True)
            ]
    viewers = {
        (owner, window, viewer, max((w for w in windows if w < window), default=-1))
        for (owner, viewer), windows in seen.items()
        for window in windows
    }
    creators = {
        (owner, by_owner[owner], int(by_owner[owner] >= totals_after))
        for owner in set(owners.values())
    }
    videos = {(video, int(by_video[video] >= totals_after)) for video in DURATIONS}
    return {key: tuple(row) for key, row in sums.items()}, viewers, creators, videos


def _views_with(totals_after: int) -> list[BaseView]:
    """Every view, the studio keeping totals from ``totals_after`` views on."""
    return [
        studio_view(totals_after) if isinstance(view, StudioView) else view for view in all_views()
    ]


def _applied(path: Path, batches: list[list[Entry]], totals_after: int) -> ViewStore:
    store = ViewStore(path, _views_with(totals_after), partitions=3)
    for batch in batches:
        store.apply(batch)
    return store


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(acts, min_size=1, max_size=40),
    seed=st.integers(0, 2**32),
    zone=st.sampled_from(ZONES),
    # 1: every creator and video has totals; 2-5: they cross within the
    # history, in both orders; TOTALS_AFTER: none here
    totals_after=st.sampled_from([1, 2, 3, 5, TOTALS_AFTER]),
)
@example(  # one view of two watches: the first one's source holds, whichever lands first
    history=[
        Act("u_bob", 10, "watch", "v1", 900, False, "for_you"),
        Act("u_bob", 0, "watch", "v1", 2500, False, "profile"),
        Act("u_bob", 20, "watch", "v1", 100, True, "shared_link"),
    ],
    seed=1,
    zone=ZONE,
    totals_after=1,
)
@example(  # a viewer's later window applied first: the earlier one becomes its previous
    history=[
        Act("u_bob", 3 * WINDOW_MS, "watch", "v1", 900),
        Act("u_bob", 0, "watch", "v2", 900),
    ],
    seed=2,
    zone=ZONE,
    totals_after=1,
)
@example(  # Kathmandu's day ends at 18:15 UTC, in mid-hour: views in the hour's
    # windows before the end (18:05) and after it (18:25) fall on two days
    history=[
        Act("u_bob", 13 * 3600_000 + 5 * 60_000, "watch", "v1", 900),
        Act("u_cat", 13 * 3600_000 + 25 * 60_000, "watch", "v2", 900),
    ],
    seed=4,
    zone="Asia/Kathmandu",
    totals_after=1,
)
@example(  # a creator crosses with a view that grows later, and a second viewer
    history=[
        Act("u_bob", 0, "watch", "v1", 900),
        Act("u_cat", 3 * WINDOW_MS, "watch", "v2", 900),
        Act("u_bob", 10, "watch", "v1", 2500, True),
        Act("u_cat", 0, "watch", "v1", 100),
    ],
    seed=3,
    zone=ZONE,
    totals_after=2,
)
def test_analytics_equal_a_recomputation_from_the_events_in_any_order(
    history: list[Act], seed: int, zone: str, totals_after: int
) -> None:
    rng = random.Random(seed)
    events = _events(history)
    folder = Path(tempfile.mkdtemp(prefix="stormproof-studio-"))
    one = _applied(folder / "one.sqlite", _spread(events, rng), totals_after)
    two = _applied(folder / "two.sqlite", _spread(list(reversed(events)), rng), totals_after)
    assert one.digests()["views"]["studio"] == two.digests()["views"]["studio"]
    days = day_range("2024-03-09", "2024-03-11", zone=zone, today=FIRST_DAY)
    db = one.reader()
    found = overview(db, CREATOR, days, qualified_after_ms=QUALIFIED_MS)
    assert found == overview(two.reader(), CREATOR, days, qualified_after_ms=QUALIFIED_MS)
    expected = _expected(history, {"v1", "v2"}, 3, zone=zone)
    assert [d.date for d in found.days] == ["2024-03-09", "2024-03-10", "2024-03-11"]
    for figures, row in zip([*found.days, found.totals], expected, strict=True):
        _check(figures, row, creator=True)
    # the totals kept as the events apply (QUALIFIED_MS and 3000 are on
    # their ladder) and the rows read one by one (2500 is not) agree with it
    for threshold in (2500, 3000):
        found = overview(db, CREATOR, days, qualified_after_ms=threshold)
        expected = _expected(history, {"v1", "v2"}, 3, threshold, zone)
        for figures, row in zip([*found.days, found.totals], expected, strict=True):
            _check(figures, row, creator=True)
    assert _totals(db) == _totals_brute(history, totals_after)
    assert _totals(two.reader()) == _totals(db)
    report = video_report(db, "v1", DURATIONS["v1"], days, qualified_after_ms=QUALIFIED_MS)
    [*per_day, whole] = _expected(history, {"v1"}, 3, zone=zone)
    for figures, row in zip([*report.days, report.totals], [*per_day, whole], strict=True):
        _check(figures, row, creator=False)
    from_rows = video_report(db, "v1", DURATIONS["v1"], days, qualified_after_ms=2500)
    for figures, row in zip(
        [*from_rows.days, from_rows.totals], _expected(history, {"v1"}, 3, 2500, zone), strict=True
    ):
        _check(figures, row, creator=False)
    assert from_rows.retention == report.retention
    if whole["views"]:
        steps = whole["steps"]
        views = whole["views"]
        assert report.retention == pytest.approx([steps[k] / views for k in range(21)])  # type: ignore[index, operator]
    else:
        assert report.retention is None


def test_days_follow_the_time_zone_across_a_change_of_clocks() -> None:
    days = day_range("2024-03-10", "2024-03-10", zone=ZONE, today=FIRST_DAY)
    assert days.until - days.since == 23 * 3600 * 1000  # New York skips an hour that night


@pytest.mark.parametrize(
    ("first", "last", "code"),
    [
        ("2024-3-1", None, "invalid_date"),
        ("2024-02-30", None, "invalid_date"),
        ("\uff12\uff10\uff12\uff14-01-01", None, "invalid_date"),  # full-width digits
        ("0001-01-01", "0001-01-02", "date_out_of_range"),
        ("2024-03-02", "2024-03-01", "reversed_range"),
        ("2023-01-01", "2024-01-02", "range_too_long"),
    ],
)
def test_bad_ranges_are_refused_with_a_code(first: str, last: str | None, code: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        day_range(first, last, zone="UTC", today=date(2024, 3, 1))
    assert refused.value.code == code


def test_a_range_of_366_days_is_the_longest() -> None:
    days = day_range(None, "2024-12-31", zone="UTC", today=FIRST_DAY)
    assert days.first == date(2024, 12, 31) - timedelta(days=27)
    assert len(day_range("2024-01-01", "2024-12-31", zone="UTC", today=FIRST_DAY).dates()) == 366
