"""How simulated people behave: tastes over topics, and what a person does
with a video of a given topic. One model for the demo that ``serve`` seeds
and for the people of ``stormproof drill``, so a newcomer's first For You page
and the drill's people behave alike.

Each person has a hidden taste: two topics they like, from one *circle* of
topics that go together (a quarter of people have a second taste from
elsewhere), which gives co-engagement a shape for For You to find. Shown a
video in their taste, they mostly watch it through (sometimes again), often
like it, now and then share or comment on it; off their taste, they mostly
glance and skip. Every draw comes from the caller's ``random.Random``, so a
seed gives the same people and the same reactions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CIRCLES", "TOPICS", "Reaction", "draw_tastes", "react", "relevance"]

#: topic -> its hashtag and the captions of its videos
TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cooking": ("#cooking", (
        "quick pasta in 60 seconds", "one-pan shakshuka", "an onion in 20 seconds",
        "sourdough, day 30", "street tacos at home", "the perfect omelette",
    )),
    "cats": ("#cats", (
        "my cat vs the vacuum", "cat discovers the printer", "two cats, one box",
        "the 5 am zoomies", "my cat judges my cooking", "kitten meets snow",
    )),
    "skate": ("#skate", (
        "kickflip, finally", "skateboard fail compilation", "night session downtown",
        "learning to drop in", "bowl lines at the park", "ollie up the curb",
    )),
    "weather": ("#weather", (
        "the storm is coming", "first snow of the year", "lightning over the bay",
        "hail in July", "rainbow after the storm", "fog rolling in",
    )),
    "timelapse": ("#timelapse", (
        "city lights timelapse", "sunset over the data center", "rush hour from above",
        "a night train crossing", "clouds over the ridge", "the harbour wakes up",
    )),
    "ops": ("#sre", (
        "backup generator test, again", "three regions, zero downtime",
        "pulling the plug on a region", "a failover in 100 ms",
        "reading the log at 3 am", "the pager goes off",
    )),
}  # fmt: skip

#: topics that go together: who likes one of a circle tends to like the other
CIRCLES = (("cooking", "cats"), ("skate", "timelapse"), ("weather", "ops"))
#: the share of people whose second taste lies outside their circle
_MIXED = 0.25


def draw_tastes(
    rng: random.Random, names: Sequence[str], fixed: dict[str, tuple[str, str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """Each person's two topics: a circle in turn, a quarter of them with a
    second taste from elsewhere; ``fixed`` ones as given (drawn all the same,
    so fixing one does not change the others)."""
    tastes: dict[str, tuple[str, ...]] = {}
    for n, name in enumerate(names):
        first, second = rng.sample(CIRCLES[n % len(CIRCLES)], 2)
        if rng.random() < _MIXED:
            second = rng.choice(sorted(set(TOPICS) - {first, second}))
        tastes[name] = (fixed or {}).get(name, (first, second))
    return tastes


@dataclass(frozen=True)
class Reaction:
    """What one person did with one video."""

    watched_ms: int
    completed: bool
    #: watched it through a second time
    rewatched: bool = False
    #: scrolled away early
    skipped: bool = False
    liked: bool = False
    shared: bool = False
    commented: bool = False
    #: marked "not interested"
    hid: bool = False


def react(
    rng: random.Random, on_taste: bool, duration_ms: int, *, hide_rate: float = 0.0
) -> Reaction:
    """What a person does with a ``duration_ms`` video in (``on_taste``) or
    out of their taste. Off taste, ``hide_rate`` of the early skips also mark
    it "not interested" (drawn only when above zero, so the demo's draws stay
    as they were)."""
    if not on_taste:
        if rng.random() < 0.85:  # a glance and a skip
            watched = rng.randrange(300, 1200)
            hid = hide_rate > 0 and rng.random() < hide_rate
            return Reaction(watched, completed=False, skipped=True, hid=hid)
        return Reaction(duration_ms, completed=True)
    completed = rng.random() < 0.8
    watched = duration_ms if completed else rng.randrange(duration_ms // 3, duration_ms)
    rewatched = completed and rng.random() < 0.25
    liked = rng.random() < 0.55
    shared = rng.random() < 0.1
    commented = rng.random() < 0.15
    return Reaction(watched, completed, rewatched, False, liked, shared, commented)


def relevance(tastes: Sequence[str], topics: Sequence[str | None]) -> float | None:
    """The share of ``topics`` (of videos someone was served; None for an
    unknown video) that lie in ``tastes``; None for nothing served."""
    known = [t for t in topics if t is not None]
    return sum(t in tastes for t in known) / len(known) if known else None
