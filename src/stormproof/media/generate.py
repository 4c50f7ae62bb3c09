"""Small, real, playable videos made from numpy frames, for tests and demo data.

Each seed gives its own picture: a vertical gradient in a seed-chosen hue with
a square in the complementary colour bouncing across it along a seed-chosen
path. The same arguments always give the same bytes, so demo videos stored by
content hash are stored once.

H.264 (libx264) in MP4 when the PyAV build has it, else MPEG-4 Part 2; WebM
gets VP8. MP4 and QuickTime files carry their index (the moov atom) at the
front, so a browser can start playing before the download ends.
"""

from __future__ import annotations

import colorsys
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import numpy.typing as npt

__all__ = ["make_video"]

_Codec = Literal["libx264", "mpeg4", "libvpx", "libvpx-vp9"]
_WEBM_CODECS: tuple[_Codec, ...] = ("libvpx", "libvpx-vp9")
_OTHER_CODECS: tuple[_Codec, ...] = ("libx264", "mpeg4")
_CODEC_OPTIONS: dict[_Codec, dict[str, str]] = {
    "libx264": {"preset": "veryfast", "crf": "28"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "1M"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "crf": "40", "b": "0"},
    "mpeg4": {"qscale": "5"},
}

Image = npt.NDArray[np.uint8]


def make_video(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 568,
    fps: int = 15,
    seed: int = 0,
    container: str | None = None,
    rotation: int = 0,
    sound: bool = False,
) -> Path:
    """Write a ``seconds``-long video of ``width`` x ``height`` pixels to ``path``.

    ``container`` is an FFmpeg muxer name ("mp4", "mov", "webm", "matroska");
    by default it follows the file's suffix. ``rotation`` (0, 90, 180 or 270,
    counter-clockwise) is stored as display metadata, the way phones record
    portrait video: the coded picture stays ``width`` x ``height``. With
    ``sound``, an AAC track of a seed-chosen tone (MP4 and QuickTime only).
    Returns ``path``.
    """
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError(f"width and height must be even and at least 2, not {width}x{height}")
    if fps < 1 or seconds <= 0:
        raise ValueError(f"need fps >= 1 and seconds > 0, not fps={fps}, seconds={seconds}")
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, not {rotation}")
    muxer = container or path.suffix.lstrip(".").lower()
    codec = _pick_codec(muxer)
    frames = max(1, round(seconds * fps))
    painter = _Painter(width, height, fps, seed)
    options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=container, options=options) as output:
        stream = output.add_stream(codec, rate=fps, options=_CODEC_OPTIONS[codec])
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.gop_size = fps
        stream.codec_context.time_base = Fraction(1, fps)
        if rotation % 360:
            stream.set_display_rotation(rotation % 360)
        tone = output.add_stream("aac", rate=_SAMPLE_RATE) if sound else None
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(painter.paint(index), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
        if tone is not None:
            _sing(output, tone, seconds, 220.0 * (1 + seed % 4))
    return path


_SAMPLE_RATE = 44_100


def _sing(output: av.container.OutputContainer, tone: Any, seconds: float, pitch: float) -> None:
    """``seconds`` of a sine at ``pitch`` Hz into the AAC stream ``tone``."""
    size = 1024
    total = round(seconds * _SAMPLE_RATE)
    for start in range(0, total, size):
        t = (np.arange(start, min(start + size, total)) / _SAMPLE_RATE)[None, :]
        samples = (0.2 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = _SAMPLE_RATE, start
        output.mux(tone.encode(frame))
    output.mux(tone.encode(None))


def _pick_codec(muxer: str) -> _Codec:
    wanted = _WEBM_CODECS if muxer == "webm" else _OTHER_CODECS
    for codec in wanted:
        if codec in av.codecs_available:
            return codec
    raise RuntimeError(f"this PyAV build has none of {', '.join(wanted)}")


class _Painter:
    """The frames of one seed's video: a gradient and a bouncing square."""

    def __init__(self, width: int, height: int, fps: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        hue = float(rng.random())
        self.width = width
        self.height = height
        self.fps = fps
        top = np.array(colorsys.hsv_to_rgb(hue, 0.55, 0.95)) * 255
        bottom = np.array(colorsys.hsv_to_rgb(hue, 0.9, 0.35)) * 255
        ramp = np.linspace(0.0, 1.0, height)[:, None]
        column = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
        self.background: Image = np.ascontiguousarray(
            np.broadcast_to(column[:, None, :], (height, width, 3))
        )
        self.square_color = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.8, 1.0)) * 255
        self.side = max(1, min(width, height) // 4)
        self.start = rng.random(2) * [width - self.side, height - self.side]
        self.velocity = (rng.random(2) * 0.6 + 0.4) * [width, height] * rng.choice([-1, 1], 2)

    def paint(self, index: int) -> Image:
        image = self.background.copy()
        x, y = self._position(index / self.fps)
        image[y : y + self.side, x : x + self.side] = self.square_color
        return image

    def _position(self, t: float) -> tuple[int, int]:
        span = np.array([self.width - self.side, self.height - self.side], dtype=float)
        travelled = self.start + self.velocity * t
        # Reflect off the edges: fold the travelled distance into [0, span].
        folded = np.abs((travelled + span) % (2 * span) - span)
        return int(folded[0]), int(folded[1])
