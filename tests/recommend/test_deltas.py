"""Delta checkpoints (ADR 032): a base and the deltas after it load as the
engine stood at the last one — as a full save at that position loads, and as
an engine that applied the same events from nothing — and a delta that is
torn, damaged, of another base or past the views ends the chain there."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.pairs import PairCounts
from stormproof.snapshots import Snapshots
from tests.conftest import make_settings
from tests.recommend.test_snapshot import play
from tests.recommend.test_snapshot import steps as snapshot_steps

rounds = st.lists(
    st.tuples(snapshot_steps, st.sampled_from(["delta", "delta", "full", "fail", "digest"])),
    min_size=1, max_size=6,
)  # fmt: skip


def _rebuilt(batches: list[list[Any]], position: int) -> Engine:
    """An engine that applied the same batches from nothing."""
    engine = Engine()
    for n, batch in enumerate(batches):
        play(engine, batch, 100 * n)
    engine.position = (position,)
    return engine


@settings(max_examples=60, deadline=None)
@given(rounds=rounds)
def test_a_base_and_its_deltas_load_as_a_full_save_and_a_rebuild_at_that_position(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[tuple[list[Any], str]]
) -> None:
    folder = tmp_path_factory.mktemp("deltas")
    path = folder / "foryou.checkpoint"
    engine = Engine()
    saved: tuple[int, str] | None = None
    catalog: list[tuple[int, str, int]] = []
    for n, (batch, then) in enumerate(rounds):
        play(engine, batch, 100 * n)
        engine.position = (n + 1,)
        if then in ("delta", "full"):
            checkpoint.save(engine, path, full=then == "full")
            saved = n + 1, engine.digest()
            catalog = list(engine.catalog)  # not in the digest: ranking reads it
            base = engine.checkpoint_base
            assert base is not None
            assert (base.number == 0) == (then == "full" or len(checkpoint.delta_files(path)) == 0)
            assert sorted(checkpoint.delta_files(path)) == list(range(1, base.number + 1))
        elif then == "fail":
            with engine.lock:
                taken = engine.take_unsaved()
            engine.unsaved(taken)  # as when the child saving them died
        elif then == "digest":
            engine.digest()
    if saved is None:
        assert checkpoint.load(path, EngineConfig(), (len(rounds),)) is None
        return
    at, digest = saved
    loaded = checkpoint.load(path, EngineConfig(), (len(rounds),))
    assert loaded is not None and (loaded.position, loaded.digest()) == ((at,), digest)
    ids = loaded.item_ids
    assert [(t, v) for t, v, _ in loaded.catalog] == [(t, v) for t, v, _ in catalog]
    assert all(ids[i] == v for _, v, i in loaded.catalog)
    assert _rebuilt([batch for batch, _ in rounds[:at]], at).digest() == digest
    full = folder / "full" / "foryou.checkpoint"
    checkpoint.save(loaded, full, full=True)
    from_full = checkpoint.load(full, EngineConfig(), (at,))
    assert from_full is not None and from_full.digest() == digest
    # The loaded engine goes on: its deltas extend the chain it loaded.
    more = [("interact", "u2", "v1", "like"), ("upload", "c1", "v9", ""),
            ("interact", "u3", "v9", "complete"), ("block", "u3", "c1", "")]  # fmt: skip
    for engine_ in (loaded, engine):
        play(engine_, more, 10_000)
        engine_.position = (len(rounds) + 1,)
    checkpoint.save(loaded, path)
    again = checkpoint.load(path, EngineConfig(), (len(rounds) + 1,))
    assert again is not None and again.digest() == loaded.digest()
    if at == len(rounds):  # nothing was left unsaved: both stand at the same events
        assert again.digest() == engine.digest()


def _chain_of_three(path: Path) -> tuple[Engine, list[str]]:
    """A base and two deltas; the digests at each of the three files."""
    engine = Engine()
    play(engine, [("upload", "c0", "v0", ""), ("interact", "u2", "v0", "like")], 0)
    engine.position = (1,)
    checkpoint.save(engine, path)
    digests = [engine.digest()]
    play(engine, [("upload", "c1", "v1", ""), ("interact", "u2", "v1", "complete")], 100)
    engine.position = (2,)
    checkpoint.save(engine, path)
    digests.append(engine.digest())
    play(engine, [("interact", "u3", "v1", "share"), ("block", "u3", "c0", "")], 200)
    engine.position = (3,)
    checkpoint.save(engine, path)
    digests.append(engine.digest())
    assert sorted(checkpoint.delta_files(path)) == [1, 2]
    return engine, digests


def _loaded(path: Path, views_at: int = 3) -> tuple[int, str] | None:
    loaded = checkpoint.load(path, EngineConfig(), (views_at,))
    return None if loaded is None else (loaded.position[0], loaded.digest())


def test_a_torn_or_damaged_delta_ends_the_chain_before_it(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    _, digests = _chain_of_three(path)
    files = checkpoint.delta_files(path)
    assert _loaded(path) == (3, digests[2])
    assert _loaded(path, views_at=2) == (2, digests[1])  # the last delta is past the views
    whole = files[2].read_bytes()
    files[2].write_bytes(whole[: len(whole) // 2])  # torn, as a kill mid-write would
    assert _loaded(path) == (2, digests[1])
    files[2].write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))  # one bit flipped in its body
    assert _loaded(path) == (2, digests[1])
    files[2].write_bytes(whole)
    first = files[1].read_bytes()
    files[1].write_bytes(first[:100])  # the first torn: the second no longer follows anything
    assert _loaded(path) == (1, digests[0])
    files[1].unlink()
    assert _loaded(path) == (1, digests[0])


def test_after_a_broken_chain_the_next_delta_replaces_what_followed(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    _chain_of_three(path)
    files = checkpoint.delta_files(path)
    files[1].write_bytes(b"stormproof-foryou-delta\n{")
    loaded = checkpoint.load(path, EngineConfig(), (3,))
    assert loaded is not None and loaded.position == (1,)
    play(loaded, [("interact", "ü", "v0", "watch")], 300)
    loaded.position = (4,)
    checkpoint.save(loaded, path)  # delta 1 again; the old delta 2 goes
    assert sorted(checkpoint.delta_files(path)) == [1]
    assert _loaded(path, views_at=4) == (4, loaded.digest())


def test_a_new_base_drops_the_deltas_and_stale_ones_never_apply(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine, digests = _chain_of_three(path)
    stale = {n: file.read_bytes() for n, file in checkpoint.delta_files(path).items()}
    checkpoint.save(engine, path, full=True)
    assert checkpoint.delta_files(path) == {}
    for n, data in stale.items():  # as if a kill came before they were deleted
        (tmp_path / f"foryou.checkpoint.delta-{n:06d}").write_bytes(data)
    assert _loaded(path) == (3, digests[2])
    loaded = checkpoint.load(path, EngineConfig(), (3,))
    assert loaded is not None and loaded.checkpoint_base is not None
    assert loaded.checkpoint_base.number == 0  # they extend another base


def test_deltas_past_their_share_of_the_base_are_compacted(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine = Engine()
    for n in range(60):
        play(engine, [("upload", "c0", f"v{n}", ""), ("interact", f"u{n}", f"v{n}", "like")], n)
        engine.position = (n + 1,)
        checkpoint.save(engine, path)
        base = engine.checkpoint_base
        assert base is not None
        assert base.number <= checkpoint.MAX_DELTAS
        assert len(checkpoint.delta_files(path)) == base.number
    numbers = []
    for n in range(20):
        play(engine, [("interact", "u0", f"v{n}", "share")], 1000 + n)
        engine.position = (61 + n,)
        checkpoint.save(engine, path)
        assert engine.checkpoint_base is not None
        numbers.append(engine.checkpoint_base.number)
    assert 0 in numbers[1:]  # a base was written again along the way
    assert _loaded(path, views_at=80) == (80, engine.digest())


def test_a_delta_save_killed_in_its_child_leaves_the_last_good_state(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine, digests = _chain_of_three(path)
    play(engine, [("interact", "u2", "v0", "share")], 300)
    engine.position = (4,)
    pid, position, saving = checkpoint.save_in_child(engine, path)
    os.kill(pid, signal.SIGKILL)  # wherever it was: before, during or after the write
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    checkpoint.saved_by_child(engine, path, position, saving, ok=ok)
    assert saving.delta and position == (4,)
    found = _loaded(path, views_at=4)
    assert found in ((3, digests[2]), (4, engine.digest()))  # never anything else
    if not ok:
        assert engine.take_unsaved().users == saving.taken.users  # given back
        engine.unsaved(saving.taken)
    checkpoint.save(engine, path)
    assert _loaded(path, views_at=4) == (4, engine.digest())


def test_only_rows_are_the_rows_asked_for_empty_ones_too() -> None:
    pairs = PairCounts()
    pairs.add(1, 2, 3)
    pairs.add(1, 3, 1)
    items, bounds, cols, vals = pairs.arrays()
    loaded = PairCounts()
    loaded.load(items, bounds, cols, vals)
    loaded.mark([1, 3])
    loaded.add(1, 3, -1)  # row 3 becomes empty
    loaded.mark([4, 2])
    loaded.add(4, 2, 5)
    assert loaded.take_unsaved() == {1, 2, 3, 4}
    only = np.array([1, 2, 3, 4, 7], dtype=np.int64)  # 7: asked for, never there
    items, bounds, cols, vals = loaded.arrays(only)
    assert items.tolist() == [1, 2, 3, 4, 7] and bounds.tolist() == [0, 1, 3, 3, 4, 4]
    assert cols.tolist() == [2, 1, 4, 2] and vals.tolist() == [3, 3, 5, 5]
    again = PairCounts()
    again.load(*pairs.arrays())
    again.replace(items, bounds, cols, vals)
    assert [(i, c.tolist(), v.tolist()) for i, c, v in again.rows()] == [
        (i, c.tolist(), v.tolist()) for i, c, v in loaded.rows()
    ]


def test_compacted_to_one_file_it_loads_as_base_and_deltas(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    _, digests = _chain_of_three(path)
    target = tmp_path / "snapshot" / "foryou.checkpoint"
    target.parent.mkdir()
    assert checkpoint.compact_to(path, target)
    assert checkpoint.delta_files(target) == {}
    assert _loaded(target) == (3, digests[2])
    assert not checkpoint.compact_to(tmp_path / "none", tmp_path / "nothing")


def test_a_snapshot_ships_the_base_and_deltas_merged(tmp_path: Path) -> None:
    """A peer restoring from a snapshot (ADR 017) gets one checkpoint, the
    base with its deltas merged by a child of the maker: it stands where the
    last delta stands, not where the base does."""
    settings = make_settings(tmp_path / "region")
    _, digests = _chain_of_three(settings.checkpoint_path)
    target = tmp_path / "partial" / "foryou.checkpoint"
    target.parent.mkdir()
    header = Snapshots(settings)._copy_checkpoint(target)
    assert header is not None and header.position == [3]
    assert checkpoint.delta_files(target) == {}
    assert _loaded(target) == (3, digests[2])


@settings(max_examples=30, deadline=None)
@given(order=st.permutations(range(14)), moves=st.lists(st.integers(0, 13), max_size=6))
def test_with_a_narrow_pair_window_every_pair_row_changed_is_in_the_delta(
    tmp_path_factory: pytest.TempPathFactory, order: list[int], moves: list[int]
) -> None:
    """Pairs reach only ``pair_window`` apart: a video put into a long
    timeline, or moved in it, changes rows around it and no others; a delta
    that missed one would load as another engine."""
    config = EngineConfig(pair_window=3)
    path = tmp_path_factory.mktemp("narrow") / "foryou.checkpoint"
    engine = Engine(config)
    for n, v in enumerate(order[:8]):
        engine.interact("u", f"v{v}", "like", (1000 + 100 * v, f"a{n}", 0))
        engine.interact("w", f"v{v}", "share", (50 * n, f"b{n}", 0))
    engine.position = (1,)
    checkpoint.save(engine, path)
    for n, v in enumerate(order[8:] + moves):  # new ones, and earlier first contacts
        engine.interact("u", f"v{v}", "watch", (1000 + 100 * v - 7 * n, f"c{n}", 0), 500, True)
    engine.position = (2,)
    checkpoint.save(engine, path)
    assert engine.checkpoint_base is not None and engine.checkpoint_base.number == 1
    loaded = checkpoint.load(path, config, (2,))
    assert loaded is not None and loaded.digest() == engine.digest()


def test_a_checkpoint_of_before_deltas_loads_and_its_next_save_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine, _ = _chain_of_three(tmp_path / "chain" / "foryou.checkpoint")
    checkpoint._write(engine.config, *engine.parts(), path)  # no id: written before ADR 032
    loaded = checkpoint.load(path, EngineConfig(), (3,))
    assert loaded is not None and loaded.digest() == engine.digest()
    assert loaded.checkpoint_base is not None and loaded.checkpoint_base.base_id == ""
    play(loaded, [("interact", "u2", "v0", "share")], 300)
    loaded.position = (4,)
    checkpoint.save(loaded, path)
    assert loaded.checkpoint_base is not None and loaded.checkpoint_base.base_id != ""
    assert checkpoint.delta_files(path) == {} and _loaded(path, 4) == (4, loaded.digest())


def test_after_a_failed_whole_save_the_next_save_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "foryou.checkpoint"
    engine, _ = _chain_of_three(path)
    play(engine, [("interact", "u2", "v0", "share")], 300)
    engine.position = (4,)
    with engine.lock:
        saving = checkpoint._plan(engine, path, full=True)
    checkpoint._write_planned(engine, saving)  # the base in place, then the child died
    checkpoint.saved_by_child(engine, path, (4,), saving, ok=False)
    assert engine.checkpoint_base is None
    play(engine, [("interact", "u3", "v0", "like")], 400)
    engine.position = (5,)
    checkpoint.save(engine, path)
    assert engine.checkpoint_base is not None and engine.checkpoint_base.number == 0
    assert _loaded(path, 5) == (5, engine.digest())


def test_videos_uploaded_since_the_base_take_their_place_in_the_catalog(tmp_path: Path) -> None:
    """Ties of upload time are ordered by id, as the engine orders them."""
    path = tmp_path / "foryou.checkpoint"
    engine = Engine()
    for n, at in enumerate([5, 1, 9, 5, 3]):
        engine.upload(f"v{n}", "c0", at, 1000)
    engine.position = (1,)
    checkpoint.save(engine, path)
    for video_id, at in [("a", 5), ("z", 5), ("v2x", 5), ("b", 0), ("y", 99), ("v1a", 1)]:
        engine.upload(video_id, "c1", at, 1000)
    engine.delete("v3", "c0")
    engine.position = (2,)
    checkpoint.save(engine, path)
    assert engine.checkpoint_base is not None and engine.checkpoint_base.number == 1
    loaded = checkpoint.load(path, EngineConfig(), (2,))
    assert loaded is not None
    assert [v for _, v, _ in loaded.catalog] == [v for _, v, _ in engine.catalog]
    assert [(t, v) for t, v, _ in loaded.catalog] == sorted((t, v) for t, v, _ in engine.catalog)


def test_whole_deltas_that_do_not_fit_their_base_leave_the_base_alone(tmp_path: Path) -> None:
    """A delta whose checksum holds but whose content does not fit (only a
    bug could write one): the base loads, and the tail is replayed — not a
    rebuild from nothing."""
    path = tmp_path / "foryou.checkpoint"
    _, digests = _chain_of_three(path)
    delta = checkpoint._read_delta(checkpoint.delta_files(path)[2], EngineConfig(), 2)
    assert delta is not None
    data = {**delta.data, "items_from": 999}  # its videos follow nothing
    head = {**checkpoint.header_for(EngineConfig(), delta.position),
            "delta": {"id": delta.id, "base": delta.base, "previous": delta.previous,
                      "number": 2, "after": list(delta.after)}}  # fmt: skip
    magic = b"stormproof-foryou-delta\n"
    file = checkpoint.delta_files(path)[2]
    checkpoint._write_file(magic, head, data, dict(delta.arrays), file, checksum=True)
    assert _loaded(path) == (1, digests[0])


def test_a_base_and_a_delta_hold_only_the_trending_slots_with_points(tmp_path: Path) -> None:
    """A slot no point reached is zeros in memory, as is one whose points
    were taken back; neither is written (listing them put 48 rows per video
    in every base: 612 MB of a 1 GB checkpoint at 1M entries)."""
    engine = Engine()
    for n in range(3):
        engine.upload(f"v{n}", "c", 1, 1000)
    engine.interact("u1", "v0", "like", (10, "e1", 0))
    engine.position = (1,)
    path = tmp_path / "foryou.checkpoint"
    checkpoint.save(engine, path, full=True)
    _, _, arrays = engine.parts()
    assert arrays["trend"].reshape(-1, 4)[:, 3].tolist() == [
        int(engine.trend_points.sum())
    ]  # one slot, v0's
    engine.interact("u2", "v1", "like", (11, "e2", 0))
    engine.interact("u1", "v0", "unlike", (12, "e3", 0))
    engine.position = (3,)
    checkpoint.save(engine, path)
    delta = checkpoint._read_delta(checkpoint.delta_files(path)[1], EngineConfig(), 1)
    assert delta is not None
    rows = np.asarray(delta.arrays["trend"]).reshape(-1, 4)
    assert rows[:, 0].tolist() == [1]  # v1's slot; v0's, back at 0 points, is not written
    loaded = checkpoint.load(path, EngineConfig(), (3,))
    assert loaded is not None and loaded.digest() == engine.digest()
