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

``probe``, ``thumbnail`` and ``make_video`` are imported on first use: they
need PyAV, and a region's API process, which only hands videos to its media
workers, starts without it (:mod:`~stormproof.media.info`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stormproof.media.info import InvalidVideo, VideoInfo, VideoTooLong
from stormproof.media.limits import (
    FrameRateTooHigh,
    MediaLimits,
    PictureTooLarge,
    TooManyFrames,
    VideoTooComplex,
)
from stormproof.media.pool import Examined, MediaBusy, MediaPool

if TYPE_CHECKING:
    from stormproof.media.generate import make_video
    from stormproof.media.probe import probe
    from stormproof.media.thumbnail import thumbnail

#: what needs PyAV, by the module that holds it
_WITH_PYAV = {"make_video": "generate", "probe": "probe", "thumbnail": "thumbnail"}


def __getattr__(name: str) -> object:
    """``make_video``, ``probe`` and ``thumbnail``, imported when first asked for."""
    module = _WITH_PYAV.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = found
    return found


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
