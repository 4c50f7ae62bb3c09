"""The numbers an automatic incident update carries, read from the status
view, and the words it says them in (ADR 021).

Every figure is one the platform recorded: probe results, each region's own
count of people's requests (and of uploads refused or delayed, and the
creators they touched: ADR 025), the people a region served in the 15
minutes before its last round, and what a restoring region's health said
about its catch-up. A figure nobody recorded is ``None`` and is said as unknown — an
ETA above all: "no ETA yet", never a guess.

The reads are of the status view's tables (``views/status.py``), each
bounded by the window's rounds and an index on ``round_at``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from stormproof.events import Figures, RegionRequests

__all__ = ["capitalized_names_of", "describe", "figures_for", "names_of", "uploads_between", "utc"]

#: how components are named to people
_NAMES = {
    "sign_in": "sign-in",
    "for_you": "For You",
    "playback": "playback",
    "interactions": "likes and comments",
    "messages": "messages",
    "uploads": "uploads",
}


def names_of(components: Sequence[str]) -> str:
    """``sign-in, For You and playback``."""
    named = [_NAMES.get(c, c) for c in components]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def capitalized_names_of(components: Sequence[str]) -> str:
    """``Sign-in, For You and playback``, as a sentence begins: the first
    letter raised, the rest as named (``str.capitalize`` would say "For you")."""
    said = names_of(components)
    return said[:1].upper() + said[1:]


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S UTC")


def figures_for(
    db: sqlite3.Connection, region: str, components: Sequence[str], *, since: int, until: int
) -> Figures:
    """What the status view holds about ``region`` over the rounds from
    ``since`` to ``until`` (an incident that began at ``since``)."""
    marks = ",".join("?" * len(components))
    probes, failed = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(ok = 0), 0) FROM probe_results "
        f"WHERE round_at BETWEEN ? AND ? AND region = ? AND component IN ({marks})",
        (since, until, region, *components),
    ).fetchone()
    requests = [
        RegionRequests(region=prober, requests=served, errors=errors)
        for prober, served, errors in db.execute(
            "SELECT prober, SUM(requests), SUM(errors) FROM probe_requests "
            "WHERE round_at BETWEEN ? AND ? GROUP BY prober ORDER BY prober",
            (since, until),
        )
    ]
    active = db.execute(
        "SELECT active_people FROM probe_rounds WHERE prober = ? AND round_at < ? "
        "ORDER BY round_at DESC LIMIT 1",
        (region, since),
    ).fetchone()
    remaining, eta = _catch_up(db, region, until)
    refused, delayed, creators = uploads_between(db, since, until)
    return Figures(
        region=region,
        since=since,
        until=until,
        probes=probes,
        probes_failed=failed,
        requests=tuple(requests),
        active_people=None if active is None else active[0],
        catch_up_remaining=remaining,
        catch_up_eta_s=None if remaining is None else eta,
        uploads_refused=refused,
        uploads_delayed=delayed,
        creators_touched=creators,
    )


def uploads_between(
    db: sqlite3.Connection, since: int, until: int
) -> tuple[int | None, int | None, int | None]:
    """Uploads every region counted as refused (5xx or no answer) and as
    delayed over the rounds from ``since`` to ``until``, and the distinct
    people whose uploads were either; all None when no round of the window
    counted delayed writes (no prober counted uploads so, or none reported)."""
    refused, delayed = db.execute(
        "SELECT SUM(errors), SUM(delayed) FROM probe_requests "
        "WHERE round_at BETWEEN ? AND ? AND component = 'uploads'",
        (since, until),
    ).fetchone()
    if delayed is None:
        return None, None, None
    (creators,) = db.execute(
        "SELECT COUNT(DISTINCT user_id) FROM probe_touched "
        "WHERE round_at BETWEEN ? AND ? AND component = 'uploads'",
        (since, until),
    ).fetchone()
    return int(refused), int(delayed), int(creators)


def _catch_up(db: sqlite3.Connection, region: str, until: int) -> tuple[int | None, int | None]:
    """What ``region``'s health said of its catch-up in the latest round
    that reached it (the first prober in name order that saw it catching up),
    if it was catching up then."""
    latest = db.execute(
        "SELECT MAX(round_at) FROM probe_regions WHERE region = ? AND round_at <= ? "
        "AND reachable = 1",
        (region, until),
    ).fetchone()[0]
    row = db.execute(
        "SELECT remaining, eta_s FROM probe_regions WHERE region = ? AND round_at = ? "
        "AND reachable = 1 AND ready = 0 AND remaining IS NOT NULL ORDER BY prober LIMIT 1",
        (region, latest),
    ).fetchone()
    if row is None:
        return None, None
    return int(row[0]), None if row[1] is None else int(row[1])


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def describe(figures: Figures, *, outage: bool = True) -> str:
    """The figures in words, for people; ``outage``: the region is still
    down, so say how its return stands (an ETA, or none yet)."""
    f = figures
    minutes = max(1, round((f.until - f.since) / 60_000))
    said = [
        f"From {utc(f.since)} to {utc(f.until)} ({minutes} min), {f.probes_failed:,} of "
        f"{f.probes:,} probe checks of {f.region} failed ({_percent(f.probes_failed, f.probes)})."
    ]
    if f.requests:
        served = "; ".join(
            f"{r.region} served {r.requests:,}, {r.errors:,} failed "
            f"({_percent(r.errors, r.requests)})"
            for r in f.requests
        )
        said.append(f"People's requests: {served}.")
    if f.uploads_refused is not None and f.uploads_delayed is not None:
        creators = f.creators_touched or 0
        said.append(
            f"Uploads: {f.uploads_refused:,} refused and {f.uploads_delayed:,} delayed, "
            f"touching {creators:,} creator{'' if creators == 1 else 's'}."
        )
    if f.active_people is not None:
        said.append(
            f"{f.active_people:,} people were active on {f.region} in the 15 minutes before."
        )
    if f.catch_up_remaining is not None:
        eta = "no ETA yet" if f.catch_up_eta_s is None else f"about {f.catch_up_eta_s:,} s left"
        said.append(
            f"{f.region} is back and catching up: {f.catch_up_remaining:,} log entries "
            f"to apply, {eta}."
        )
    elif outage:
        said.append("No ETA yet.")
    return " ".join(said)
