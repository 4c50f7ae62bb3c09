"""What probing a video finds, and the refusals it makes of its own.

Apart from :mod:`~stormproof.media.probe` so that a process that only hands
videos to its media workers (a region's API) need not import PyAV: about a
hundred megabytes of FFmpeg libraries, read from the disk at every start
(after a power cut, a cold one).
"""

from __future__ import annotations

from dataclasses import dataclass

from stormproof.errors import Unprocessable

__all__ = ["InvalidVideo", "VideoInfo", "VideoTooLong"]


class InvalidVideo(Unprocessable):
    code = "invalid_video"


class VideoTooLong(Unprocessable):
    code = "video_too_long"


@dataclass(frozen=True)
class VideoInfo:
    """What a player needs to know: length, displayed size and format.

    ``width`` and ``height`` are as displayed, after the rotation a phone
    records as metadata. ``container`` is "mp4", "mov", "3gp", "3g2", "webm"
    or "matroska".
    """

    duration_ms: int
    width: int
    height: int
    codec: str
    container: str
    content_type: str
