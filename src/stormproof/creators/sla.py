"""The creator SLA: two indicators per creator, in minutes, and the credits
their monthly uptime earns (issue 15; ADR 031). Computed when read from the
status view (probe verdicts, the people each region's request counts name)
and the incidents view; nothing here writes.

- **Upload availability.** A minute is down for a creator when one of
  their own upload attempts failed (answered 5xx or not at all) or was
  acknowledged late after an attempt that failed somewhere — the people
  each region's request counts name as touched for ``uploads``, in the
  stretch that round's counts cover — and through every minute of an
  incident of the uploads component during which that happened to them:
  the creator met the outage, and could not rely on uploading until it
  ended. A creator who never met it is not counted down.
- **Distribution availability.** A minute is down when For You failed in
  every region judged in a round covering it: nobody could be shown a
  video. A region that is down while others serve For You costs no
  distribution minute (clients fail over: that is the platform's promise).

A minute is one of the period's whole minutes, from its start; it is down
when any down stretch overlaps it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stormproof.events import CreditLine
from stormproof.views import incidents as incidents_view
from stormproof.views import studio

__all__ = [
    "DEFAULT_TIERS",
    "HISTORY_DAYS",
    "MINUTE_MS",
    "LostViews",
    "Tier",
    "credit_lines",
    "credit_percent",
    "distribution_down",
    "lost_views",
    "met_incidents",
    "minutes_of",
    "parse_tiers",
    "qualified",
    "upload_down",
]

MINUTE_MS = 60_000
#: incidents looked at for one period, at most (the latest opened)
_INCIDENTS = 1000
#: the longest period a probe round may stand for (``ProbesRecorded.period_ms``)
_LONGEST_PERIOD_MS = 3_600_000


@dataclass(frozen=True)
class Tier:
    """Uptime below ``below_milli_percent`` thousandths of a percent earns
    ``credit_percent`` of the period's earnings."""

    below_milli_percent: int
    credit_percent: int


DEFAULT_TIERS = (Tier(99_900, 10), Tier(99_000, 25), Tier(95_000, 100))


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """``"99.9:10,99:25,95:100"`` → tiers; ValueError for anything else."""
    tiers = []
    for part in text.split(","):
        below, sep, credit = part.strip().partition(":")
        if not sep:
            raise ValueError("a tier is UPTIME:CREDIT, as 99.9:10")
        whole, _, fraction = below.partition(".")
        if not (whole.isdigit() and (not fraction or fraction.isdigit()) and len(fraction) <= 3):
            raise ValueError("a tier's uptime is a percent with at most 3 decimals")
        milli = int(whole) * 1000 + int(fraction.ljust(3, "0") or 0)
        if not (credit.isdigit() and 0 < int(credit) <= 100 and 0 <= milli <= 100_000):
            raise ValueError("a tier's uptime is in (0, 100] and its credit in 1..100 percent")
        tiers.append(Tier(milli, int(credit)))
    return tuple(sorted(tiers, key=lambda t: -t.below_milli_percent))


def credit_percent(minutes: int, down: int, tiers: Sequence[Tier]) -> Tier | None:
    """The tier the uptime ``(minutes - down) / minutes`` fell below that
    earns the most, None if none."""
    crossed = [t for t in tiers if (minutes - down) * 100_000 < t.below_milli_percent * minutes]
    return max(crossed, key=lambda t: t.credit_percent, default=None)


def minutes_of(stretches: Iterable[tuple[int, int]], since: int, until: int) -> set[int]:
    """The minutes of ``[since, until)`` (as their index from ``since``)
    that any stretch ``[a, b)`` overlaps."""
    minutes: set[int] = set()
    for a, b in stretches:
        a, b = max(a, since), min(b, until)
        if a < b:
            minutes.update(range((a - since) // MINUTE_MS, (b - 1 - since) // MINUTE_MS + 1))
    return minutes


def _touched(db: sqlite3.Connection, creator: str, since: int, until: int) -> list[tuple[int, int]]:
    """The stretches in which ``creator``'s uploads failed or were delayed:
    each round that named them covers the period before it (so rounds up to
    the longest period a round may have after ``until`` are read)."""
    rows = db.execute(
        "SELECT t.round_at, MIN(r.period_ms) FROM probe_touched t JOIN probe_rounds r "
        "ON r.round_at = t.round_at AND r.prober = t.prober "
        "WHERE t.user_id = ? AND t.component = 'uploads' AND t.round_at > ? AND t.round_at <= ? "
        "GROUP BY t.round_at ORDER BY t.round_at",
        (creator, since, until + _LONGEST_PERIOD_MS),
    ).fetchall()
    return [(at - period, at) for at, period in rows]


def _upload_incidents(db: sqlite3.Connection, since: int, now: int) -> list[tuple[int, int]]:
    found = []
    for incident in incidents_view.incidents(db, limit=_INCIDENTS):
        touches_uploads = "uploads" in incident.components or any(
            "uploads" in update.components for update in incident.updates
        )
        end = incident.resolved_at if incident.resolved_at is not None else now
        if touches_uploads and end > since:
            found.append((incident.began_at, end))
    return found


def upload_down(
    db: sqlite3.Connection, creator: str, since: int, until: int, now: int
) -> list[tuple[int, int]]:
    """The stretches of ``[since, until)`` (up to ``now``) in which
    ``creator`` could not upload (see the module's docstring)."""
    own = _touched(db, creator, since, min(until, now))
    met = [
        (a, b) for a, b in _upload_incidents(db, since, now) if any(x < b and a < y for x, y in own)
    ]
    return own + met


def distribution_down(db: sqlite3.Connection, since: int, until: int) -> list[tuple[int, int]]:
    """The rounds of ``[since, until)`` in which For You failed in every region judged."""
    rows = db.execute(
        "SELECT v.round_at, (SELECT MIN(period_ms) FROM probe_rounds r "
        "WHERE r.round_at = v.round_at) FROM probe_verdicts v "
        "WHERE v.component = 'for_you' AND v.round_at >= ? AND v.round_at < ? "
        "GROUP BY v.round_at HAVING MIN(v.failing) = 1",
        (since, until),
    ).fetchall()
    return [(at, at + (period or MINUTE_MS)) for at, period in rows]


def credit_lines(
    db: sqlite3.Connection, creator: str, since: int, until: int, now: int,
    tiers: Sequence[Tier],
) -> list[CreditLine]:  # fmt: skip
    """Both indicators of ``creator`` over ``[since, until)``, counted up to
    ``now`` (the minutes elapsed, while the period is open), with the tier
    each crossed."""
    end = min(until, now)
    minutes = max(1, -(-(end - since) // MINUTE_MS))
    lines = []
    for sli, stretches in (
        ("upload", upload_down(db, creator, since, end, now)),
        ("distribution", distribution_down(db, since, end)),
    ):
        down = len(minutes_of(stretches, since, end))
        tier = credit_percent(minutes, down, tiers)
        lines.append(
            CreditLine(
                sli=sli,  # type: ignore[arg-type]
                minutes=minutes,
                minutes_down=down,
                below_milli_percent=tier.below_milli_percent if tier else 0,
                credit_percent=tier.credit_percent if tier else 0,
            )
        )
    return lines


DAY_MS = 86_400_000
#: days of history an estimate of lost views reads
HISTORY_DAYS = 7


@dataclass(frozen=True)
class LostViews:
    """What an outage likely cost a creator: their qualified views in the
    same hours of the previous days, on average, less what they got."""

    expected: float
    got: int
    lost: int


def qualified(
    db: sqlite3.Connection, creator: str, since: int, until: int, qualified_ms: int
) -> int:
    """``creator``'s qualified views whose windows start in ``[since, until)``."""
    return sum(n for _, n in studio.qualified_by_window(db, creator, since, until, qualified_ms))


def lost_views(
    db: sqlite3.Connection, creator: str, since: int, until: int, qualified_ms: int
) -> LostViews | None:
    """The estimate over ``[since, until)`` from the same hours of the
    previous :data:`HISTORY_DAYS` days; None ("not enough history") when the
    creator had no video yet at the first of them."""
    rows = db.execute(
        "SELECT video_id, created_at FROM videos WHERE owner_id = ?", (creator,)
    ).fetchall()
    start = since - HISTORY_DAYS * DAY_MS
    if not any(created <= start for _, created in rows):
        return None
    before = sum(
        qualified(db, creator, since - k * DAY_MS, until - k * DAY_MS, qualified_ms)
        for k in range(1, HISTORY_DAYS + 1)
    )
    expected = before / HISTORY_DAYS
    got = qualified(db, creator, since, until, qualified_ms)
    return LostViews(expected, got, max(0, round(expected) - got))


def met_incidents(
    db: sqlite3.Connection, creator: str, since: int, until: int, now: int
) -> list[incidents_view.Incident]:
    """The incidents of ``[since, until)`` that cost ``creator`` minutes:
    the uploads incidents they met and every For You incident."""
    own = _touched(db, creator, since, min(until, now))
    found = []
    for incident in incidents_view.incidents(db, limit=_INCIDENTS):
        end = incident.resolved_at if incident.resolved_at is not None else now
        if end <= since or incident.began_at >= until:
            continue
        components = set(incident.components).union(
            *(update.components for update in incident.updates)
        )
        met = "uploads" in components and any(x < end and incident.began_at < y for x, y in own)
        if met or "for_you" in components:
            found.append(incident)
    return sorted(found, key=lambda i: (i.began_at, i.incident_id))
