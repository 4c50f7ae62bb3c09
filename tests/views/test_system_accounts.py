"""A system account (a region's prober, ADR 020) counts nowhere — in the
views and in the For You engine — whatever order its events arrive in: its
likes, watches, shares, comments and follows may be applied before its
sign-up, which another region wrote to another partition."""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import (
    AccountCreated,
    CommentPosted,
    Event,
    FollowStarted,
    Interaction,
    InteractionsRecorded,
    Payload,
    VideoUploaded,
    new_event,
)
from stormproof.log import Entry
from stormproof.recommend.engine import Engine
from stormproof.views import all_views
from stormproof.views.store import ViewStore

SYSTEM = "sys_probe"
#: the views that count or list what people do
COUNTING = ("engagement", "studio", "follows", "history", "comments", "foryou")


def _uploaded(video_id: str, owner: str) -> VideoUploaded:
    return VideoUploaded(
        video_id=video_id, owner_id=owner, caption="", blob="a" * 64, size=1,
        content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=1000, width=64,
        height=64, codec="h264",
    )  # fmt: skip


def _acts(actor: str, *items: tuple[str, str]) -> InteractionsRecorded:
    return InteractionsRecorded(
        items=tuple(
            Interaction.model_validate(
                {"type": kind, "video_id": video, "watched_ms": 900 if kind == "watch" else 0}
            )
            for kind, video in items
        )
    )


def _events(name: str, writes: list[tuple[str, Payload]]) -> list[Event]:
    return [
        new_event(payload, actor=actor, at=1_000 + 7 * n, id=f"{name}{n:03}")
        for n, (actor, payload) in enumerate(writes)
    ]


PEOPLE = _events(
    "p",
    [
        ("", AccountCreated(user_id="u_ann", username="ann", password_hash="x")),
        ("", AccountCreated(user_id="u_bob", username="bob", password_hash="x")),
        ("u_ann", _uploaded("v1", "u_ann")),
        ("u_ann", _uploaded("v2", "u_ann")),
        ("u_bob", _acts("u_bob", ("watch", "v1"), ("like", "v1"), ("share", "v1"))),
        ("u_bob", _acts("u_bob", ("skip", "v2"))),
        ("u_bob", CommentPosted(comment_id="c1", video_id="v1", text="nice")),
        ("u_bob", FollowStarted(followee_id="u_ann")),
    ],
)
PROBER = _events(
    "s",
    [
        ("", AccountCreated(user_id=SYSTEM, username="probe", password_hash="x", system=True)),
        (SYSTEM, _acts(SYSTEM, ("watch", "v1"), ("like", "v1"), ("share", "v1"))),
        (SYSTEM, _acts(SYSTEM, ("watch", "v2"), ("not_interested", "v2"), ("skip", "v1"))),
        (SYSTEM, CommentPosted(comment_id="c2", video_id="v1", text="probe")),
        (SYSTEM, FollowStarted(followee_id="u_ann")),
        (SYSTEM, _uploaded("v_probe", SYSTEM)),
        (SYSTEM, _acts(SYSTEM, ("watch", "v_probe"), ("like", "v_probe"))),
        # a person's follow of a system account: the API refuses it, and a
        # writer that did not would still count for nobody
        ("u_bob", FollowStarted(followee_id=SYSTEM)),
    ],
)


def _store(path: Path, partitions: int = 1) -> tuple[ViewStore, Engine]:
    engine = Engine(partitions=partitions)
    return ViewStore(path, all_views(), partitions=partitions, followers=[engine]), engine


def _in_order(path: Path, events: list[Event]) -> dict[str, str]:
    store, _ = _store(path)
    store.apply([Entry(0, n + 1, f"k_{e.id}", e) for n, e in enumerate(events)])
    return store.digests()["views"]


def _spread(events: list[Event], rng: random.Random) -> list[list[Entry]]:
    """The events over 3 partitions, the partitions interleaved in batches."""
    partitions: list[list[Entry]] = [[], [], []]
    for event in events:
        part = partitions[rng.randrange(3)]
        part.append(Entry(0, 0, f"k_{event.id}", event))
    for p, part in enumerate(partitions):
        part[:] = [replace(entry, partition=p, seq=n + 1) for n, entry in enumerate(part)]
    batches, cursors = [], [0, 0, 0]
    while any(c < len(part) for c, part in zip(cursors, partitions, strict=True)):
        p = rng.choice([i for i in range(3) if cursors[i] < len(partitions[i])])
        size = rng.randint(1, 3)
        batches.append(partitions[p][cursors[p] : cursors[p] + size])
        cursors[p] += size
    return batches


def test_what_a_system_account_does_counts_in_no_view_and_not_in_for_you(
    tmp_path: Path,
) -> None:
    people = _in_order(tmp_path / "people.sqlite", PEOPLE)
    everyone = _in_order(tmp_path / "all.sqlite", PEOPLE + PROBER)
    for name in COUNTING:
        assert everyone[name] == people[name], name
    # It exists, though, like its video (a prober plays it back).
    assert everyone["accounts"] != people["accounts"]
    assert everyone["videos"] != people["videos"]
    # And a person's doing does count.
    assert _in_order(tmp_path / "none.sqlite", PEOPLE[:4])["engagement"] != people["engagement"]


def test_a_system_account_is_flagged_and_its_video_is_never_a_candidate(tmp_path: Path) -> None:
    store, engine = _store(tmp_path / "views.sqlite")
    everything = PEOPLE + PROBER
    store.apply([Entry(0, n + 1, f"k_{e.id}", e) for n, e in enumerate(everything)])
    rows = store.reader().execute("SELECT user_id, system FROM accounts ORDER BY 1").fetchall()
    assert rows == [("sys_probe", 1), ("u_ann", 0), ("u_bob", 0)]
    assert engine.find("v_probe") is None and SYSTEM not in engine.users
    assert engine.followees("u_bob") == {"u_ann"}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_system_account_counts_nowhere_whatever_order_its_events_arrive_in(seed: int) -> None:
    rng = random.Random(seed)
    events = PEOPLE + PROBER
    rng.shuffle(events)
    with tempfile.TemporaryDirectory() as folder:
        expected = _in_order(Path(folder) / "in-order.sqlite", PEOPLE + PROBER)
        store, _ = _store(Path(folder) / "spread.sqlite", partitions=3)
        for batch in _spread(events, rng):
            store.apply(batch)
        assert store.digests()["views"] == expected
