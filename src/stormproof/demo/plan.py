"""Who the demo people are and what they did: a pure function of a seed.

A For You page only shows what it does when people have histories that
overlap: the collaborative source needs someone else who liked what you
liked and then liked something you have not seen. So each person has two
tastes (topics, in circles that go together), creators upload in them, and
over three sessions each person watches half the videos of their tastes —
completing, liking, sharing, commenting — and glances at and skips a few
others. The half they leave unseen is what their For You has to find.

Nothing here writes: :mod:`stormproof.demo.seed` turns a :class:`Plan` into
actions. Times are offsets before the moment of seeding, so the same seed
gives the same plan on every machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from stormproof.population import TOPICS, draw_tastes, react

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "TOPICS",
    "Act",
    "Person",
    "Plan",
    "Upload",
    "make_plan",
]

#: every demo person logs in with this (printed by ``serve``: it guards nothing)
DEMO_PASSWORD = "stormproof-demo"
#: the first five are the ones the README and ``serve`` name; alice is the tour's
DEMO_USERS = (
    "alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "kim", "leo", "mia", "nora", "oscar", "peggy", "quinn", "rosa", "sam", "tara",
    "uma", "victor", "wendy", "xavi", "yara", "zoe", "amir", "bea", "cyril", "dora",
)  # fmt: skip
#: the named ones' tastes, so the tour knows what alice likes; the rest are drawn
_TASTES = {
    "alice": ("cooking", "cats"),
    "bob": ("skate", "timelapse"),
    "carol": ("cats", "cooking"),
    "dan": ("ops", "weather"),
    "erin": ("cats", "skate"),
}
_COMMENTS = ("love this", "more please", "how??", "saving this one", "this made my day")
_MESSAGES = ("did you see this one?", "you have to watch this", "ha, this is so you")
_HOUR = 3600 * 1000
#: how many videos outside their tastes each person came across
_OFF_TASTE_SEEN = 4


@dataclass(frozen=True)
class Upload:
    """A video to upload: ``clip`` says which generated file carries it."""

    key: str
    owner: str
    caption: str
    clip: int
    ago_ms: int


@dataclass(frozen=True)
class Act:
    """One session of one person: interactions (as ``POST /v1/events``
    sends them, by upload key instead of video id), comments, follows and
    messages, all at ``ago_ms`` before seeding."""

    ago_ms: int
    events: list[dict[str, object]] = field(default_factory=list)
    comments: list[tuple[str, str]] = field(default_factory=list)
    follows: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    name: str
    tastes: tuple[str, ...]
    acts: list[Act]


@dataclass(frozen=True)
class Plan:
    people: list[Person]
    uploads: list[Upload]
    #: how many distinct clips to generate (uploads share them)
    clips: int


def _tastes(rng: random.Random) -> dict[str, tuple[str, ...]]:
    """Each person's two topics (:func:`stormproof.population.draw_tastes`),
    the named ones' as given."""
    return draw_tastes(rng, DEMO_USERS, _TASTES)


def _uploads(rng: random.Random, tastes: dict[str, tuple[str, ...]]) -> list[Upload]:
    """Each caption once, by a fan of its topic (each fan in turn, so every
    fan creates something); two clips per topic, alternating."""
    uploads = []
    topics = sorted(TOPICS)
    for t, topic in enumerate(topics):
        hashtag, captions = TOPICS[topic]
        fans = [name for name in DEMO_USERS if topic in tastes[name]]
        rng.shuffle(fans)
        for n, caption in enumerate(captions):
            owner = fans[n % len(fans)]
            ago = rng.randrange(10 * _HOUR, 20 * _HOUR)
            uploads.append(
                Upload(f"{topic}-{n}", owner, f"{caption} {hashtag}", 2 * t + n % 2, ago)
            )
    uploads.sort(key=lambda u: (-u.ago_ms, u.key))
    return uploads


def _session(
    rng: random.Random, likes: set[str], seen: list[Upload], ago: int, duration_ms: int
) -> Act:
    """One sitting: each video of ``seen`` watched as a person with these
    tastes would — through, again, liked, shared, commented — or skipped."""
    act = Act(ago)
    for video in seen:
        did = react(rng, _topic(video) in likes, duration_ms)
        watch = {"type": "watch", "video_id": video.key, "watched_ms": did.watched_ms}
        if did.skipped:
            act.events.extend([watch, {"type": "skip", "video_id": video.key}])
        else:
            act.events.append({**watch, "completed": did.completed})
        if did.rewatched:
            act.events.append({**watch, "completed": True})
        if did.liked:
            act.events.append({"type": "like", "video_id": video.key})
        if did.shared:
            act.events.append({"type": "share", "video_id": video.key})
        if did.commented:
            act.comments.append((video.key, rng.choice(_COMMENTS)))
    return act


def _seen(rng: random.Random, name: str, likes: set[str], uploads: list[Upload]) -> list[Upload]:
    """What a person came across, in order: half the videos of each taste
    (the other half is what their For You has to find), and a few others;
    never their own."""
    others = [u for u in uploads if u.owner != name]
    seen = [u for u in others if _topic(u) not in likes]
    seen = rng.sample(seen, _OFF_TASTE_SEEN)
    for topic in sorted(likes):
        theirs = [u for u in others if _topic(u) == topic]
        seen += rng.sample(theirs, (len(theirs) + 1) // 2)
    rng.shuffle(seen)
    return seen


def _topic(upload: Upload) -> str:
    return upload.key.split("-")[0]


def make_plan(seed: int = 10, *, duration_ms: int = 4000) -> Plan:
    """The demo population for ``seed``; ``duration_ms`` is the clips' length
    (watch times are drawn against it)."""
    rng = random.Random(seed)
    tastes = _tastes(rng)
    uploads = _uploads(rng, tastes)
    owner_of = {u.key: u.owner for u in uploads}
    people = []
    for name in DEMO_USERS:
        likes = set(tastes[name])
        seen = _seen(rng, name, likes, uploads)
        acts = []
        starts = sorted(rng.sample(range(1, 9 * 60), 3), reverse=True)  # minutes ago, oldest first
        for k, minutes in enumerate(starts):
            part = seen[k * len(seen) // 3 : (k + 1) * len(seen) // 3]
            acts.append(_session(rng, likes, part, minutes * 60_000, duration_ms))
        # In the last session: follow the creators they liked best, message a fellow fan.
        liked = [
            owner_of[str(e["video_id"])] for a in acts for e in a.events if e["type"] == "like"
        ]
        favourites = sorted(set(liked), key=lambda owner: (-liked.count(owner), owner))
        acts[-1].follows.extend(favourites[:3])
        fellows = sorted(p for p in DEMO_USERS if p != name and set(tastes[p]) & likes)
        acts[-1].messages.append((rng.choice(fellows), rng.choice(_MESSAGES)))
        people.append(Person(name, tastes[name], acts))
    return Plan(people, uploads, clips=2 * len(TOPICS))
