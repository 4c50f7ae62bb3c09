"""Video files: check and describe uploads, make thumbnails, generate test videos.

- :func:`probe` accepts a whole, readable MP4/QuickTime or Matroska/WebM video
  no longer than a limit and within :class:`MediaLimits` and returns its
  :class:`VideoInfo`; anything else raises :class:`InvalidVideo`,
  :class:`VideoTooLong`, :class:`TooManyFrames`, :class:`FrameRateTooHigh`
  or :class:`PictureTooLarge` (all :class:`~stormproof.errors.Unprocessable`,
  HTTP 422).
- :func:`thumbnail` returns JPEG bytes of the frame one second in.
- :class:`MediaPool` runs both for the server in confined worker processes
  with a time limit (:class:`VideoTooComplex`) and a bounded queue
  (:class:`MediaBusy`, HTTP 503).
- :func:`make_video` writes a small real video whose picture depends on a seed.

PyAV and OS errors never leave this package from ``probe``, ``thumbnail`` or
``MediaPool``.
"""

from __future__ import annotations

from stormproof.media.generate import make_video
from stormproof.media.limits import (
    FrameRateTooHigh,
    MediaLimits,
    PictureTooLarge,
    TooManyFrames,
    VideoTooComplex,
)
from stormproof.media.pool import Examined, MediaBusy, MediaPool
from stormproof.media.probe import InvalidVideo, VideoInfo, VideoTooLong, probe
from stormproof.media.thumbnail import thumbnail

__all__ = [
    "Examined",
    "FrameRateTooHigh",
    "InvalidVideo",
    "MediaBusy",
    "MediaLimits",
    "MediaPool",
    "PictureTooLarge",
    "TooManyFrames",
    "VideoInfo",
    "VideoTooComplex",
    "VideoTooLong",
    "make_video",
    "probe",
    "thumbnail",
]
