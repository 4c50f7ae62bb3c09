"""The engine's state depends on the set of events, never on their order, and
its pair weights always equal what the final timelines give."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.recommend.engine import Engine, EngineConfig, pair_weight
from stormproof.recommend.signals import Signal

KINDS = ("watch", "complete", "like", "unlike", "share", "skip", "not_interested", "comment")

events = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.integers(0, 7),  # video
        st.integers(0, 40),  # time
        st.sampled_from(KINDS),
    ),
    max_size=60,
)


Stamped = tuple[str, int, int, str, int]  # user, video, time, kind, event number


def stamp(batch: list[tuple[str, int, int, str]]) -> list[Stamped]:
    """Number the events: the stamps (time, event id) travel with each event,
    as they do in the log, whatever order they are applied in."""
    return [(user, video, at, kind, n) for n, (user, video, at, kind) in enumerate(batch)]


def build(
    events: list[Stamped], *, peek_at: int = -1, config: EngineConfig | None = None
) -> Engine:
    """Eight videos by three creators, then ``events`` in the order given;
    with ``peek_at``, a snapshot is taken before that step."""
    engine = Engine(config)
    for v in range(8):
        engine.upload(f"v{v}", f"c{v % 3}", 0, 1000)
    for step, (user, video, at, kind, n) in enumerate(events):
        if step == peek_at:
            engine.state()  # a snapshot midway re-copies only what changes after it
        completed = kind == "complete"
        kind = "watch" if completed else kind
        engine.interact(user, f"v{video}", kind, (at, f"e{n:03d}", 0), 500, completed)
    return engine


def pairs_by_id(engine: Engine) -> dict[tuple[str, str], int]:
    ids = engine.item_ids
    return {
        (ids[i], ids[j]): int(v)
        for i, cols, vals in engine.pairs.rows()
        for j, v in zip(cols.tolist(), vals.tolist(), strict=True)
    }


def expected_pairs(engine: Engine) -> dict[tuple[str, str], int]:
    """Brute force from each user's final signals."""
    ids = engine.item_ids
    weights: dict[tuple[str, str], int] = {}
    for user in engine.users.values():
        engaged = sorted(
            (signal.first_at, ids[item])
            for item, signal in user.signals.items()
            if _engaged(signal)
        )
        for (p, (_, a)), (q, (_, b)) in itertools.combinations(enumerate(engaged), 2):
            for key in ((a, b), (b, a)):
                weights[key] = weights.get(key, 0) + pair_weight(q - p, engine.config.pair_window)
    return {key: weight for key, weight in weights.items() if weight}


def _engaged(signal: Signal) -> bool:
    return signal.flags().engaged


@settings(max_examples=150, deadline=None)
@given(batch=events, seed=st.randoms(use_true_random=False))
def test_any_order_gives_the_same_state_and_exact_pair_weights(batch, seed) -> None:  # type: ignore[no-untyped-def]
    stamped = stamp(batch)
    shuffled = stamped[:]
    seed.shuffle(shuffled)
    in_order, out_of_order = build(stamped), build(shuffled, peek_at=len(shuffled) // 2)
    assert in_order.digest() == out_of_order.digest()
    assert pairs_by_id(out_of_order) == expected_pairs(out_of_order)


@settings(max_examples=100, deadline=None)
@given(batch=events, seed=st.randoms(use_true_random=False))
def test_pairs_past_the_window_weigh_nothing_in_any_order(batch, seed) -> None:  # type: ignore[no-untyped-def]
    # A window of 2 on timelines of up to 8 videos: late events that move a
    # video in or out of the window must leave exactly the brute-force pairs.
    narrow = EngineConfig(pair_window=2)
    stamped = stamp(batch)
    shuffled = stamped[:]
    seed.shuffle(shuffled)
    in_order = build(stamped, config=narrow)
    out_of_order = build(shuffled, peek_at=len(shuffled) // 2, config=narrow)
    assert in_order.digest() == out_of_order.digest()
    assert pairs_by_id(out_of_order) == expected_pairs(out_of_order)


def test_a_checkpointed_state_loads_back_equal() -> None:
    batch = [("u1", v, v, "complete") for v in range(5)] + [("u2", 3, 9, "like")]
    engine = build(stamp(batch))
    engine.interact("u2", "v1", "not_interested", (11, "x", 0))
    engine.follow("u1", "c2", (12, "y", 0), True)
    engine.reset("u2", 13)
    engine.state()  # taken once: the next one must still see every later change
    engine.delete("v4", "c1")
    engine.interact("u3", "v9", "share", (14, "z", 0))
    loaded = Engine.from_state(engine.state(), (7,))
    assert loaded.digest() == engine.digest()
    assert loaded.position == (7,) and not loaded.live[loaded.index("v4")]
    assert loaded.users["u3"].signals[loaded.index("v9")].shares == 1
    assert pairs_by_id(loaded) == pairs_by_id(engine)


def test_pair_weights_fade_with_distance() -> None:
    weights = [pair_weight(d) for d in range(1, 40)]
    assert weights[0] == 7 and weights[-1] == 1
    assert weights == sorted(weights, reverse=True)
    assert pair_weight(200) == 1 and pair_weight(201) == 0  # past the window: nothing


def test_an_unlike_takes_its_trending_points_back_in_either_order() -> None:
    like, unlike = ("like", (100, "a", 0)), ("unlike", (200, "b", 0))
    for order in ([like, unlike], [unlike, like]):
        engine = Engine()
        engine.upload("v", "c", 0, 1000)
        for kind, stamp in order:
            engine.interact("u", "v", kind, stamp)
        assert int(engine.trend_points.sum()) == 0


def test_strength_counts_completion_most_and_half_watches_a_little() -> None:
    half, short = Signal(0, 0, watches=1, watched_ms=600), Signal(0, 0, watches=1, watched_ms=400)
    assert (half.strength(1000), short.strength(1000)) == (1, 0)
    done = Signal(0, 0, watches=2, watched_ms=2000, completions=1)
    assert done.strength(1000) == 3 + 1  # completed, and watched again
    assert Signal(0, 0, completions=1, hidden=True).strength(1000) == 0


def test_repeated_watches_and_shares_earn_trending_points_once_per_window() -> None:
    # Regression: a script sending watch after watch inflated trending without bound.
    window = EngineConfig().count_window_ms
    events = [("watch", 10, False), ("watch", 20, True), ("share", 30, False),
              ("share", 40, False), ("watch", window + 5, False)]  # fmt: skip
    digests = set()
    for order in (events, events[::-1], events[2:] + events[:2]):
        engine = Engine()
        engine.upload("v", "c", 0, 1000)
        for n, (kind, at, completed) in enumerate(order * 3):
            engine.interact("u", "v", kind, (at, f"e{n}", 0), 500, completed)
        # window 0: a view (1), its completion (2), a share (4); window 1: a view (1)
        assert int(engine.trend_points.sum()) == 1 + 2 + 4 + 1
        digests.add(engine.digest())
    assert len(digests) == 1


def test_blocks_end_follows_and_hide_creators_in_any_order() -> None:
    # u follows c; c blocks u, then unblocks; a late follow of c by u after that.
    steps = [
        ("follow", "u", "c", (10, "a", 0), True),
        ("block", "c", "u", (20, "b", 0), True),
        ("block", "c", "u", (30, "c", 0), False),
    ]
    digests = set()
    for order in itertools.permutations(steps):
        engine = Engine()
        for kind, who, other, stamp, active in order:
            (engine.follow if kind == "follow" else engine.block)(who, other, stamp, active)
        assert engine.followees("u") == set()  # the block ended the earlier follow
        assert engine.hidden_creators("u") == set() == engine.hidden_creators("c")
        engine.block("c", "u", (40, "d", 0), True)
        assert engine.hidden_creators("u") == {"c"} and engine.hidden_creators("c") == {"u"}
        engine.block("c", "u", (50, "e", 0), False)
        engine.follow("u", "c", (60, "f", 0), True)
        assert engine.followees("u") == {"c"}
        loaded = Engine.from_state(engine.state(), (1,))
        assert loaded.digest() == engine.digest() and loaded.followees("u") == {"c"}
        digests.add(engine.digest())
    assert len(digests) == 1


def test_a_bucket_too_short_for_32_bit_bucket_numbers_is_refused() -> None:
    # Trending slots hold bucket numbers in 32 bits: the latest time an
    # event may carry must still fall in a bucket that fits.
    with pytest.raises(ValueError, match="bucket_ms"):
        EngineConfig(bucket_ms=60_000)
    assert EngineConfig(bucket_ms=30 * 60_000).bucket_ms == 1_800_000
