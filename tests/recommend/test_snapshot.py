"""The engine's state as data (JSON made piecewise), and as a checkpoint keeps
it (arrays, users as encoded rows decoded on first use): a loaded engine that
goes on applying events ends where one that never stopped does."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.recommend.engine import Engine
from stormproof.recommend.ranker import rank

USERS = ["ü", "u2", "u3", "c0", "c1"]
VIDEOS = [f"v{n}" for n in range(6)]
KINDS = ("watch", "complete", "like", "unlike", "share", "skip", "not_interested", "comment")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("interact"), st.sampled_from(USERS), st.sampled_from(VIDEOS),
                  st.sampled_from(KINDS)),
        st.tuples(st.just("upload"), st.sampled_from(["c0", "c1"]), st.sampled_from(VIDEOS),
                  st.just("")),
        st.tuples(st.just("delete"), st.sampled_from(["c0", "c1"]), st.sampled_from(VIDEOS),
                  st.just("")),
        st.tuples(st.sampled_from(["follow", "unfollow", "block", "unblock"]),
                  st.sampled_from(USERS), st.sampled_from(USERS), st.just("")),
        st.tuples(st.just("reset"), st.sampled_from(USERS), st.just(""), st.just("")),
    ),
    max_size=40,
)  # fmt: skip


def play(engine: Engine, batch: list[tuple[str, str, str, str]], first: int) -> None:
    for n, (what, who, other, kind) in enumerate(batch, start=first):
        stamp = (10 * n, f"e{n:03d}", 0)
        if what == "interact":
            completed = kind == "complete"
            kind = "watch" if completed else kind
            engine.interact(who, other, kind, stamp, 700, completed)
        elif what == "upload":
            engine.upload(other, who, 10 * n, 1000)
        elif what == "delete":
            engine.delete(other, who)
        elif what in ("follow", "unfollow"):
            engine.follow(who, other, stamp, what == "follow")
        elif what in ("block", "unblock"):
            engine.block(who, other, stamp, what == "block")
        else:
            engine.reset(who, 10 * n)


def engine_with_a_little_of_everything() -> Engine:
    engine = Engine()
    for n in range(4):
        engine.upload(f"v{n}", f"c{n % 2}", 10 + n, 1000)
    for n, (user, kind) in enumerate([("ü", "like"), ("u2", "watch"), ("ü", "share")] * 3):
        engine.interact(user, f"v{n % 4}", kind, (100 + n, f"e{n}", 0), 800, kind == "watch")
    engine.follow("ü", "c1", (7, "f", 0), True)
    engine.block("u2", "c0", (8, "b", 0), True)
    engine.delete("v3", "c1")
    return engine


def test_the_snapshot_json_is_what_json_dumps_gives() -> None:
    snapshot = engine_with_a_little_of_everything().state()
    data = {**snapshot.data, "users": [json.loads(row) for row in snapshot.data["users"]]}
    whole = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    assert snapshot.data_json() == whole


def test_loaded_parts_are_the_same_engine() -> None:
    engine = engine_with_a_little_of_everything()
    engine.position = (12,)
    loaded = Engine.from_parts(*engine.parts())
    assert loaded.position == (12,) and loaded.digest() == engine.digest()
    assert loaded.users["ü"].follows == engine.users["ü"].follows
    assert loaded.hidden_creators("c0") == {"u2"}  # who blocks whom, without decoding u2
    assert loaded.catalog == engine.catalog
    for owner in ("c0", "c1", "ü", "nobody"):
        assert loaded.by_owner.videos_of(owner) == engine.by_owner.videos_of(owner)
    assert loaded.totals.tolist() == engine.totals.tolist()


@settings(max_examples=60, deadline=None)
@given(before=steps, after=steps, again=steps)
def test_a_loaded_engine_that_goes_on_ends_where_one_that_never_stopped_does(
    before: list[tuple[str, str, str, str]],
    after: list[tuple[str, str, str, str]],
    again: list[tuple[str, str, str, str]],
) -> None:
    kept = Engine()
    play(kept, before, 0)
    loaded = Engine.from_parts(*kept.parts())
    play(kept, after, 100)
    play(loaded, after, 100)
    # A checkpoint of a loaded engine: users it never decoded go as they were read.
    loaded = Engine.from_parts(*loaded.parts())
    play(kept, again, 200)
    play(loaded, again, 200)
    assert loaded.digest() == kept.digest()
    assert loaded.totals.tolist() == kept.totals.tolist()
    for user in USERS:
        assert loaded.followees(user) == kept.followees(user)
        assert loaded.hidden_creators(user) == kept.hidden_creators(user)
        picks = [rank(e, user, limit=4, now=10_000) for e in (kept, loaded)]
        assert [p.video_id for p in picks[0]] == [p.video_id for p in picks[1]]
