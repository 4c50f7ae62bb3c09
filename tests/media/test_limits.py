"""Each limit of MediaLimits on real files: refused early, by its own code."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from stormproof.media import (
    FrameRateTooHigh,
    InvalidVideo,
    MediaLimits,
    MediaPool,
    PictureTooLarge,
    TooManyFrames,
    make_video,
    probe,
    thumbnail,
)
from stormproof.settings import Settings
from tests.media.clips import tiny_frames, zero_frames
from tests.media.test_media import remux

LIMIT_MS = 60_000


def grey_level(jpeg: bytes) -> float:
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
        return float(np.mean(frame.to_ndarray(format="gray")))


def test_defaults_are_the_settings_defaults() -> None:
    assert MediaPool.from_settings(Settings()).limits == MediaLimits()


def test_errors_have_their_own_codes() -> None:
    codes = {error("x").code for error in (TooManyFrames, FrameRateTooHigh, PictureTooLarge)}
    assert codes == {"too_many_frames", "frame_rate_too_high", "picture_too_large"}


# --- frame rate and packets ---------------------------------------------------------


def test_many_tiny_frames_are_refused_before_decoding_them(tmp_path: Path) -> None:
    """The attack: 100,000 frames 1 µs apart were accepted as a 100 ms video after
    seconds of decoding. The header's frame count refuses it; with the frames'
    bytes zeroed it still is refused for its rate, so nothing was decoded."""
    clip = tiny_frames(tmp_path / "tiny.mp4", 2000)
    with pytest.raises(FrameRateTooHigh) as caught:
        probe(clip, max_duration_ms=LIMIT_MS)
    assert caught.value.code == "frame_rate_too_high"
    with pytest.raises(FrameRateTooHigh):
        probe(zero_frames(clip, tmp_path / "zeroed.mp4"), max_duration_ms=LIMIT_MS)


def test_many_tiny_frames_without_a_header_count_are_refused_while_reading(
    tmp_path: Path,
) -> None:
    """A live WebM declares neither duration nor frame count: the packets are
    counted against the time they cover as they are read."""
    clip = tiny_frames(tmp_path / "tiny.mkv", 2000, apart_us=1000)
    live = remux(clip, tmp_path / "live.mkv", format="matroska", options={"live": "1"})
    with av.open(str(live)) as container:
        assert container.duration is None and container.streams.video[0].frames == 0
    with pytest.raises(FrameRateTooHigh):
        probe(live, max_duration_ms=LIMIT_MS)
    # The same frames 10 ms apart are 100 fps: accepted.
    slow = tiny_frames(tmp_path / "slow.mkv", 200, apart_us=10_000)
    assert probe(slow, max_duration_ms=LIMIT_MS).duration_ms == pytest.approx(2000, abs=50)


def test_a_120_fps_slow_motion_clip_passes(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "slowmo.mp4", seconds=1.5, width=64, height=64, fps=120)
    assert probe(clip, max_duration_ms=LIMIT_MS).duration_ms == 1500


def test_too_many_packets_are_refused_while_reading(tmp_path: Path) -> None:
    limits = MediaLimits(max_packets=20)
    clip = make_video(tmp_path / "clip.webm", seconds=2.0, width=64, height=64, fps=15)
    live = remux(clip, tmp_path / "live.webm", format="webm", options={"live": "1"})
    for path in (make_video(tmp_path / "clip.mp4", seconds=2.0, width=64, height=64), live):
        with pytest.raises(TooManyFrames) as caught:
            probe(path, max_duration_ms=LIMIT_MS, limits=limits)
        assert caught.value.code == "too_many_frames"
    assert probe(live, max_duration_ms=LIMIT_MS, limits=MediaLimits(max_packets=30))


def test_thumbnail_decodes_at_most_a_second_of_frames_at_the_highest_rate(
    tmp_path: Path,
) -> None:
    """Frame i is grey level i: a thumbnail of 250 frames 1 ms apart, with at
    most 20 fps allowed, shows a frame near the 21st, not the last one."""
    clip = tiny_frames(tmp_path / "tiny.mp4", 250, apart_us=1000)
    limits = MediaLimits(max_fps=20)
    assert limits.frames_within(1.0) == 21
    assert 12 <= grey_level(thumbnail(clip, limits=limits)) <= 30
    assert grey_level(thumbnail(clip)) > 100  # the default limit decodes them all


# --- picture size -------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(96, 64), (64, 96)])
def test_huge_picture_is_refused_without_decoding(tmp_path: Path, width: int, height: int) -> None:
    """Its frames' bytes are zeroed: a decode would fail as invalid_video, so a
    picture_too_large answer was made from the stream's parameters alone."""
    limits = MediaLimits(max_side=64)
    clip = make_video(tmp_path / "clip.mp4", width=width, height=height, seconds=0.5)
    zeroed = zero_frames(clip, tmp_path / "zeroed.mp4")
    with pytest.raises(InvalidVideo):
        probe(zeroed, max_duration_ms=LIMIT_MS)
    for path in (clip, zeroed):
        with pytest.raises(PictureTooLarge) as caught:
            probe(path, max_duration_ms=LIMIT_MS, limits=limits)
        assert caught.value.code == "picture_too_large"
        with pytest.raises(PictureTooLarge):
            thumbnail(path, limits=limits)


def test_a_picture_over_max_pixels_is_refused_and_never_decoded(tmp_path: Path) -> None:
    """Under max_side but over max_pixels. FFmpeg's decoders get ``max_pixels``
    too, so even the frames it decodes while opening a file are refused: the
    zeroed copy, whose size FFmpeg then cannot learn, is at worst invalid."""
    limits = MediaLimits(max_side=100, max_pixels=64 * 64)
    clip = make_video(tmp_path / "clip.mp4", width=64, height=80, seconds=0.5)
    with pytest.raises(PictureTooLarge):
        probe(clip, max_duration_ms=LIMIT_MS, limits=limits)
    with pytest.raises(PictureTooLarge):
        thumbnail(clip, limits=limits)
    with pytest.raises((PictureTooLarge, InvalidVideo)):
        probe(zero_frames(clip, tmp_path / "zeroed.mp4"), max_duration_ms=LIMIT_MS, limits=limits)


def test_a_4k_portrait_phone_picture_is_within_the_defaults() -> None:
    MediaLimits().check_picture(2160, 3840)
    MediaLimits().check_picture(4096, 2160)
    with pytest.raises(PictureTooLarge):
        MediaLimits().check_picture(8192, 8192)
