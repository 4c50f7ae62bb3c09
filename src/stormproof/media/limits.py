"""How much work one uploaded file may cost us, and the errors for passing it.

An upload's cost is not its size: a 1.4 MB file of 100,000 tiny frames a
microsecond apart, or one 8192x8192 picture, costs seconds of CPU and
hundreds of MiB to probe and thumbnail. :class:`MediaLimits` bounds what
costs: packets read, frames per second of video, the picture's size.
:func:`~stormproof.media.probe.probe` and
:func:`~stormproof.media.thumbnail.thumbnail` check them as early as they can
be known: the picture's size from the stream's parameters before anything is
decoded, the packet count and frame rate while packets are read.

Every refusal is :class:`~stormproof.errors.Unprocessable` (HTTP 422) with
its own code; the wall-clock limit (:class:`VideoTooComplex`) is enforced by
the worker pool, which alone can stop a job that runs too long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stormproof.errors import Unprocessable

__all__ = [
    "DEFAULT_LIMITS",
    "FrameRateTooHigh",
    "MediaLimits",
    "PictureTooLarge",
    "TooManyFrames",
    "VideoTooComplex",
]


class TooManyFrames(Unprocessable):
    code = "too_many_frames"


class FrameRateTooHigh(Unprocessable):
    code = "frame_rate_too_high"


class PictureTooLarge(Unprocessable):
    code = "picture_too_large"


class VideoTooComplex(Unprocessable):
    code = "video_too_complex"


@dataclass(frozen=True)
class MediaLimits:
    """The caps of ``Settings.media_*``; the defaults are the settings' defaults.

    ``max_packets`` counts the packets of every stream (audio, subtitles and
    data too: each costs a demux step). ``max_fps`` is an average over the
    video's length, with at least one second granted, so a short clip may
    hold ``max_fps`` frames however close together they are.
    """

    max_packets: int = 102_000
    max_fps: float = 120.0
    max_pixels: int = 4096 * 2304
    max_side: int = 4096

    def frames_within(self, seconds: float) -> int:
        """The most video frames a video lasting ``seconds`` may hold."""
        return math.ceil(self.max_fps * max(1.0, seconds)) + 1

    def check_picture(self, width: int, height: int) -> None:
        """Refuse a picture over the limits. A side of 0 means "not known yet":
        the decoder's own ``max_pixels`` (see :meth:`decoder_options`) then
        stops it, and the decoded frame is checked again."""
        if max(width, height) > self.max_side or width * height > self.max_pixels:
            raise PictureTooLarge(
                f"The picture is {width}x{height} pixels; at most {self.max_side} pixels a side "
                f"and {self.max_pixels:,} pixels in all are accepted.",
                max_side=self.max_side,
                max_pixels=self.max_pixels,
            )

    def decoder_options(self) -> dict[str, str]:
        """FFmpeg decoder options: refuse larger pictures before allocating
        them, and decode on one thread (a worker is given one core's worth)."""
        return {"max_pixels": str(self.max_pixels), "threads": "1"}


DEFAULT_LIMITS = MediaLimits()
