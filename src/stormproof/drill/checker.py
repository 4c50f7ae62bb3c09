"""The drill's Jepsen-style check: every write, read back from every region.

Each write the simulated people made (an :class:`~stormproof.drill.ops.Op` of
a kind in ``WRITE_KINDS``) is looked for in each region once the drill is
over, and classified: an acknowledged write that is absent is **lost**; one
present more often than it was made is **duplicated**; a write that got no
answer (``unknown``, or ``pending`` when the drill stopped) is **found** or
**absent**; a write that got a definite error and is present anyway is
**failed_found** — an error answer for a write that was applied is a lie.

What a region shows decides how exactly a kind can be checked (:data:`RULES`):

- ``"write"`` — every write is counted on its own, so the count of each is
  exact: messages (the sender's conversation, by text), comments (the
  video's comments, by author and text), uploads (the creator's videos, by
  caption), watches (the watcher's history counts each watch of a video).
- ``"person"`` — only a total per target is shown, and each person adds one
  at most: likes (a video's ``likes``), follows (an account's ``followers``).
- ``"window"`` — a total per target in which a person's shares of a video
  count once per 10-minute window (``views.engagement``): each person who
  shared adds at least one and each share at most one; only a count outside
  those bounds is reported. Which share was found is a best guess: a count
  above the acknowledged people is credited to unknown shares first.
- not interested is **unverifiable**: no answer of the API shows it (the For
  You feed leaves such videos out, but so it does videos seen, and reading
  the ranking back would be guessing); such writes are counted apart.

The pure core is :func:`classify` (one region) and :func:`classify_regions`
(all of them: a write lost in any region is lost); :func:`observe` reads one
region over HTTP and :func:`check_regions` does it all.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

from stormproof.client import Client, RegionsUnavailable, RequestFailed
from stormproof.drill.ops import Op

__all__ = [
    "RULES",
    "Ident",
    "Observed",
    "Tally",
    "Verdict",
    "check_regions",
    "classify",
    "classify_regions",
    "ident_of",
    "observe",
]

Rule = Literal["write", "person", "window", "unverifiable"]
#: how a region shows each write kind (see the module doc)
RULES: dict[str, Rule] = {
    "message": "write",
    "comment": "write",
    "upload": "write",
    "watch": "write",
    "like": "person",
    "follow": "person",
    "share": "window",
    "not_interested": "unverifiable",
}

#: examples of anomalies a verdict lists, and notes on what could not be read
DETAILS = 20
NOTES = 5


class Ident(NamedTuple):
    """What one count a region shows is of. For the kinds counted per target
    (likes, shares, follows) ``person`` and ``target`` are empty and ``key``
    is the video id or the followed username."""

    kind: str
    person: str
    key: str
    target: str


def ident_of(op: Op) -> Ident:
    """The count ``op`` is found in."""
    if RULES[op.kind] != "write":
        return Ident(op.kind, "", op.key, "")
    target = op.target if op.kind in ("message", "comment") else ""
    return Ident(op.kind, op.person, op.key, target)


@dataclass
class Observed:
    """What one region holds of the drill's writes."""

    #: every count read; an ident that is missing could not be read
    counts: dict[Ident, int] = field(default_factory=dict)
    #: what existed before the drill, by ``(kind, key)`` for the kinds counted
    #: per target, e.g. ``("like", video_id)``; 0 when missing. None of the
    #: drill's people may be in it (they are new): a like they made before
    #: would hide one they make in the drill
    baselines: dict[tuple[str, str], int] = field(default_factory=dict)
    #: what could not be read, or was absent as a whole, and why
    notes: list[str] = field(default_factory=list)


@dataclass
class Tally:
    #: write operations by how they came out
    acknowledged: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0
    #: what was found: in writes for the kinds counted per write, in people
    #: (shares: at least people, at most shares) for the others
    lost: int = 0
    duplicated: int = 0
    unknown_found: int = 0
    unknown_absent: int = 0
    failed_found: int = 0
    #: writes of a kind no region can show (not interested)
    unverifiable: int = 0
    #: writes whose count could not be read (in some region, for the overall one)
    unread: int = 0

    def add(self, other: Tally) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTS = tuple(f.name for f in fields(Tally))


@dataclass
class Verdict(Tally):
    by_kind: dict[str, Tally] = field(default_factory=dict)
    #: counts that differ between regions (overall verdict only)
    diverged: int = 0
    #: what could not be read first, then the first examples of anomalies
    details: list[str] = field(default_factory=list)

    @property
    def writes(self) -> dict[str, int]:
        """The report's summary of the writes."""
        names = ("acknowledged", "lost", "duplicated", "unknown_found", "unknown_absent")
        return {name: getattr(self, name) for name in names}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Group:
    """The writes found in one count, in units of that count."""

    ident: Ident
    ops: list[Op]
    must: int = 0  # acknowledged: must be there
    spare: int = 0  # acknowledged shares beyond one per person: may be there
    maybe: int = 0  # no answer: may be there
    failed: int = 0  # a definite error: must not be there

    @classmethod
    def of(cls, ident: Ident, ops: list[Op]) -> _Group:
        ok = [op for op in ops if op.outcome == "ok"]
        unsure = [op for op in ops if op.outcome in ("unknown", "pending")]
        failed = [op for op in ops if op.outcome == "failed"]
        rule = RULES[ident.kind]
        if rule == "write":
            return cls(ident, ops, len(ok), 0, len(unsure), len(failed))
        people = {op.person for op in ok}
        if rule == "window":
            return cls(ident, ops, len(people), len(ok) - len(people), len(unsure), len(failed))
        unsure_people = {op.person for op in unsure} - people
        failed_people = {op.person for op in failed} - people - unsure_people
        return cls(ident, ops, len(people), 0, len(unsure_people), len(failed_people))

    def judge(self, count: int, baseline: int) -> Tally:
        """Classify by the ``count`` a region shows, ``baseline`` of it older."""
        extra = count - baseline - self.must
        found = min(self.maybe, max(0, extra))
        beyond = max(0, extra - found - self.spare)
        failed_found = min(self.failed, beyond)
        return Tally(
            lost=max(0, -extra),
            duplicated=beyond - failed_found,
            unknown_found=found,
            unknown_absent=self.maybe - found,
            failed_found=failed_found,
        )

    def describe(self, judged: Mapping[str, tuple[int, int, Tally]], worst: Tally) -> list[str]:
        """What is wrong with this count, as the report says it: ``judged``
        is each region's (count, baseline, tally), ``worst`` their worst."""
        kind, person, key, target = self.ident
        thing, whose = {
            "message": (f"message {key!r}", f"{person}→{target}, "),
            "comment": (f"comment {key!r}", f"{person} on video {target}, "),
            "upload": (f"upload {key!r}", f"by {person}, "),
            "watch": (f"watch of video {key}", f"by {person}, "),
            "follow": (f"follows of {key}", ""),
        }.get(kind, (f"{kind}s of video {key}", ""))
        present = {r: f"{c} in {r}" if r else f"{c} present" for r, (c, _, _) in judged.items()}
        said = []
        if len({count for count, _, _ in judged.values()}) > 1:
            said.append(f"regions differ on {thing} ({whose}{', '.join(present.values())})")
        for label, name in _ANOMALIES:
            if n := getattr(worst, name):
                where = [r for r, (_, _, t) in judged.items() if getattr(t, name)]
                why = self._why(label, judged[where[0]][1])
                shown = ", ".join(present[r] for r in where)
                times = f" x{n}" if n > 1 else ""
                said.append(f"{label} {thing}{times} ({whose}{why}; {shown})")
        return said

    def _why(self, label: str, baseline: int) -> str:
        if label == "lost":
            regions = sorted({op.region for op in self.ops if op.outcome == "ok"})
            said = f"acknowledged by {', '.join(regions) or '?'}"
            least = baseline + self.must
            return said if self.ident.person else f"{said}, at least {least} expected"
        if label == "failed write found":
            codes = sorted({op.code for op in self.ops if op.outcome == "failed"})
            return f"answered {', '.join(codes) or 'an error'}"
        return f"at most {baseline + self.must + self.spare + self.maybe} expected"


_ANOMALIES = (
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("failed write found", "failed_found"),
)


def classify(ops: Sequence[Op], observed: Observed) -> Verdict:
    """Classify every write of ``ops`` by what one region holds."""
    return classify_regions(ops, {"": observed})


def classify_regions(ops: Sequence[Op], observed: Mapping[str, Observed]) -> Verdict:
    """Classify every write of ``ops`` by what every region holds: a write
    lost (or duplicated, or failed and found) in any region is so overall,
    an unknown one found in any region is found."""
    verdict = Verdict()
    groups: dict[Ident, list[Op]] = defaultdict(list)
    for op in ops:
        if op.kind not in RULES:
            continue
        kind = verdict.by_kind.setdefault(op.kind, Tally())
        outcome = "acknowledged" if op.outcome == "ok" else op.outcome
        setattr(kind, outcome, getattr(kind, outcome) + 1)
        if RULES[op.kind] == "unverifiable":
            kind.unverifiable += 1
        else:
            groups[ident_of(op)].append(op)
    examples: list[str] = []
    for group in (_Group.of(ident, found) for ident, found in groups.items()):
        judged = {}
        for region, seen in observed.items():
            if (count := seen.counts.get(group.ident)) is not None:
                baseline = _baseline(seen, group.ident)
                judged[region] = (count, baseline, group.judge(count, baseline))
        kind = verdict.by_kind[group.ident.kind]
        if len(judged) < len(observed):
            kind.unread += len(group.ops)
        if not judged:
            continue
        worst = Tally()
        for name in ("lost", "duplicated", "failed_found", "unknown_found"):
            setattr(worst, name, max(getattr(t, name) for _, _, t in judged.values()))
        worst.unknown_absent = group.maybe - worst.unknown_found
        kind.add(worst)
        verdict.diverged += int(len({count for count, _, _ in judged.values()}) > 1)
        examples += group.describe(judged, worst)
    for kind_tally in verdict.by_kind.values():
        verdict.add(kind_tally)
    notes = [f"{r}: {note}" if r else note for r, seen in observed.items() for note in seen.notes]
    verdict.details = notes[:NOTES] + examples[:DETAILS]
    return verdict


def _baseline(observed: Observed, ident: Ident) -> int:
    return observed.baselines.get((ident.kind, ident.key), 0) if not ident.person else 0


async def observe(
    url: str,
    ops: Sequence[Op],
    people: Mapping[str, str] | str,
    *,
    baselines: Mapping[tuple[str, str], int] | None = None,
    concurrency: int = 8,
    max_pages: int = 500,
) -> Observed:
    """Read back, from the region at ``url``, every count the writes of
    ``ops`` are found in. ``people`` gives each person's password (or is the
    one password of all): conversations and watch history are shown to their
    own people only. At most ``concurrency`` reads at once and ``max_pages``
    pages per listing; what cannot be read is left out and noted."""
    places: dict[tuple[str, str], list[Ident]] = defaultdict(list)
    for op in ops:
        if RULES.get(op.kind, "unverifiable") != "unverifiable":
            ident = ident_of(op)
            places[_place(ident)].append(ident)
    persons = sorted(name for where, name in places if where == "person")
    if not isinstance(people, str) and (missing := [p for p in persons if p not in people]):
        raise ValueError(f"no password for {', '.join(missing)}")
    reader = _Reader(url, people, Observed(baselines=dict(baselines or {})), max_pages)
    slots = asyncio.Semaphore(concurrency)

    async def read(place: tuple[str, str], idents: list[Ident]) -> None:
        async with slots:
            await reader.read(*place, sorted(set(idents)))

    try:
        await asyncio.gather(*(read(place, idents) for place, idents in places.items()))
    finally:
        await reader.anonymous.close()
    return reader.observed


def _place(ident: Ident) -> tuple[str, str]:
    """Where a count is read: a person's own listings, a video's comments, a
    video, an account."""
    if ident.kind == "comment":
        return "comments", ident.target
    if ident.person:
        return "person", ident.person
    return ("account" if ident.kind == "follow" else "video"), ident.key


class _TooLong(Exception):
    pass


Read = Callable[[], Awaitable[Counter[Ident]]]


class _Reader:
    """Reads one region, a listing at a time."""

    def __init__(
        self, url: str, people: Mapping[str, str] | str, observed: Observed, max_pages: int
    ) -> None:
        self.url = url
        self.people = people
        self.observed = observed
        self.max_pages = max_pages
        self.down = False
        self.anonymous = self._client()

    def _client(self) -> Client:
        return Client([self.url], attempt_timeout=10, deadline=30)

    async def read(self, where: str, name: str, idents: list[Ident]) -> None:
        """Read every count of ``idents``, all found in one place."""
        if where == "person":
            await self._person(name, idents)
        elif where == "comments":
            await self._settle(f"comments of video {name}", idents, partial(self._comments, name))
        elif where == "video":
            await self._settle(f"video {name}", idents, partial(self._video, name))
        else:
            await self._settle(f"account {name}", idents, partial(self._account, name))

    async def _settle(self, what: str, idents: list[Ident], read: Read) -> None:
        """Set the counts of ``idents`` by ``read()``: all 0 when the region
        answers that what holds them is not there (401, 404); none when it
        cannot be read."""
        if self.down:
            return
        try:
            found = await read()
        except RequestFailed as exc:
            if exc.status not in (401, 404):
                self.observed.notes.append(f"{what} unread: {exc.status} {exc.code}")
                return
            self.observed.notes.append(f"{what} absent: {exc.code}")
            found = Counter()
        except RegionsUnavailable as exc:
            self.down = True
            self.observed.notes.append(f"{what} unread, stopped reading: {exc}")
            return
        except _TooLong as exc:
            self.observed.notes.append(f"{what} unread: {exc}")
            return
        for ident in idents:
            self.observed.counts[ident] = found[ident]

    async def _person(self, name: str, idents: list[Ident]) -> None:
        """A person's uploads, and (logged in as them) their watch history and
        their conversation with each person they wrote to."""
        password = self.people if isinstance(self.people, str) else self.people[name]
        places: dict[tuple[str, str], list[Ident]] = defaultdict(list)
        for ident in idents:
            places[ident.kind, ident.target].append(ident)
        async with self._client() as c:

            async def private(read: Read) -> Counter[Ident]:
                if c.token is None:
                    await c.log_in(name, password)
                return await read()

            for (kind, to), found in sorted(places.items()):
                if kind == "upload":
                    what, read = f"videos of {name}", partial(self._uploads, c, name)
                elif kind == "watch":
                    what = f"history of {name}"
                    read = partial(private, partial(self._history, c, name))
                else:
                    what = f"messages {name}→{to}"
                    read = partial(private, partial(self._messages, c, name, to))
                await self._settle(what, found, read)

    async def _list(self, c: Client, path: str, limit: int, more: _More) -> list[Any]:
        """Every item of a listing: ``more(answer, limit)`` gives the next
        page's parameters, or None after the last page."""
        params: dict[str, Any] = {"limit": limit}
        items: list[Any] = []
        for _ in range(self.max_pages):
            answer = (await c.get(path, params=params)).json()
            items += answer["items"] if isinstance(answer, dict) else answer
            if (after := more(answer, limit)) is None:
                return items
            params = {"limit": limit, **after}
        raise _TooLong(f"more than {self.max_pages} pages of {limit}")

    async def _messages(self, c: Client, name: str, to: str) -> Counter[Ident]:
        path = f"/v1/conversations/{_q(to)}/messages"
        found = await self._list(c, path, 200, _after_last)
        return Counter(Ident("message", name, m["text"], to) for m in found if m["sender"] == name)

    async def _history(self, c: Client, name: str) -> Counter[Ident]:
        """Each video watched, with how many watches of it were recorded."""
        found: Counter[Ident] = Counter()
        for item in await self._list(c, "/v1/account/history", 100, _next_cursor):
            found[Ident("watch", name, item["video"]["id"], "")] += item["watches"]
        return found

    async def _uploads(self, c: Client, name: str) -> Counter[Ident]:
        found = await self._list(c, f"/v1/accounts/{_q(name)}/videos", 100, _older_than_last)
        return Counter(Ident("upload", name, v["caption"], "") for v in found)

    async def _comments(self, video: str) -> Counter[Ident]:
        path = f"/v1/videos/{_q(video)}/comments"
        found = await self._list(self.anonymous, path, 100, _after_last)
        return Counter(Ident("comment", m["author"]["username"], m["text"], video) for m in found)

    async def _video(self, video: str) -> Counter[Ident]:
        counts = (await self.anonymous.get(f"/v1/videos/{_q(video)}")).json()["counts"]
        return Counter({Ident(k, "", video, ""): counts[f"{k}s"] for k in ("like", "share")})

    async def _account(self, name: str) -> Counter[Ident]:
        profile = (await self.anonymous.get(f"/v1/accounts/{_q(name)}")).json()
        return Counter({Ident("follow", "", name, ""): profile["followers"]})


_More = Callable[[Any, int], dict[str, str] | None]


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _after_last(page: list[dict[str, Any]], limit: int) -> dict[str, str] | None:
    return {"after": page[-1]["id"]} if len(page) == limit else None


def _older_than_last(page: list[dict[str, Any]], limit: int) -> dict[str, str] | None:
    return {"cursor": f"{page[-1]['created_at']}:{page[-1]['id']}"} if len(page) == limit else None


def _next_cursor(answer: dict[str, Any], limit: int) -> dict[str, str] | None:
    return {"cursor": answer["next_cursor"]} if answer["next_cursor"] else None


async def check_regions(
    urls: Mapping[str, str],
    ops: Sequence[Op],
    people: Mapping[str, str] | str,
    *,
    baselines: Mapping[tuple[str, str], int] | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """Read every region of ``urls`` (name → URL) back at once and classify
    the writes of ``ops``: the report's ``writes`` summary, the ``overall``
    verdict (a write lost in any region is lost) and each region's."""
    names = list(urls)
    options: dict[str, Any] = {"baselines": baselines, "concurrency": concurrency}
    seen = await asyncio.gather(*(observe(urls[n], ops, people, **options) for n in names))
    observed = dict(zip(names, seen, strict=True))
    overall = classify_regions(ops, observed)
    return {
        "writes": overall.writes,
        "overall": overall.as_dict(),
        "regions": {name: classify(ops, one).as_dict() for name, one in observed.items()},
    }
