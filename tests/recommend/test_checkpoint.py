"""Checkpoint + replay of the tail equals replay from zero; a checkpoint we
cannot trust is ignored, never half-used."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.actions import accounts, social, videos
from stormproof.media import make_video
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.snapshot import Encoded
from stormproof.region import Region
from stormproof.settings import Settings
from tests.conftest import make_settings
from tests.recommend.test_snapshot import play
from tests.recommend.test_snapshot import steps as snapshot_steps


async def _activity(region: Region, clip: Path, round_: int) -> None:
    """Uploads, watches, likes and a follow by a few users."""
    ids = []
    for n in range(3):
        user = f"u_{round_}_{n}"
        await accounts.sign_up(region, f"user{round_}x{n}", "password1", idempotency_key=None)
        written = await videos.upload_video(
            region,
            user,
            clip,
            clip.stat().st_size,
            f"clip {n}",
            media=region.media,
            idempotency_key=None,
        )
        ids.append(written.event.data.video_id)  # type: ignore[attr-defined]
    for n, video in enumerate(ids):
        events = [
            {"type": "watch", "video_id": video, "watched_ms": 300, "completed": n % 2 == 0},
            {"type": "like", "video_id": ids[(n + 1) % 3]},
        ]
        await social.record_interactions(region, f"viewer{n}", events, idempotency_key=None)


async def _digest(settings: Settings) -> tuple[tuple[int, ...], str]:
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    try:
        return region.engine.position, region.engine.digest()
    finally:
        await region.close()


async def test_restart_loads_the_checkpoint_and_replays_only_the_tail(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region")
    clip = make_video(tmp_path / "clip.mp4", seconds=0.3, seed=3, width=64, height=64)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    await _activity(region, clip, 0)
    saved = await asyncio.to_thread(checkpoint.save, region.engine, settings.checkpoint_path)
    await _activity(region, clip, 1)
    final = region.engine.position
    await region.close()
    assert saved < final

    loaded = checkpoint.load(settings.checkpoint_path, EngineConfig(), final)
    assert loaded is not None and loaded.position == saved  # the tail is not in it
    resumed = await _digest(settings)  # checkpoint + tail
    settings.checkpoint_path.unlink()
    from_zero = await _digest(settings)
    assert resumed == from_zero and resumed[0] == final


async def test_a_checkpoint_ahead_of_the_views_or_damaged_is_ignored(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region")
    engine = Engine()
    engine.upload("v", "c", 1, 1000)
    engine.position = (5,)
    path = settings.checkpoint_path
    checkpoint.save(engine, path)
    assert checkpoint.load(path, EngineConfig(), (5,)) is not None
    assert checkpoint.load(path, EngineConfig(), (4,)) is None  # the views lost a tail
    assert checkpoint.load(path, EngineConfig(buckets=12), (5,)) is None  # other config
    path.write_bytes(path.read_bytes()[:-10])
    assert checkpoint.load(path, EngineConfig(), (5,)) is None  # truncated
    path.write_bytes(b"not a checkpoint")
    assert checkpoint.load(path, EngineConfig(), (5,)) is None


async def test_the_region_saves_checkpoints_by_itself(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "region", checkpoint_every_s=0.05)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    try:
        await accounts.sign_up(region, "ann", "password1", idempotency_key=None)
        await social.reset_for_you(region, "u_ann", idempotency_key=None)
        for _ in range(100):
            loaded = checkpoint.load(settings.checkpoint_path, EngineConfig(), (10,))
            if loaded is not None and loaded.position == region.engine.position:
                break
            await asyncio.sleep(0.05)
        assert loaded is not None and loaded.digest() == region.engine.digest()
    finally:
        await region.close()


async def test_many_writes_save_a_checkpoint_before_the_period_is_up(tmp_path: Path) -> None:
    # An hour between periodic saves, but one after every 3 entries: a
    # restart under many writes replays a short tail, not an hour of them.
    settings = make_settings(
        tmp_path / "region", checkpoint_every_s=3600, checkpoint_every_entries=3,
        checkpoint_gap_s=0,
    )  # fmt: skip
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    try:
        for name in ("ann", "ben", "cat"):
            await accounts.sign_up(region, name, "password1", idempotency_key=None)
        written = region.engine.position
        assert sum(written) >= 3
        for _ in range(100):
            loaded = checkpoint.load(settings.checkpoint_path, EngineConfig(), written)
            if loaded is not None and sum(loaded.position) >= 3:
                break
            await asyncio.sleep(0.05)
        assert loaded is not None and sum(loaded.position) >= 3
    finally:
        await region.close()


def test_a_forked_save_writes_the_state_as_copied_while_the_engine_moves_on(
    tmp_path: Path,
) -> None:
    engine = Engine()
    for v in range(4):
        engine.upload(f"v{v}", "c", v, 1000)
        engine.interact("u", f"v{v}", "watch", (10 + v, f"e{v}", 0), 1000, True)
    engine.position = (8,)
    before = engine.digest()
    path = tmp_path / "foryou.checkpoint"
    pid, position, _ = checkpoint.save_in_child(engine, path)
    engine.interact("u2", "v1", "like", (20, "e9", 0))  # after the copy: not in the file
    engine.position = (9,)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and position == (8,)
    loaded = checkpoint.load(path, EngineConfig(), (9,))
    assert loaded is not None and loaded.position == (8,)
    assert loaded.digest() == before != engine.digest()


# -- saves that encode only what changed since the last ----------------------

rounds = st.lists(st.tuples(snapshot_steps, st.sampled_from(["save", "fail", "digest", "none"])),
                  min_size=1, max_size=5)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(rounds=rounds)
def test_a_chain_of_saves_each_encoding_only_what_changed_loads_as_the_engine_stood(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[tuple[list[Any], str]]
) -> None:
    """Each save copies the users nothing changed since the last checkpoint
    from that file, and encodes only the rest. A save that failed gives its
    users back; a digest in between (which takes the engine's own copies)
    changes nothing; and whatever the order, the last file loads as the
    engine stood when it was saved."""
    path = tmp_path_factory.mktemp("chain") / "foryou.checkpoint"
    engine = Engine()
    saved: tuple[tuple[int, ...], str] | None = None
    for n, (batch, then) in enumerate(rounds):
        play(engine, batch, 100 * n)
        engine.position = (n + 1,)
        if then == "save":
            checkpoint.save(engine, path)
            saved = engine.position, engine.digest()
        elif then == "fail":
            with engine.lock:
                taken = engine.take_unsaved()
            engine.unsaved(taken)  # as when the child saving them died
        elif then == "digest":
            engine.digest()
    if saved is None:
        assert checkpoint.load(path, EngineConfig(), (len(rounds),)) is None
        return
    loaded = checkpoint.load(path, EngineConfig(), (len(rounds),))
    assert loaded is not None and (loaded.position, loaded.digest()) == saved
    # and the loaded engine's own saves: the users it changed, over that file
    play(loaded, [("interact", "u2", "v1", "like"), ("reset", "ü", "", "")], 10_000)
    loaded.position = (len(rounds) + 1,)
    checkpoint.save(loaded, path)
    again = checkpoint.load(path, EngineConfig(), loaded.position)
    assert again is not None and again.digest() == loaded.digest()


def test_a_forked_save_encodes_only_the_users_changed_since_the_last(tmp_path: Path) -> None:
    """The second save's child copies user rows from the first file: a row
    planted in that file (the same JSON, spelled as no save would write it)
    comes through, which shows the user was not encoded again; a user
    changed since is encoded afresh."""
    engine = Engine()
    engine.upload("v0", "c", 1, 1000)
    engine.interact("u1", "v0", "watch", (10, "e1", 0), 500, False)
    engine.interact("u2", "v0", "like", (11, "e2", 0))
    engine.position = (3,)
    path = tmp_path / "foryou.checkpoint"

    def in_child() -> None:
        pid, position, changed = checkpoint.save_in_child(engine, path, full=True)
        _, status = os.waitpid(pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0
        checkpoint.saved_by_child(engine, path, position, changed, ok=ok)
        assert ok

    in_child()
    base = engine.checkpoint_base
    assert base is not None and (base.path, base.position, base.number) == (path, (3,), 0)
    # Plant a row for u1 that means the same but is spelled differently.
    position, data, arrays = Engine.from_parts(*engine.parts()).parts()
    users = {user_id: engine.state().data["users"][k] for k, user_id in enumerate(data["user_ids"])}
    planted = Encoded(users["u1"].replace(b",", b", ", 1))
    users["u1"] = planted
    encoded = [users[user_id] for user_id in data["user_ids"]]
    arrays["user_bounds"] = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
    arrays["user_rows"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    arrays["id"] = np.frombuffer(bytes.fromhex(base.base_id), dtype=np.uint8)
    checkpoint._write(engine.config, position, data, arrays, path)
    engine.interact("u2", "v0", "share", (12, "e3", 0))
    engine.position = (4,)
    in_child()
    second = checkpoint.load(path, EngineConfig(), (4,))
    assert second is not None
    rows_now = dict(second.users.saved_rows())
    assert rows_now["u1"] == planted  # copied from the file, not encoded again
    assert rows_now["u2"] == engine.state().data["users"][1]  # encoded afresh
    assert engine.take_unsaved().users == set()  # the child's users were saved


def test_a_failed_forked_save_gives_its_users_back(tmp_path: Path) -> None:
    engine = Engine()
    engine.upload("v0", "c", 1, 1000)
    engine.interact("u1", "v0", "like", (10, "e1", 0))
    engine.position = (2,)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the checkpoint's folder should be")
    pid, position, changed = checkpoint.save_in_child(engine, blocked / "foryou.checkpoint")
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    checkpoint.saved_by_child(engine, blocked / "foryou.checkpoint", position, changed, ok=ok)
    assert not ok and changed.taken.users == {"u1"}
    assert engine.checkpoint_base is None and engine.take_unsaved().users == {"u1"}


async def test_a_region_restarted_from_its_base_and_deltas_equals_one_rebuilt(
    tmp_path: Path,
) -> None:
    """Under many writes the region saves deltas beside its first checkpoint
    (ADR 032); a restart loads base + deltas and replays the rest: the same
    engine as one rebuilt from the log."""
    settings = make_settings(
        tmp_path / "region", checkpoint_every_s=3600, checkpoint_every_entries=2,
        checkpoint_gap_s=0,
    )  # fmt: skip
    clip = make_video(tmp_path / "clip.mp4", seconds=0.3, seed=3, width=64, height=64)
    region = Region.open(settings)
    await region.start()
    await region.caught_up()
    try:
        for round_ in range(3):
            await _activity(region, clip, round_)
            for _ in range(200):
                base = region.engine.checkpoint_base
                if base is not None and base.number > round_:
                    break
                await asyncio.sleep(0.05)
        base = region.engine.checkpoint_base
        assert base is not None and base.number >= 2
        assert len(checkpoint.delta_files(settings.checkpoint_path)) == base.number
    finally:
        await region.close()
    loaded = checkpoint.load(settings.checkpoint_path, EngineConfig(), (10**6,))
    assert loaded is not None and loaded.position == base.position
    resumed = await _digest(settings)  # base + deltas + tail
    settings.checkpoint_path.unlink()
    for file in checkpoint.delta_files(settings.checkpoint_path).values():
        file.unlink()
    from_zero = await _digest(settings)
    assert resumed == from_zero
