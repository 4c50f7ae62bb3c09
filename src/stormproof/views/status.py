"""The status view: every prober's results, and each round's verdicts (ADR 020).

Each region's prober appends one ``probes.recorded`` per round: every
component of every region it checked, what each region's health said, its
own region's request counts (with delayed writes and the people touched:
ADR 025) and active people. The view keeps all of it,
keyed by what it is about — (round, prober, region, component) for a
result — so every region holds the same rows whatever order the partitions
arrive in. Should two events ever say different things under one key (a
prober that ran a round twice under two keys), the rows merge by a fixed
rule (the worse result, the larger count), never by arrival.

**Verdicts.** A component of a region *fails a round* when a strict
majority of the round's voters count against it (:func:`judge`):

- the probers that reported that round vote, each once;
- a prober that reports a failing result votes against; a passing one, for;
- a prober that reported the round but has no result at all for the region
  votes against: it could not reach it (or would not say), and a frozen or
  cut-off region must not be judged by itself alone;
- a prober that reached the region (results for other components) but did
  not check this component that round abstains: uploads are probed less
  often than every round, and not checking is not failing.

What is judged in a round: every component some prober checked that round
(anywhere), in every region some prober named (a result, or its health
check) — except a component of a region that probers reached but none
checked there. So a region nobody could reach fails every component checked
elsewhere, a region only itself can reach is down (its vote is one of
three), and a prober cut off from the rest cannot make the others down on
its own (its vote is one of three too). A tie is not a majority: with two
voters who disagree, the component passes.

Whenever a result of a round arrives, that round's verdicts are computed
again from every stored row of the round and stored (``probe_verdicts``): a
late result re-judges its round, the same way in every region. (Once per
batch of the log: the rounds that got results are judged when the view
store flushes, so a rebuild judges a round once, not once per prober.) States (the
flap guard, "major outage since…") are not stored: they depend on settings,
which may differ by region, so :mod:`stormproof.status` computes them when
read, from the verdicts of the last rounds.

As it judges a round, the view keeps each day's uptime up to date
(:mod:`stormproof.views.uptime`): the 90-day bars of the status page read
a row a day. It keeps every result too, forever: nothing compacts them
(ADR 023 says why pruning them is not yet safe).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import stormproof.views.uptime as uptime
from stormproof.events import ProbesRecorded
from stormproof.log import Entry
from stormproof.views.base import View

__all__ = [
    "Judged",
    "Round",
    "Seen",
    "StatusView",
    "Verdict",
    "boundary",
    "first_round_after",
    "judge",
    "judged_pairs",
    "newest_round",
    "probers",
    "recent_rounds",
    "recent_verdicts",
    "regions_seen",
    "round_period",
    "rounds_between",
]

# On a second copy of a key, keep the worse: a failure before a pass, then
# the slower, then the reason first in order — a fixed rule, not arrival.
_RESULT = """
INSERT INTO probe_results VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET ok = excluded.ok, latency_ms = excluded.latency_ms,
    reason = excluded.reason
WHERE (excluded.ok, -excluded.latency_ms, excluded.reason) < (ok, -latency_ms, reason)
"""
_SEEN = """
INSERT INTO probe_regions VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET reachable = excluded.reachable, ready = excluded.ready,
    remaining = excluded.remaining, eta_s = excluded.eta_s
WHERE (excluded.reachable, excluded.ready, -COALESCE(excluded.remaining, -1),
       -COALESCE(excluded.eta_s, -1))
    < (reachable, ready, -COALESCE(remaining, -1), -COALESCE(eta_s, -1))
"""
_COUNTED = """
INSERT INTO probe_requests VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET requests = excluded.requests, errors = excluded.errors,
    delayed = excluded.delayed
WHERE (excluded.requests, excluded.errors, COALESCE(excluded.delayed, -1))
    > (requests, errors, COALESCE(delayed, -1))
"""
_TOUCHED = "INSERT INTO probe_touched VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
_ROUND = """
INSERT INTO probe_rounds VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET period_ms = MIN(period_ms, excluded.period_ms),
    active_people = MAX(active_people, excluded.active_people),
    written_at = MAX(written_at, excluded.written_at)
"""
_PROBER = """
INSERT INTO probers VALUES (?, ?)
ON CONFLICT DO UPDATE SET last_round_at = MAX(last_round_at, excluded.last_round_at)
"""
_PROBED = """
INSERT INTO probed VALUES (?, ?, ?)
ON CONFLICT DO UPDATE SET rounds = rounds + excluded.rounds
"""
_VERDICT = """
INSERT INTO probe_verdicts VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO UPDATE SET failing = excluded.failing, against = excluded.against,
    voters = excluded.voters
"""


@dataclass(frozen=True)
class Judged:
    """A verdict of one round, as :func:`judge` gives it."""

    region: str
    component: str
    failing: bool
    #: probers that saw it fail or could not reach the region
    against: int
    #: probers that reported the round, less those that abstained
    voters: int


def judge(
    probers: Collection[str],
    results: Iterable[tuple[str, str, str, bool]],
    named: Iterable[str] = (),
) -> list[Judged]:
    """The verdicts of one round: ``probers`` reported it, ``results`` are
    its (prober, region, component, ok), ``named`` the regions their health
    checks named; see the module's docstring. Sorted by region and component."""
    reached: dict[str, set[str]] = {}
    checks: dict[tuple[str, str], dict[str, bool]] = {}
    for prober, region, component, ok in results:
        reached.setdefault(region, set()).add(prober)
        checks.setdefault((region, component), {})[prober] = ok
    components = sorted({component for _, component in checks})
    verdicts = []
    for region in sorted(reached.keys() | set(named)):
        for component in components:
            by = checks.get((region, component), {})
            if not by and region in reached:
                continue  # reached, but nobody checked it there this round
            abstaining = reached.get(region, set()) - by.keys()
            voters = [p for p in probers if p not in abstaining]
            against = sum(1 for p in voters if not by.get(p, False))
            failing = 2 * against > len(voters)
            verdicts.append(Judged(region, component, failing, against, len(voters)))
    return verdicts


class StatusView(View):
    name = "status"
    tables = (
        "probe_rounds",
        "probe_results",
        "probe_regions",
        "probe_requests",
        "probe_touched",
        "probe_verdicts",
        "probers",
        "probed",
        *uptime.TABLES,
    )
    schema = (
        uptime.SCHEMA
        + """
    CREATE TABLE IF NOT EXISTS probe_rounds (
        round_at INTEGER NOT NULL,
        prober TEXT NOT NULL,
        period_ms INTEGER NOT NULL,
        active_people INTEGER NOT NULL,
        written_at INTEGER NOT NULL,
        PRIMARY KEY (round_at, prober)
    );
    CREATE TABLE IF NOT EXISTS probe_results (
        round_at INTEGER NOT NULL,
        prober TEXT NOT NULL,
        region TEXT NOT NULL,
        component TEXT NOT NULL,
        ok INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (round_at, prober, region, component)
    );
    CREATE TABLE IF NOT EXISTS probe_regions (
        round_at INTEGER NOT NULL,
        prober TEXT NOT NULL,
        region TEXT NOT NULL,
        reachable INTEGER NOT NULL,
        ready INTEGER NOT NULL,
        remaining INTEGER,
        eta_s INTEGER,
        PRIMARY KEY (round_at, prober, region)
    );
    CREATE TABLE IF NOT EXISTS probe_requests (
        round_at INTEGER NOT NULL,
        prober TEXT NOT NULL,
        component TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        delayed INTEGER,
        PRIMARY KEY (round_at, prober, component)
    );
    CREATE TABLE IF NOT EXISTS probe_touched (
        round_at INTEGER NOT NULL,
        prober TEXT NOT NULL,
        component TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (round_at, prober, component, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS probe_verdicts (
        region TEXT NOT NULL,
        component TEXT NOT NULL,
        round_at INTEGER NOT NULL,
        failing INTEGER NOT NULL,
        against INTEGER NOT NULL,
        voters INTEGER NOT NULL,
        PRIMARY KEY (region, component, round_at)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS probe_verdicts_by_round ON probe_verdicts (round_at);
    CREATE INDEX IF NOT EXISTS probe_verdicts_by_outcome
        ON probe_verdicts (region, component, failing, round_at);
    CREATE TABLE IF NOT EXISTS probers (
        prober TEXT PRIMARY KEY,
        last_round_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS probed (
        region TEXT NOT NULL,
        component TEXT NOT NULL,
        rounds INTEGER NOT NULL,
        PRIMARY KEY (region, component)
    );
    """
    )

    def __init__(self) -> None:
        #: rounds that got results since the last flush, to judge again
        self._rounds: set[int] = set()

    def on_probes_recorded(self, db: sqlite3.Connection, entry: Entry, p: ProbesRecorded) -> None:
        at, prober = p.round_at, p.prober
        db.execute(_ROUND, (at, prober, p.period_ms, p.active_people, entry.event.at))
        db.execute(_PROBER, (prober, at))
        db.executemany(
            _RESULT,
            [
                (at, prober, r.region, r.component, int(r.ok), r.latency_ms, r.reason)
                for r in p.results
            ],
        )
        db.executemany(
            _SEEN,
            [
                (at, prober, s.region, int(s.reachable), int(s.ready), s.remaining, s.eta_s)
                for s in p.regions
            ],
        )
        db.executemany(
            _COUNTED,
            [(at, prober, c.component, c.requests, c.errors, c.delayed) for c in p.requests],
        )
        db.executemany(
            _TOUCHED, [(at, prober, c.component, who) for c in p.requests for who in c.touched]
        )
        self._rounds.add(at)

    def flush(self, db: sqlite3.Connection) -> None:
        for at in sorted(self._rounds):
            self._judge_round(db, at)
        self._rounds.clear()

    def forget(self) -> None:
        self._rounds.clear()

    def _judge_round(self, db: sqlite3.Connection, at: int) -> None:
        """Judge the round again from all it holds now. What it judges may
        shrink as well as grow — a region only a health check named, then
        reached by a late result that did not check every component — so the
        verdicts it no longer gives are deleted, and ``probed`` counts each
        pair's rounds (a pair is listed while it has one). The round's day
        in ``uptime_days`` loses what the old verdicts added and gains what
        the new ones add (:mod:`stormproof.views.uptime`)."""
        reporting = [
            p for (p,) in db.execute("SELECT prober FROM probe_rounds WHERE round_at = ?", (at,))
        ]
        results = db.execute(
            "SELECT prober, region, component, ok FROM probe_results WHERE round_at = ?", (at,)
        ).fetchall()
        named = db.execute("SELECT region FROM probe_regions WHERE round_at = ?", (at,))
        verdicts = judge(
            reporting, ((p, r, c, bool(ok)) for p, r, c, ok in results), (r for (r,) in named)
        )
        stored = [
            (region, component, bool(failing))
            for region, component, failing in db.execute(
                "SELECT region, component, failing FROM probe_verdicts WHERE round_at = ?", (at,)
            )
        ]
        before = {(region, component) for region, component, _ in stored}
        judged = {(v.region, v.component) for v in verdicts}
        gone = sorted(before - judged)
        db.executemany(
            "DELETE FROM probe_verdicts WHERE region = ? AND component = ? AND round_at = ?",
            [(region, component, at) for region, component in gone],
        )
        db.executemany(
            _VERDICT,
            [(v.region, v.component, at, int(v.failing), v.against, v.voters) for v in verdicts],
        )
        db.executemany(_PROBED, [(*pair, 1) for pair in sorted(judged - before)])
        db.executemany(_PROBED, [(*pair, -1) for pair in gone])
        db.executemany("DELETE FROM probed WHERE region = ? AND component = ? AND rounds = 0", gone)
        self._count_days(db, at, stored, verdicts)

    def _count_days(
        self,
        db: sqlite3.Connection,
        at: int,
        stored: list[tuple[str, str, bool]],
        verdicts: list[Judged],
    ) -> None:
        """Move round ``at``'s day from what its ``stored`` verdicts added
        to what its new ``verdicts`` add, the round standing for the
        shortest period its probers reported."""
        (weight,) = db.execute(
            "SELECT MIN(period_ms) FROM probe_rounds WHERE round_at = ?", (at,)
        ).fetchone()
        uptime.adjust(
            db,
            at,
            weight,
            uptime.tally(stored, uptime.weight_of(db, at)),
            uptime.tally(((v.region, v.component, v.failing) for v in verdicts), weight),
        )


# -- reads: each an indexed lookup, none a scan of the history -----------------


@dataclass(frozen=True)
class Verdict:
    """A stored verdict of one component of one region in one round."""

    round_at: int
    failing: bool
    against: int
    voters: int


@dataclass(frozen=True)
class Seen:
    """What a prober's health check of a region said in its last round."""

    region: str
    reachable: bool
    ready: bool
    remaining: int | None
    eta_s: int | None


def newest_round(db: sqlite3.Connection) -> int | None:
    """The latest round any prober reported."""
    row = db.execute("SELECT MAX(round_at) FROM probe_rounds").fetchone()
    return None if row[0] is None else int(row[0])


@dataclass(frozen=True)
class Round:
    """A round as every prober that reported it recorded it together."""

    round_at: int
    #: the shortest period its probers reported
    period_ms: int
    #: when the last of its probers wrote it (the events' time)
    written_at: int


def recent_rounds(db: sqlite3.Connection, limit: int) -> list[Round]:
    """The latest ``limit`` rounds any prober reported, oldest first."""
    rows = db.execute(
        "SELECT round_at, MIN(period_ms), MAX(written_at) FROM probe_rounds "
        "GROUP BY round_at ORDER BY round_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [Round(at, period, written) for at, period, written in reversed(rows)]


def round_period(db: sqlite3.Connection, round_at: int) -> int | None:
    """The period a round stands for (the shortest its probers reported)."""
    row = db.execute(
        "SELECT MIN(period_ms) FROM probe_rounds WHERE round_at = ?", (round_at,)
    ).fetchone()
    return None if row[0] is None else int(row[0])


def probers(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """Every prober and the latest round it reported, by name."""
    return db.execute("SELECT prober, last_round_at FROM probers ORDER BY prober").fetchall()


def regions_seen(db: sqlite3.Connection, prober: str, round_at: int) -> list[Seen]:
    """What ``prober``'s health checks of each region said in that round."""
    rows = db.execute(
        "SELECT region, reachable, ready, remaining, eta_s FROM probe_regions "
        "WHERE round_at = ? AND prober = ? ORDER BY region",
        (round_at, prober),
    ).fetchall()
    return [
        Seen(r, bool(reachable), bool(ready), rem, eta) for r, reachable, ready, rem, eta in rows
    ]


def judged_pairs(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every (region, component) judged in some round."""
    return db.execute("SELECT region, component FROM probed ORDER BY region, component").fetchall()


def recent_verdicts(
    db: sqlite3.Connection, region: str, component: str, limit: int
) -> list[Verdict]:
    """The last ``limit`` verdicts of a component of a region, newest first."""
    rows = db.execute(
        "SELECT round_at, failing, against, voters FROM probe_verdicts "
        "WHERE region = ? AND component = ? ORDER BY round_at DESC LIMIT ?",
        (region, component, limit),
    ).fetchall()
    return [Verdict(at, bool(failing), against, voters) for at, failing, against, voters in rows]


def boundary(
    db: sqlite3.Connection, region: str, component: str, *, failing: bool, before: int
) -> int | None:
    """The latest round before ``before`` whose verdict was ``failing``."""
    row = db.execute(
        "SELECT MAX(round_at) FROM probe_verdicts "
        "WHERE region = ? AND component = ? AND failing = ? AND round_at < ?",
        (region, component, int(failing), before),
    ).fetchone()
    return None if row[0] is None else int(row[0])


def first_round_after(db: sqlite3.Connection, region: str, component: str, after: int) -> int:
    """The first round after ``after`` with a verdict (there must be one)."""
    row = db.execute(
        "SELECT MIN(round_at) FROM probe_verdicts "
        "WHERE region = ? AND component = ? AND round_at > ?",
        (region, component, after),
    ).fetchone()
    return int(row[0])


def rounds_between(
    db: sqlite3.Connection, region: str, component: str, start: int, end: int, cap: int
) -> int:
    """How many rounds in [start, end) have a verdict, counting at most ``cap``."""
    row = db.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM probe_verdicts WHERE region = ? AND component = ? "
        "AND round_at >= ? AND round_at < ? LIMIT ?)",
        (region, component, start, end, cap),
    ).fetchone()
    return int(row[0])
