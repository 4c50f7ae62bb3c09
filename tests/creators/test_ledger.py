"""The ledger's invariant under generated histories: the balance equals the
sum of every statement's entries, each month opens where the last closed,
and both equal a brute-force recomputation from the raw events — whatever
order three partitions arrive in, with some events delivered twice (a retry
that reached two regions, a partition replayed after its region came back).
(ADR 031.)"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stormproof.creators.ledger import Rates, balance, statement
from stormproof.creators.sla import DEFAULT_TIERS
from stormproof.events import (
    CreditLine,
    CreditPosted,
    EarningsEnrolled,
    EarningsRateSet,
    Event,
    Interaction,
    InteractionsRecorded,
    LedgerAdjusted,
    Payload,
    PayoutSent,
    TimeZoneSet,
    VideoUploaded,
    new_event,
)
from stormproof.views.engagement import WINDOW_MS
from stormproof.views.studio_totals import TOTALS_AFTER
from tests.views.test_studio import _applied, _spread

ZONE = "America/New_York"
#: the creator's zone: New York; London, whose clocks go forward on the 31st;
#: Kathmandu at +5:45; St. John's at -2:30 (every day on its own boundaries,
#: counted by SQLite from offsets, creators/offsets.py)
ZONES = (ZONE, "Europe/London", "Asia/Kathmandu", "America/St_Johns")
#: two days across the end of March 2024 from noon on the 30th, New York
#: time: London's clocks go forward in them (01:00 UTC on the 31st)
BASE = int(datetime(2024, 3, 30, 12, 0, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000)
SPAN_MS = 2 * 24 * 3600 * 1000
PERIODS = ("2024-03", "2024-04")
CREATOR = "u_ann"
RATES = Rates(rate_micros=1234, qualified_ms=1000, currency="USD", tiers=DEFAULT_TIERS)
#: 1000 ms is on the totals' ladder; 1500 is not (counted from the rows)
THRESHOLDS = (1000, 1500)


@dataclass(frozen=True)
class Act:
    kind: str
    at: int
    actor: str = "u_bob"
    video: str = "v1"
    watched_ms: int = 0
    amount: int = 1
    flag: bool = False
    #: a rate's instant of effect, from BASE (may be before or after ``at``)
    effective: int = 0


_at = st.integers(0, 6).map(lambda n: n * WINDOW_MS // 2) | st.integers(0, SPAN_MS - 1)
acts = st.one_of(
    st.builds(Act, kind=st.just("watch"), at=_at, actor=st.sampled_from(["u_bob", "u_cat"]),
              video=st.sampled_from(["v1", "v2", "v9"]), watched_ms=st.integers(0, 3000)),
    st.builds(Act, kind=st.just("enroll"), at=_at, flag=st.booleans()),
    st.builds(Act, kind=st.just("adjust"), at=_at, amount=st.integers(-5000, 5000).filter(bool)),
    st.builds(Act, kind=st.just("payout"), at=_at, amount=st.integers(1, 5000)),
    st.builds(Act, kind=st.just("credit"), at=_at, amount=st.integers(0, 10**6),
              flag=st.booleans()),
    st.builds(Act, kind=st.just("rate"), at=_at, amount=st.integers(0, 10**7),
              effective=_at | st.integers(-SPAN_MS, 0)),
)  # fmt: skip


def _uploaded(video: str, owner: str) -> VideoUploaded:
    return VideoUploaded(
        video_id=video, owner_id=owner, caption="", blob="a" * 64, size=1,
        content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=2000,
        width=64, height=64, codec="h264",
    )  # fmt: skip


def _credit(act: Act, n: int) -> CreditPosted:
    line = CreditLine(
        sli="upload", minutes=100, minutes_down=3, below_milli_percent=99_000, credit_percent=25
    )
    return CreditPosted(
        creator_id=CREATOR, period=PERIODS[act.flag], since=1, until=2,
        base_micros=act.amount, lines=(line,), credit_micros=act.amount * 25 // 100,
        region=f"r{n % 3}",
    )  # fmt: skip


def _payload(act: Act, n: int) -> tuple[Payload, str]:
    """The payload and its actor."""
    match act.kind:
        case "watch":
            item = Interaction(type="watch", video_id=act.video, watched_ms=act.watched_ms)
            return InteractionsRecorded(items=(item,)), act.actor
        case "enroll":
            return EarningsEnrolled(enrolled=act.flag), CREATOR
        case "adjust":
            return LedgerAdjusted(
                adjustment_id=f"a{n}", creator_id=CREATOR, amount_micros=act.amount, reason="r"
            ), "u_olga"
        case "payout":
            return PayoutSent(payout_id=f"p{n}", creator_id=CREATOR, amount_micros=act.amount), (
                "u_olga"
            )
        case "rate":
            rate = EarningsRateSet(
                rate_micros=act.amount, effective_from=BASE + act.effective, reason="r"
            )
            return rate, "u_olga"
    return _credit(act, n), ""


def _events(history: list[Act], zone: str = ZONE) -> list[Event]:
    setup = [
        new_event(_uploaded("v1", CREATOR), actor=CREATOR, at=BASE - 2, id="up1"),
        new_event(_uploaded("v2", CREATOR), actor=CREATOR, at=BASE - 2, id="up2"),
        new_event(_uploaded("v9", "u_bob"), actor="u_bob", at=BASE - 2, id="up9"),
        new_event(TimeZoneSet(zone=zone), actor=CREATOR, at=BASE - 1, id="tz"),
    ]
    made = []
    for n, act in enumerate(history):
        payload, actor = _payload(act, n)
        # every instant distinct: an enrolment and its undoing never share one
        made.append(new_event(payload, actor=actor, at=BASE + act.at + n, id=f"e{n:03}"))
    return setup + made


# -- the brute force ----------------------------------------------------------


def _expected(history: list[Act], zone_name: str, rates: Rates) -> tuple[int, dict[str, int]]:
    """The balance, and the qualified views earning by local day."""
    events = _events(history, zone_name)
    changes = sorted(
        (e.at, e.id, e.data.enrolled) for e in events if isinstance(e.data, EarningsEnrolled)
    )

    def enrolled_during(start: int, end: int) -> bool:
        state = False
        for at, _, on in changes:
            if at >= end:
                break
            if at <= start:
                state = on
            elif on:
                return True
        return state

    views: dict[tuple[str, str, int], bool] = {}
    for e in events:
        if isinstance(e.data, InteractionsRecorded):
            (item,) = e.data.items
            if item.video_id == "v9":
                continue
            key = (item.video_id, e.actor, e.at // WINDOW_MS)
            views[key] = views.get(key, False) or item.watched_ms >= rates.qualified_ms
    # for each instant the latest rate set (by time, id) holds; a window
    # earns at the rate in force at its start, the setting before any
    latest: dict[int, tuple[int, str, int]] = {}
    for e in events:
        if isinstance(e.data, EarningsRateSet):
            mark = (e.at, e.id, e.data.rate_micros)
            latest[e.data.effective_from] = max(latest.get(e.data.effective_from, mark), mark)

    def rate_at(start: int) -> int:
        found = rates.rate_micros
        for effective in sorted(latest):
            if effective <= start:
                found = latest[effective][2]
        return found

    days: Counter[object] = Counter()  # per local day: qualified views
    earned: Counter[object] = Counter()  # and those views times their rates
    zone = ZoneInfo(zone_name)
    for (_, _, window), qualified in views.items():
        start = window * WINDOW_MS
        if qualified and enrolled_during(start, start + WINDOW_MS):
            day = datetime.fromtimestamp(start / 1000, zone).date()
            days[day] += 1
            earned[day] += rate_at(start)
    total = sum(micros // 1000 for micros in earned.values())
    earliest: dict[str, tuple[int, str, int]] = {}
    for e in events:
        match e.data:
            case LedgerAdjusted(amount_micros=amount):
                total += amount
            case PayoutSent(amount_micros=amount):
                total -= amount
            case CreditPosted(period=period, credit_micros=credit):
                mark = (e.at, e.id, credit)
                earliest[period] = min(earliest.get(period, mark), mark)
    balance = total + sum(credit for _, _, credit in earliest.values())
    return balance, {str(day): count for day, count in days.items()}


@settings(max_examples=40, deadline=None)
@given(
    history=st.lists(acts, max_size=25),
    seed=st.integers(0, 2**32 - 1),
    zone=st.sampled_from(ZONES),
    threshold=st.sampled_from(THRESHOLDS),
    # the creator gets totals within the history (2, 4) or never (TOTALS_AFTER)
    totals_after=st.sampled_from([1, 2, 4, TOTALS_AFTER]),
)
@example(  # a view just before the opt-in, in its window, earns; one before does not
    history=[
        Act("watch", 0, watched_ms=2000),
        Act("watch", WINDOW_MS - 5, actor="u_cat", watched_ms=999),
        Act("enroll", WINDOW_MS - 3, flag=True),
        Act("enroll", 2 * WINDOW_MS, flag=False),
        Act("watch", 3 * WINDOW_MS, watched_ms=2000),
        Act("credit", 5, amount=1000),
        Act("credit", 2, amount=5000),
    ],
    seed=3,
    zone=ZONE,
    threshold=1000,
    totals_after=2,
)
@example(  # a rate from mid-window applies from the next window; the later set holds
    history=[
        Act("enroll", 0, flag=True),
        Act("watch", 1000, watched_ms=2000),
        Act("rate", 2000, amount=7_000_000, effective=WINDOW_MS // 2),
        Act("watch", WINDOW_MS + 1, actor="u_cat", watched_ms=2000),
        Act("rate", 3000, amount=1_000_001, effective=2 * WINDOW_MS),
        Act("rate", 4000, amount=3_333_333, effective=2 * WINDOW_MS),
        Act("watch", 2 * WINDOW_MS + 1, watched_ms=2000),
    ],
    seed=5,
    zone=ZONE,
    threshold=1000,
    totals_after=2,
)
@example(  # 23:30 UTC on the 31st is 00:30 on April 1st in London, summer time since 01:00
    history=[Act("enroll", 0, flag=True), Act("watch", 63 * 1800 * 1000, watched_ms=2000)],
    seed=1,
    zone="Europe/London",
    threshold=1500,
    totals_after=1,
)
def test_the_balance_is_the_sum_of_every_entry(
    history: list[Act], seed: int, zone: str, threshold: int, totals_after: int
) -> None:
    rng = random.Random(seed)
    rates = replace(RATES, qualified_ms=threshold)
    events = _events(history, zone)
    folder = Path(tempfile.mkdtemp(prefix="stormproof-ledger-"))
    one = _applied(folder / "one.sqlite", _spread(events, rng), totals_after)
    two = _applied(folder / "two.sqlite", _spread(list(reversed(events)), rng), totals_after)
    try:
        for name in ("ledger", "creator_settings", "studio"):
            assert one.digests()["views"][name] == two.digests()["views"][name]
        db = one.reader()
        now = BASE + SPAN_MS + 86_400_000
        march, april = (statement(db, CREATOR, p, rates, now) for p in PERIODS)
        held = balance(db, CREATOR, rates, now)
        assert held == balance(two.reader(), CREATOR, rates, now)
    finally:
        one.close()
        two.close()
    assert march.opening_balance_micros == 0
    assert april.opening_balance_micros == march.closing_balance_micros
    for found in (march, april):
        moved = sum(e.amount_micros for e in found.entries)
        assert found.closing_balance_micros == found.opening_balance_micros + moved
        assert found.closed == any(e.kind == "credit" for e in found.entries)
    expected, by_day = _expected(history, zone, rates)
    assert held == april.closing_balance_micros == expected
    accrued = [e for s in (march, april) for e in s.entries if e.kind == "accrual"]
    assert {e.date: e.qualified_views for e in accrued} == by_day
