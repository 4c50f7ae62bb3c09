"""Earnings and studio reads: how long a creator's balance, month
statement, SLA, studio overview and one video's report take to compute when
read (ADR 030, 031), against how many views they have.

Builds a views file through the real view store: one creator enrolled, with
``--videos`` videos and ``--watches`` qualified views spread over the 30
days before now (``--batch`` per event, 100 by default, each event a
different viewer), then times
each read ``--reads`` times on one connection and prints p50 and p99 in ms.
``--compare`` also times the overview counted from every view of the range
(a qualifying threshold off the totals' ladder), 3 times.

``--totals-after N`` builds with a studio view that keeps totals for a
creator or a video from its N-th view on (1: all of them; a large N: none;
default: the view's own, ``studio_totals.TOTALS_AFTER``), to compare reads
from totals with reads from the views' rows at one size.

``--profile`` then runs the overview ``--reads`` times under cProfile and
prints the functions it spent most time in (own time), to see where a
read goes.

``--keep DIR`` builds into ``DIR`` and leaves it there (with the instant
taken as now and ``--totals-after``); ``--reuse DIR`` times the reads of a file built so, without
building (the views' schemas must not have changed since: the store would
start it over, empty).

Usage: PYTHONPATH=src .venv/bin/python benchmarks/ledger_reads.py [--videos 1000]
       [--watches 100000] [--batch 100] [--reads 20] [--compare]
       [--totals-after N] [--profile] [--keep DIR | --reuse DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from stormproof.api.routers.earnings import sla_of
from stormproof.creators.analytics import day_range, overview, video_report
from stormproof.creators.ledger import Rates, balance, month_bounds, statement, this_month
from stormproof.creators.sla import DEFAULT_TIERS
from stormproof.events import (
    EarningsEnrolled,
    Interaction,
    InteractionsRecorded,
    VideoUploaded,
    new_event,
)
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.base import View
from stormproof.views.store import ViewStore
from stormproof.views.studio import StudioView, studio_view
from stormproof.views.studio_totals import TOTALS_AFTER

CREATOR = "u_creator"
DAY_MS = 86_400_000
RATES = Rates(rate_micros=500_000, qualified_ms=5000, currency="USD", tiers=DEFAULT_TIERS)


def views_with(totals_after: int) -> list[View]:
    """Every view, the studio keeping totals from ``totals_after`` views on."""
    if totals_after == TOTALS_AFTER:
        return all_views()
    studio = studio_view(totals_after)
    return [studio if isinstance(view, StudioView) else view for view in all_views()]


def build(
    folder: Path, videos: int, watches: int, now: int, batch: int = 100,
    totals_after: int = TOTALS_AFTER,
) -> ViewStore:  # fmt: skip
    store = ViewStore(folder / "views.sqlite", views_with(totals_after), partitions=1)
    start = now - 30 * DAY_MS
    entries = []

    def add(event: object) -> None:
        entries.append(Entry(0, len(entries) + 1, f"k{len(entries)}", event))  # type: ignore[arg-type]

    add(new_event(EarningsEnrolled(enrolled=True), actor=CREATOR, at=start - 1, id="enrolled"))
    for n in range(videos):
        payload = VideoUploaded(
            video_id=f"v{n}", owner_id=CREATOR, caption="", blob="a" * 64, size=1,
            content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=10_000,
            width=64, height=64, codec="h264",
        )  # fmt: skip
        add(new_event(payload, actor=CREATOR, at=start - 2, id=f"up{n}"))
    rng = random.Random(1)
    for n in range(watches // batch):
        items = tuple(
            Interaction(type="watch", video_id=f"v{rng.randrange(videos)}", watched_ms=6000)
            for _ in range(batch)
        )
        at = start + rng.randrange(30 * DAY_MS)
        add(new_event(InteractionsRecorded(items=items), actor=f"u_{n}", at=at, id=f"w{n}"))
    for chunk in range(0, len(entries), 1000):
        store.apply(entries[chunk : chunk + 1000])
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--watches", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--totals-after", type=int, default=TOTALS_AFTER)
    parser.add_argument("--profile", action="store_true")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", type=Path, help="build into this folder and keep it")
    kept.add_argument("--reuse", type=Path, help="time the reads of a folder built with --keep")
    args = parser.parse_args()
    if args.reuse:
        folder = args.reuse
        now = int((folder / "now").read_text())
        totals_after = int((folder / "totals_after").read_text())
        store = ViewStore(folder / "views.sqlite", views_with(totals_after), partitions=1)
        print(f"reusing {folder} (now = {now})")
    else:
        now = int(time.time() * 1000)
        folder = args.keep or Path(tempfile.mkdtemp(prefix="stormproof-ledger-bench-"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "now").write_text(str(now))
        (folder / "totals_after").write_text(str(args.totals_after))
        began = time.perf_counter()
        store = build(folder, args.videos, args.watches, now, args.batch, args.totals_after)
        print(f"built {args.videos:,} videos, {args.watches:,} watches "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
    db = store.reader()
    from zoneinfo import ZoneInfo

    period = this_month(now, ZoneInfo("UTC"))
    since, until = month_bounds(period, ZoneInfo("UTC"))
    today = datetime.fromtimestamp(now / 1000, UTC).date()
    days = day_range(None, None, zone="UTC", today=today)  # the 28 days to today
    q = RATES.qualified_ms
    reads = {
        "balance": lambda: balance(db, CREATOR, RATES, now),
        "statement (this month)": lambda: statement(db, CREATOR, period, RATES, now),
        "sla (this month)": lambda: sla_of(db, CREATOR, period, since, until, now, RATES),
        "studio overview (28 d)": lambda: overview(db, CREATOR, days, qualified_after_ms=q),
        "one video (28 d)": lambda: video_report(db, "v0", 10_000, days, qualified_after_ms=q),
    }
    if args.compare:  # off the ladder: every view of the range, one by one
        reads["overview from rows"] = lambda: overview(db, CREATOR, days, qualified_after_ms=4999)
    views = overview(db, CREATOR, days, qualified_after_ms=q).totals
    print(f"overview: {views.views:,} views, {views.unique_viewers:,} viewers in 28 days")
    for name, read in reads.items():
        times = []
        for _ in range(3 if name == "overview from rows" else args.reads):
            t = time.perf_counter()
            read()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(f"{name:24} p50 {statistics.median(times):8.1f} ms   p99 {p99:8.1f} ms")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.reads):
            reads["studio overview (28 d)"]()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    store.close()
    if not (args.keep or args.reuse):
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
