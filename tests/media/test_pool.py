"""The media worker pool with real worker processes, real files and real hangs.

A job that never ends is a path to a named pipe nobody writes to: FFmpeg's
open blocks on it for ever, so the time limit is exercised without any
timing threshold.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormproof.errors import Unavailable, Unprocessable
from stormproof.media import (
    Examined,
    FrameRateTooHigh,
    InvalidVideo,
    MediaBusy,
    MediaLimits,
    MediaPool,
    VideoTooComplex,
    make_video,
)
from tests.media.clips import tiny_frames

LIMIT_MS = 60_000


def hanging(tmp_path: Path, name: str = "hang.mp4") -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child the pool has reaped is gone; an unreaped one would be a zombie.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
async def pool() -> AsyncIterator[MediaPool]:
    media = MediaPool(MediaLimits(), max_duration_ms=LIMIT_MS, timeout_s=0.5, max_waiting=1)
    try:
        yield media
    finally:
        await media.close()


async def test_a_video_is_probed_and_thumbnailed_in_a_worker_process(
    pool: MediaPool, video_file: Path
) -> None:
    examined = await pool.examine(video_file)
    assert isinstance(examined, Examined)
    assert (examined.info.width, examined.info.height) == (320, 568)
    assert examined.info.duration_ms == 2000
    assert examined.thumbnail.startswith(b"\xff\xd8")
    [worker] = pool.pids
    assert worker != os.getpid()
    await pool.examine(video_file)
    assert pool.pids == [worker]  # workers stay for the next job


async def test_refusals_come_back_as_our_own_errors(pool: MediaPool, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    with pytest.raises(InvalidVideo) as caught:
        await pool.examine(notes)
    assert (caught.value.status, caught.value.code) == (422, "invalid_video")
    with pytest.raises(FrameRateTooHigh) as rate:
        await pool.examine(tiny_frames(tmp_path / "tiny.mp4", 500))
    assert rate.value.detail == {"max_fps": 120.0}
    assert pool.discarded == 0


async def test_a_job_over_the_time_limit_is_killed_and_the_pool_works_after(
    pool: MediaPool, tmp_path: Path, video_file: Path
) -> None:
    await pool.examine(video_file)
    [worker] = pool.pids
    with pytest.raises(VideoTooComplex) as caught:
        await pool.examine(hanging(tmp_path))
    assert (caught.value.status, caught.value.code) == (422, "video_too_complex")
    assert not alive(worker)
    assert pool.discarded == 1 and pool.pids == []
    assert (await pool.examine(video_file)).info.duration_ms == 2000
    assert pool.pids != [worker]


async def test_a_worker_that_dies_is_answered_422_and_replaced(
    tmp_path: Path, video_file: Path
) -> None:
    pool = MediaPool(MediaLimits(), max_duration_ms=LIMIT_MS, timeout_s=600)
    try:
        await pool.examine(video_file)
        [worker] = pool.pids
        job = asyncio.create_task(pool.examine(hanging(tmp_path)))
        await asyncio.sleep(0)  # the job is sent to the worker
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(VideoTooComplex):
            await job
        assert (await pool.examine(video_file)).info.width == 320
        assert pool.discarded == 1
    finally:
        await pool.close()


async def test_a_full_queue_is_refused_at_once_with_media_busy(tmp_path: Path) -> None:
    """One worker and one waiting place: the third upload is refused, not queued."""
    pool = MediaPool(MediaLimits(), max_duration_ms=LIMIT_MS, timeout_s=600, max_waiting=1)
    try:
        jobs = [asyncio.create_task(pool.examine(hanging(tmp_path, f"{n}.mp4"))) for n in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(MediaBusy) as caught:
            await pool.examine(tmp_path / "3.mp4")
        assert isinstance(caught.value, Unavailable)
        assert (caught.value.status, caught.value.code) == (503, "media_busy")
        assert caught.value.detail["retry_after"] > 0
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        assert pool.pids == []  # the cancelled job's worker was killed
    finally:
        await pool.close()


async def test_close_stops_every_worker(video_file: Path) -> None:
    pool = MediaPool(MediaLimits(), max_duration_ms=LIMIT_MS, workers=2)
    await asyncio.gather(pool.examine(video_file), pool.examine(video_file))
    workers = pool.pids
    assert len(workers) == 2
    await pool.close()
    assert not any(alive(pid) for pid in workers)


async def test_a_worker_without_memory_to_decode_refuses_the_video(tmp_path: Path) -> None:
    """The address-space limit, set below what the interpreter already holds:
    what the job allocates fails, and the upload is refused (422). FFmpeg
    reports some failed allocations as undecodable data, so the code may be
    invalid_video rather than video_too_complex."""
    clip = make_video(tmp_path / "big.mp4", width=1024, height=1024, seconds=0.2, fps=5)
    pool = MediaPool(MediaLimits(), max_duration_ms=LIMIT_MS, memory_bytes=64 * 1024 * 1024)
    try:
        with pytest.raises(Unprocessable) as caught:
            await pool.examine(clip)
        assert caught.value.code in ("video_too_complex", "invalid_video")
    finally:
        await pool.close()
