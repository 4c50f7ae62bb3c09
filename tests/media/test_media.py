"""The media package on real files: generated videos, and broken ones made from them."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

import stormproof.media
from stormproof.errors import Unprocessable
from stormproof.media import (
    InvalidVideo,
    VideoInfo,
    VideoTooLong,
    make_video,
    probe,
    thumbnail,
)

LIMIT_MS = 60_000


def remux(source: Path, target: Path, *, format: str, options: dict[str, str]) -> Path:
    """Copy the video packets of ``source`` into a new file, without re-encoding."""
    with av.open(str(source)) as src, av.open(str(target), "w", format, options=options) as out:
        video = src.streams.video[0]
        copy = out.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is None:  # the end-of-stream marker
                continue
            packet.stream = copy
            out.mux(packet)
    return target


def cut_in_half(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def jpeg_pixels(jpeg: bytes) -> npt.NDArray[np.uint8]:
    """Decode JPEG bytes with FFmpeg's own decoder."""
    with av.open(io.BytesIO(jpeg)) as container:
        assert container.format.name == "jpeg_pipe"
        frame = next(container.decode(video=0))
        pixels: npt.NDArray[np.uint8] = frame.to_ndarray(format="rgb24")
        return pixels


# --- the public surface ------------------------------------------------------


def test_public_surface_is_what_we_meant() -> None:
    assert sorted(stormproof.media.__all__) == sorted(
        [
            "VideoInfo", "probe", "thumbnail", "make_video", "InvalidVideo", "VideoTooLong",
            "MediaLimits", "TooManyFrames", "FrameRateTooHigh", "PictureTooLarge",
            "VideoTooComplex", "MediaPool", "MediaBusy", "Examined",
        ]
    )  # fmt: skip


def test_errors_are_unprocessable_with_their_own_codes() -> None:
    invalid = InvalidVideo("x")
    too_long = VideoTooLong("y")
    assert isinstance(invalid, Unprocessable) and isinstance(too_long, Unprocessable)
    assert (invalid.status, invalid.code) == (422, "invalid_video")
    assert (too_long.status, too_long.code) == (422, "video_too_long")


# --- make_video and probe ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "container", "content_type", "codecs"),
    [
        ("clip.mp4", "mp4", "video/mp4", {"h264", "mpeg4"}),
        ("clip.mov", "mov", "video/quicktime", {"h264", "mpeg4"}),
        ("clip.webm", "webm", "video/webm", {"vp8", "vp9"}),
        ("clip.mkv", "matroska", "video/x-matroska", {"h264", "mpeg4"}),
    ],
)
def test_probe_describes_a_generated_video(
    tmp_path: Path, name: str, container: str, content_type: str, codecs: set[str]
) -> None:
    path = make_video(tmp_path / name, seconds=2.0, width=320, height=568, fps=15)
    info = probe(path, max_duration_ms=LIMIT_MS)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height) == (320, 568)
    assert abs(info.duration_ms - 2000) <= 1000 / 15
    assert info.codec in codecs
    assert (info.container, info.content_type) == (container, content_type)


def test_make_video_prefers_h264_in_mp4(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "clip.mp4"), max_duration_ms=LIMIT_MS)
    expected = "h264" if "libx264" in av.codecs_available else "mpeg4"
    assert info.codec == expected


def test_make_video_follows_size_length_and_rate(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", seconds=1.2, width=96, height=54, fps=10)
    info = probe(path, max_duration_ms=LIMIT_MS)
    assert (info.width, info.height) == (96, 54)
    assert abs(info.duration_ms - 1200) <= 100
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12


def test_make_video_puts_the_mp4_index_first(tmp_path: Path) -> None:
    data = make_video(tmp_path / "clip.mp4").read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_make_video_refuses_odd_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        make_video(tmp_path / "clip.mp4", width=321)


def test_different_seeds_give_different_videos(tmp_path: Path) -> None:
    one = make_video(tmp_path / "one.mp4", seed=1).read_bytes()
    two = make_video(tmp_path / "two.mp4", seed=2).read_bytes()
    assert one != two
    # ...and different pictures, not just different bytes.
    difference = np.abs(
        jpeg_pixels(thumbnail(tmp_path / "one.mp4")).astype(int)
        - jpeg_pixels(thumbnail(tmp_path / "two.mp4")).astype(int)
    )
    assert difference.mean() > 20


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    """Demo videos are stored by content hash: re-seeding must not duplicate them."""
    one = make_video(tmp_path / "one.mp4", seed=7).read_bytes()
    two = make_video(tmp_path / "two.mp4", seed=7).read_bytes()
    assert one == two


def test_probe_reports_the_displayed_size_of_a_rotated_video(tmp_path: Path) -> None:
    """Phones store portrait video as landscape pictures plus a rotation."""
    path = make_video(tmp_path / "clip.mp4", width=320, height=180, rotation=90)
    info = probe(path, max_duration_ms=LIMIT_MS)
    assert (info.width, info.height) == (180, 320)


def test_probe_times_a_webm_without_a_declared_duration(tmp_path: Path) -> None:
    """Browsers' MediaRecorder writes WebM without a duration in the header."""
    live = remux(
        make_video(tmp_path / "clip.webm", seconds=2.0, fps=15),
        tmp_path / "live.webm",
        format="webm",
        options={"live": "1"},
    )
    with av.open(str(live)) as container:
        assert container.duration is None
    info = probe(live, max_duration_ms=LIMIT_MS)
    assert abs(info.duration_ms - 2000) <= 1000 / 15


def test_a_tag_that_is_not_utf8_does_not_make_a_video_unreadable(tmp_path: Path) -> None:
    """Regression: PyAV decoded tags strictly and raised UnicodeDecodeError on open."""
    data = make_video(tmp_path / "clip.mp4").read_bytes()
    tag = data.find(b"Lavf")  # the "encoder" tag FFmpeg writes
    assert tag > 0
    path = tmp_path / "tagged.mp4"
    path.write_bytes(data[:tag] + b"\xff" + data[tag + 1 :])
    with pytest.raises(UnicodeDecodeError), av.open(str(path)):
        pass
    assert probe(path, max_duration_ms=LIMIT_MS).duration_ms == 2000
    assert thumbnail(path).startswith(b"\xff\xd8")


# --- too long --------------------------------------------------------------------


def test_a_video_longer_than_the_limit_is_too_long(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", seconds=2.0)
    with pytest.raises(VideoTooLong) as caught:
        probe(path, max_duration_ms=1500)
    assert caught.value.code == "video_too_long"
    assert probe(path, max_duration_ms=2000).duration_ms == 2000


def test_a_long_video_without_a_declared_duration_is_too_long(tmp_path: Path) -> None:
    """The header cannot be trusted to be there: the packets themselves are timed."""
    live = remux(
        make_video(tmp_path / "clip.webm", seconds=3.0, width=64, height=64),
        tmp_path / "live.webm",
        format="webm",
        options={"live": "1"},
    )
    with pytest.raises(VideoTooLong):
        probe(live, max_duration_ms=1500)


# --- broken files ------------------------------------------------------------------


def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video, only its name says so\n")
    return path


def empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    return path


def missing_file(tmp_path: Path) -> Path:
    return tmp_path / "nowhere.mp4"


def truncated_mp4_index_last(tmp_path: Path) -> Path:
    """The index (moov) is lost with the second half, so FFmpeg cannot open it."""
    clip = make_video(tmp_path / "clip.mp4")
    plain = remux(clip, tmp_path / "plain.mp4", format="mp4", options={})
    data = plain.read_bytes()
    assert data.find(b"mdat") < data.find(b"moov")
    return cut_in_half(plain, tmp_path / "half.mp4")


def truncated_mp4_index_first(tmp_path: Path) -> Path:
    """The header opens and promises two seconds, but half the frames are gone."""
    return cut_in_half(make_video(tmp_path / "clip.mp4"), tmp_path / "half.mp4")


def truncated_webm(tmp_path: Path) -> Path:
    return cut_in_half(make_video(tmp_path / "clip.webm"), tmp_path / "half.webm")


def truncated_mkv(tmp_path: Path) -> Path:
    return cut_in_half(make_video(tmp_path / "clip.mkv"), tmp_path / "half.mkv")


def mp4_with_zeroed_frames(tmp_path: Path) -> Path:
    """A whole, readable header over frame data that cannot be decoded."""
    data = bytearray(make_video(tmp_path / "clip.mp4").read_bytes())
    frames_start = data.find(b"mdat") + 4
    data[frames_start:] = bytes(len(data) - frames_start)
    path = tmp_path / "zeroed.mp4"
    path.write_bytes(bytes(data))
    return path


def image_named_mp4(tmp_path: Path) -> Path:
    """FFmpeg reads a JPEG as a one-frame video; it is not an upload we accept."""
    path = tmp_path / "photo.mp4"
    path.write_bytes(thumbnail(make_video(tmp_path / "clip.mp4")))
    return path


def audio_only_m4a(tmp_path: Path) -> Path:
    path = tmp_path / "song.mp4"
    with av.open(str(path), "w", "mp4") as out:
        stream = out.add_stream("aac", rate=48_000)
        samples = np.zeros((1, 1024), dtype=np.float32)
        for index in range(20):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 48_000
            frame.pts = index * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


BROKEN = [
    text_file,
    empty_file,
    missing_file,
    truncated_mp4_index_last,
    truncated_mp4_index_first,
    truncated_webm,
    truncated_mkv,
    mp4_with_zeroed_frames,
    image_named_mp4,
    audio_only_m4a,
]


@pytest.mark.parametrize("make", BROKEN, ids=lambda make: make.__name__)
def test_probe_refuses_a_broken_file(tmp_path: Path, make: object) -> None:
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(InvalidVideo) as caught:
        probe(path, max_duration_ms=LIMIT_MS)
    assert caught.value.code == "invalid_video"
    assert str(tmp_path) not in caught.value.message  # no server paths in user messages


@pytest.mark.parametrize(
    "make",
    [text_file, empty_file, missing_file, truncated_mp4_index_last, audio_only_m4a],
    ids=lambda make: make.__name__,
)
def test_thumbnail_refuses_a_broken_file(tmp_path: Path, make: object) -> None:
    assert callable(make)
    with pytest.raises(InvalidVideo):
        thumbnail(make(tmp_path))


def test_thumbnail_of_a_file_damaged_after_its_start_shows_the_start(tmp_path: Path) -> None:
    """Probe decodes only the first picture, so later damage must not fail the thumbnail."""
    path = truncated_mp4_index_first(tmp_path)
    with av.open(str(path)) as container, pytest.raises(av.error.InvalidDataError):
        for _ in container.decode(video=0):
            pass
    height, width, _ = jpeg_pixels(thumbnail(path)).shape
    assert (width, height) == (270, 480)


def test_probe_names_the_truncation(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo, match="incomplete"):
        probe(truncated_mp4_index_first(tmp_path), max_duration_ms=LIMIT_MS)


# --- thumbnail ---------------------------------------------------------------------


def test_thumbnail_is_a_jpeg_within_max_side_keeping_the_shape(tmp_path: Path) -> None:
    jpeg = thumbnail(make_video(tmp_path / "clip.mp4", width=320, height=568))
    assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
    height, width, _ = jpeg_pixels(jpeg).shape
    assert (width, height) == (270, 480)


@pytest.mark.parametrize("max_side", [64, 101, 480, 1000])
def test_thumbnail_sides_are_even_and_never_exceed_max_side(tmp_path: Path, max_side: int) -> None:
    path = make_video(tmp_path / "clip.mp4", width=320, height=568, seconds=0.5)
    height, width, _ = jpeg_pixels(thumbnail(path, max_side=max_side)).shape
    assert max(width, height) <= max_side
    assert width % 2 == 0 and height % 2 == 0
    assert abs(width / height - 320 / 568) < 0.05
    if max_side >= 568:
        assert (width, height) == (320, 568)  # never scaled up


def test_thumbnail_is_taken_one_second_in(tmp_path: Path) -> None:
    """The same seed draws the same frames, so a short clip shows the long one's start."""
    start = jpeg_pixels(thumbnail(make_video(tmp_path / "short.mp4", seconds=0.5, seed=3)))
    long = jpeg_pixels(thumbnail(make_video(tmp_path / "long.mp4", seconds=3.0, seed=3)))
    assert np.abs(start.astype(int) - long.astype(int)).max() > 100  # the square moved


def test_thumbnail_of_a_rotated_video_is_upright(tmp_path: Path) -> None:
    """The gradient runs light (top) to dark; turned 90° counter-clockwise, light is left."""
    path = make_video(tmp_path / "clip.mp4", width=320, height=180, rotation=90)
    pixels = jpeg_pixels(thumbnail(path)).astype(int)
    height, width, _ = pixels.shape
    assert (width, height) == (180, 320)
    assert pixels[:, :10].mean() > pixels[:, -10:].mean() + 40
