"""What a For You page promises, checked on a real engine."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.ranker import RankerConfig, ladder_levels, rank, trending

HOUR = 3_600_000
NOW = 100 * HOUR
_stamps = itertools.count()


def stamp(at: int = NOW - HOUR) -> tuple[int, str, int]:
    return (at, f"e{next(_stamps):06d}", 0)


def catalog(engine: Engine, videos: dict[str, str], at: int = NOW - 50 * HOUR) -> None:
    """Upload ``videos`` (id -> creator), a minute apart in the given order."""
    for n, (video_id, owner) in enumerate(videos.items()):
        engine.upload(video_id, owner, at + n * 60_000, 10_000)


def complete(engine: Engine, user: str, *videos: str, at: int = NOW - HOUR) -> None:
    for n, video in enumerate(videos):
        engine.interact(user, video, "watch", stamp(at + n), 10_000, True)


def two_tastes(engine: Engine, first: tuple[str, str], second: tuple[str, str]) -> None:
    """Two fans engage with ``first`` (9 hours ago), then with ``second``
    (2 hours ago): far enough apart in their timelines to tell the tastes apart."""
    for fan in ("f1", "f2"):
        complete(engine, fan, *first, at=NOW - 9 * HOUR)
        complete(engine, fan, *second, at=NOW - 2 * HOUR)


def ids(engine: Engine, user: str, limit: int = 10, **options: object) -> list[str]:
    return [pick.video_id for pick in rank(engine, user, limit=limit, now=NOW, **options)]  # type: ignore[arg-type]


def test_collaborative_picks_follow_co_engagement_and_say_why() -> None:
    engine = Engine()
    catalog(engine, {v: f"c{v}" for v in "ABCDEF"})
    for fan in ("f1", "f2", "f3"):
        complete(engine, fan, "A", "B")
    complete(engine, "f4", "C", "D")
    complete(engine, "me", "A")
    first = rank(engine, "me", limit=3, now=NOW)[0]
    assert first.video_id == "B"
    assert "collaborative" in first.sources and first.because == ("A",)
    assert first.signals["collaborative"] > 0


def test_seen_videos_never_come_back_and_the_page_is_never_empty() -> None:
    engine = Engine()
    catalog(engine, {v: "c1" for v in "ABCD"})
    engine.interact("me", "A", "watch", stamp(), 300, False)
    engine.interact("me", "B", "skip", stamp())
    engine.interact("me", "C", "not_interested", stamp())
    assert ids(engine, "me") == ["D"]
    engine.interact("me", "D", "like", stamp())  # liked without a watch report: seen too
    assert ids(engine, "me") == []


def test_at_most_two_per_creator_unless_nothing_else_is_left() -> None:
    engine = Engine()
    catalog(engine, {"A1": "a", "A2": "a", "A3": "a", "A4": "a", "B1": "b"})
    page = ids(engine, "me", limit=3)
    owners = [engine.owner[engine.index(v)] for v in page]
    assert owners.count("a") == 2 and owners.count("b") == 1
    assert len(ids(engine, "me", limit=5)) == 5  # the cap gives way rather than a short page


def test_your_own_videos_come_last() -> None:
    engine = Engine()
    catalog(engine, {"mine": "me", "theirs": "you"})
    assert ids(engine, "me") == ["theirs", "mine"]


def test_followed_creators_are_a_source_until_unfollowed() -> None:
    engine = Engine()
    catalog(engine, {"A": "a", "B": "b"})
    engine.follow("me", "b", stamp(), True)
    first = rank(engine, "me", limit=2, now=NOW)[0]
    assert (first.video_id, "followed" in first.sources) == ("B", True)
    engine.follow("me", "b", stamp(NOW - 10), False)
    assert all("followed" not in p.sources for p in rank(engine, "me", limit=2, now=NOW))


def test_an_interaction_shapes_the_very_next_page() -> None:
    engine = Engine()
    catalog(engine, {v: f"c{v}" for v in "ABCDEFGH"})
    two_tastes(engine, ("A", "B"), ("E", "F"))
    before = ids(engine, "me", limit=3)
    complete(engine, "me", "E", at=NOW - 5)
    after = rank(engine, "me", limit=3, now=NOW)
    assert after[0].video_id == "F" and after[0].because == ("E",)
    assert [p.video_id for p in after] != before


def test_a_reset_forgets_taste_but_not_what_was_seen() -> None:
    engine = Engine()
    catalog(engine, {v: f"c{v}" for v in "ABCD"})
    two_tastes(engine, ("A", "B"), ("C", "D"))
    complete(engine, "me", "A", at=NOW - 100)
    assert rank(engine, "me", limit=1, now=NOW)[0].because == ("A",)
    engine.reset("me", NOW - 50)
    page = rank(engine, "me", limit=4, now=NOW)
    assert all(not p.because for p in page) and "A" not in [p.video_id for p in page]
    complete(engine, "me", "C", at=NOW - 10)  # taste shown after the reset counts again
    assert rank(engine, "me", limit=1, now=NOW)[0].because == ("C",)


def test_completion_weighs_more_than_likes() -> None:
    engine = Engine()
    catalog(engine, {"finished": "a", "liked": "b"})
    for n in range(10):
        complete(engine, f"v{n}", "finished")
        engine.interact(f"w{n}", "liked", "watch", stamp(), 1_000, False)
        engine.interact(f"w{n}", "liked", "like", stamp())
    # Same relevance (both engaged ten users); the ranker's blend decides.
    page = rank(engine, "me", limit=2, now=NOW, config=RankerConfig(trend_weight=0))
    assert [p.video_id for p in page] == ["finished", "liked"]
    assert page[0].signals["p_complete"] > page[1].signals["p_complete"]


def test_the_exposure_ladder_promotes_only_what_beats_its_level() -> None:
    engine = Engine()
    catalog(engine, {"good": "a", "bad": "b", "new": "c"}, at=NOW - HOUR)
    for n in range(4):
        complete(engine, f"g{n}", "good")
        engine.interact(f"b{n}", "bad", "skip", stamp())
    items = [engine.index(v) for v in ("good", "bad", "new")]
    levels = ladder_levels(engine, np.array(items), (3, 10)).tolist()
    assert levels == [1.0, -1.0, 0.0]  # climbed / stopped / still in its first pool
    sources = {p.video_id: p.sources for p in rank(engine, "me", limit=3, now=NOW)}
    assert "fresh" in sources["good"] and "fresh" in sources["new"]
    config = RankerConfig(ladder_pools=(3, 10))
    sources = {p.video_id: p.sources for p in rank(engine, "me", limit=3, now=NOW, config=config)}
    assert "fresh" not in sources["bad"] and "fresh" in sources["good"]


def test_ties_at_a_source_cut_go_the_same_way_whatever_the_local_order() -> None:
    videos = {f"v{n:02d}": f"c{n}" for n in range(30)}
    config = RankerConfig(popular_top=3, trend_top=3, fresh_weight=0, ladder_pools=(0,))
    pages = []
    for order in (list(videos.items()), list(reversed(videos.items()))):
        engine = Engine()
        for video_id, owner in order:  # other local indexes in each engine
            engine.upload(video_id, owner, NOW - 50 * HOUR, 10_000)
        for n, video_id in enumerate(videos):  # every video equally popular
            complete(engine, f"fan{n}", video_id, at=NOW - 40 * HOUR)
        page = rank(engine, "me", limit=3, now=NOW, config=config)
        pages.append([(p.video_id, p.sources) for p in page])
    assert pages[0] == pages[1]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["watch", "like", "unlike", "share", "upload", "look"]),
            st.integers(0, 11),  # video
            st.integers(18, 30),  # hour: some before the window, some in the bucket of now
        ),
        max_size=80,
    )
)
def test_trending_kept_between_pages_equals_trending_summed_afresh(
    steps: list[tuple[str, int, int]],
) -> None:
    # Pages read trending between writes into past buckets and to new videos;
    # a region that never read it in between must get the same numbers, bit
    # for bit (the same state gives the same page everywhere).
    config, now = EngineConfig(bucket_ms=HOUR, buckets=8), 30 * HOUR + 1
    kept, afresh = Engine(config), Engine(config)
    for engine in (kept, afresh):
        engine.upload("v0", "c", 0, 10_000)
        engine.interact("u0", "v0", "watch", (now - 1, "e", 0), 10_000, True)
    for n, (kind, video, hour) in enumerate(steps):
        if kind == "look":
            trending(kept, now, 2.0)
            continue
        for engine in (kept, afresh):
            if kind == "upload":
                engine.upload(f"v{video}", "c", hour * HOUR, 10_000)
            else:
                stamp = (hour * HOUR, f"e{n}", 0)
                engine.interact(f"u{n % 3}", f"v{video}", kind, stamp, 10_000, True)
    assert np.array_equal(trending(kept, now, 2.0), trending(afresh, now, 2.0))
