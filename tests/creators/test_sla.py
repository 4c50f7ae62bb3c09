"""The creator SLA from probes and incidents: a creator whose uploads met an
outage gets its minutes, tier and credit; one who did not gets nothing;
lost views are estimated from their own history or said to be unknown; and
a region's closer posts each month's credit once (ADR 031)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stormproof.creators.closer import Closer
from stormproof.creators.impact import ImpactRates
from stormproof.creators.ledger import Rates, provisional_credit, statement
from stormproof.creators.sla import (
    DEFAULT_TIERS,
    Tier,
    credit_lines,
    credit_percent,
    lost_views,
    parse_tiers,
)
from stormproof.events import (
    EarningsEnrolled,
    Event,
    IncidentOpened,
    IncidentUpdated,
    Interaction,
    InteractionsRecorded,
    ProbeResult,
    ProbesRecorded,
    RequestsCounted,
    VideoUploaded,
    new_event,
)
from stormproof.log import Entry
from stormproof.region import Region
from stormproof.status.postmortem import draft
from stormproof.status.postmortem_render import render_markdown
from stormproof.views import all_views, incidents
from stormproof.views.store import ViewStore
from tests.conftest import make_settings

MINUTE, DAY = 60_000, 86_400_000
MONTH_START = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
MONTH_END = int(datetime(2024, 4, 1, tzinfo=UTC).timestamp() * 1000)
MONTH_MINUTES = 31 * 1440
#: the outage: 100 minutes from the 10th, 12:00
OUTAGE = MONTH_START + 9 * DAY + 12 * 60 * MINUTE
OUTAGE_MINUTES = 100
PERIOD = 10_000
RATES = Rates(rate_micros=1_000_000, qualified_ms=1000, currency="USD", tiers=DEFAULT_TIERS)


def _video(video_id: str, owner: str, created: int) -> Event:
    payload = VideoUploaded(
        video_id=video_id, owner_id=owner, caption="", blob="a" * 64, size=1,
        content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=2000,
        width=64, height=64, codec="h264",
    )  # fmt: skip
    return new_event(payload, actor=owner, at=created, id=f"up_{video_id}")


def _watch(video: str, viewer: str, at: int, n: int) -> Event:
    item = Interaction(type="watch", video_id=video, watched_ms=1500)
    return new_event(InteractionsRecorded(items=(item,)), actor=viewer, at=at, id=f"w{n}")


def _round(at: int, prober: str, *, for_you_ok: bool, touched: tuple[str, ...] = ()) -> Event:
    results = tuple(
        ProbeResult(region=r, component="for_you", ok=for_you_ok, latency_ms=5)
        for r in ("r1", "r2", "r3")
    )
    requests = (RequestsCounted(component="uploads", requests=3, errors=0, delayed=len(touched),
                                touched=touched),)  # fmt: skip
    payload = ProbesRecorded(
        prober=prober, round_at=at, period_ms=PERIOD, results=results, requests=requests
    )
    return new_event(payload, actor=f"sys_{prober}", at=at + 1, id=f"p_{prober}_{at}")


def history() -> list[Event]:
    """ann and bob both earn all month; ann's uploads met the outage of
    region r1's uploads (the surviving r2 acknowledged them late); For You
    failed everywhere for 5 minutes on the 20th; cat has had videos for weeks."""
    events = [
        _video("va", "u_ann", MONTH_START + 5 * DAY),
        _video("vb", "u_bob", MONTH_START - DAY),
        _video("vc", "u_cat", MONTH_START - 20 * DAY),
        new_event(EarningsEnrolled(enrolled=True), actor="u_ann", at=MONTH_START - DAY, id="ea"),
        new_event(EarningsEnrolled(enrolled=True), actor="u_bob", at=MONTH_START - DAY, id="eb"),
    ]
    n = 0
    for day in range(0, 31, 3):
        for video in ("va", "vb"):
            events.append(_watch(video, "u_zed", MONTH_START + day * DAY + 3600_000, n))
            n += 1
    for k in range(1, 8):  # cat: one view in the same hours of each of the previous 7 days
        events.append(_watch("vc", "u_zed", OUTAGE - k * DAY + 5 * MINUTE, n))
        n += 1
    opened = IncidentOpened(
        incident_id="inc_r1", title="Uploads down in r1", regions=("r1",),
        components=("uploads",), impact="major", began_at=OUTAGE, text="Uploads fail in r1.",
        automatic=True,
    )  # fmt: skip
    events.append(new_event(opened, actor="sys_r2", at=OUTAGE + 30_000, id="inc"))
    resolved = IncidentUpdated(
        incident_id="inc_r1", update_id="res", status="resolved", text="Uploads work again."
    )
    events.append(
        new_event(resolved, actor="sys_r2", at=OUTAGE + OUTAGE_MINUTES * MINUTE, id="res")
    )
    for prober in ("r2", "r3"):
        events.append(_round(OUTAGE + 60_000, prober, for_you_ok=True,
                             touched=("u_ann",) if prober == "r2" else ()))  # fmt: skip
        for k in range(30):  # 5 minutes of For You down in every region
            events.append(_round(MONTH_START + 19 * DAY + k * PERIOD, prober, for_you_ok=False))
    return events


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    store = ViewStore(tmp_path / "views.db", all_views(), partitions=1)
    store.apply([Entry(0, n + 1, f"k{n}", e) for n, e in enumerate(history())])
    try:
        yield store.reader()
    finally:
        store.close()


def test_the_creator_whose_uploads_met_the_outage_gets_its_minutes_and_credit(
    db: sqlite3.Connection,
) -> None:
    upload, distribution = credit_lines(
        db, "u_ann", MONTH_START, MONTH_END, MONTH_END, DEFAULT_TIERS
    )
    assert (upload.sli, upload.minutes, upload.minutes_down) == ("upload", MONTH_MINUTES, 100)
    # 44,540 of 44,640 minutes: 99.776 %, below 99.9 %: 10 %
    assert (upload.below_milli_percent, upload.credit_percent) == (99_900, 10)
    assert (distribution.minutes_down, distribution.credit_percent) == (5, 0)
    base, credit, _ = provisional_credit(db, "u_ann", MONTH_START, MONTH_END, MONTH_END, RATES)
    assert (base, credit) == (11 * 1000, 1100)  # 11 qualified views at 1,000,000 per 1,000

    # bob was never touched: the outage cost him nothing
    upload, distribution = credit_lines(
        db, "u_bob", MONTH_START, MONTH_END, MONTH_END, DEFAULT_TIERS
    )
    assert (upload.minutes_down, upload.credit_percent) == (0, 0)
    assert distribution.minutes_down == 5
    assert provisional_credit(db, "u_bob", MONTH_START, MONTH_END, MONTH_END, RATES)[1] == 0


def test_lost_views_come_from_the_same_hours_of_the_last_week(db: sqlite3.Connection) -> None:
    end = OUTAGE + OUTAGE_MINUTES * MINUTE
    cat = lost_views(db, "u_cat", OUTAGE, end, 1000)
    assert cat is not None and (cat.expected, cat.got, cat.lost) == (1.0, 0, 1)
    assert lost_views(db, "u_ann", OUTAGE, end, 1000) is None  # videos 5 days old: no history


def test_tiers_parse_and_the_deepest_crossed_counts() -> None:
    assert parse_tiers("99.9:10,99:25,95:100") == DEFAULT_TIERS
    with pytest.raises(ValueError):
        parse_tiers("99.9")
    tiers = (Tier(99_000, 25), Tier(99_900, 10))
    assert credit_percent(1000, 0, tiers) is None
    assert credit_percent(1000, 1, tiers) is None  # 99.9 % is not below 99.9 %
    assert credit_percent(1000, 2, tiers) == Tier(99_900, 10)
    assert credit_percent(1000, 11, tiers) == Tier(99_000, 25)


def test_a_closer_posts_each_months_credit_once() -> None:
    folder = Path(tempfile.mkdtemp(prefix="stormproof-closer-"))
    loop = asyncio.new_event_loop()
    settings = make_settings(
        folder, sla_close_after_s=3600, earnings_rate_micros=1_000_000, studio_qualified_ms=1000
    )
    region = Region.open(settings)
    try:
        loop.run_until_complete(region.start())
        loop.run_until_complete(region.caught_up())
        for n, event in enumerate(history()):
            loop.run_until_complete(region.log.append(f"k{n}", event))
        loop.run_until_complete(region.projector.catch_up())
        closer = Closer(region)
        # February (they opted in on its last day) closed long ago; March not an hour yet
        posted = loop.run_until_complete(closer.tick(MONTH_END + 1000))
        assert [(c.creator_id, c.period, c.credit_micros) for c in posted] == [
            ("u_ann", "2024-02", 0),
            ("u_bob", "2024-02", 0),
        ]
        loop.run_until_complete(region.projector.catch_up())
        posted = loop.run_until_complete(closer.tick(MONTH_END + 3600_000))
        assert [(c.creator_id, c.period, c.credit_micros) for c in posted] == [
            ("u_ann", "2024-03", 1100),
            ("u_bob", "2024-03", 0),
        ]
        loop.run_until_complete(region.projector.catch_up())
        assert loop.run_until_complete(closer.tick(MONTH_END + 7200_000)) == []
        rates = Rates(1_000_000, 1000, "USD", DEFAULT_TIERS)
        march = region.store.read_now(
            lambda db: statement(db, "u_ann", "2024-03", rates, MONTH_END + 7200_000)
        )
        assert march.closed and march.provisional_credit_micros is None
        (credit,) = [e for e in march.entries if e.kind == "credit"]
        assert credit.amount_micros == 1100 and credit.credit_lines is not None
        assert credit.credit_lines[0].minutes_down == 100
        assert march.closing_balance_micros == 11 * 1000 + 1100
    finally:
        loop.run_until_complete(region.close())
        loop.close()


def test_the_postmortem_lists_the_creators_the_outage_touched(db: sqlite3.Connection) -> None:
    found = incidents.incident(db, "inc_r1")
    assert found is not None
    rates = ImpactRates(qualified_ms=1000, rate_micros=1_000_000, period_ms=3 * DAY)
    pm = draft(db, found, rates)
    assert pm is not None
    (ann,) = pm.impact.creators  # bob's uploads never failed: not listed
    assert (ann.creator_id, ann.upload_minutes_down, ann.period_minutes) == ("u_ann", 100, 4320)
    assert ann.lost_qualified_views is None  # not enough history
    # 4,220 of 4,320 minutes up: 97.7 %, below 99 %: 25 % of one view's 1,000
    assert (ann.credit_percent, ann.credit_micros) == (25, 250)
    text = render_markdown(pm)
    assert (
        "Creators whose uploads failed or waited: 1; upload minutes they lost: 100 in all; "
        "qualified views they likely lost (against the same hours of the previous 7 days): "
        "not enough history to estimate; SLA credits this earns them: 250 millionths, against "
        "4,320 minutes."
    ) in text
    assert "ann" not in text  # public once published: it names nobody
