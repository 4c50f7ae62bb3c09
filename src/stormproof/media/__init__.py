"""Video files: check and describe uploads, make thumbnails, generate test videos.

- :func:`probe` accepts a whole, readable MP4/QuickTime or Matroska/WebM video
  no longer than a limit and returns its :class:`VideoInfo`; anything else
  raises :class:`InvalidVideo` or :class:`VideoTooLong` (both
  :class:`~stormproof.errors.Unprocessable`, HTTP 422).
- :func:`thumbnail` returns JPEG bytes of the frame one second in.
- :func:`make_video` writes a small real video whose picture depends on a seed.

PyAV and OS errors never leave this package from ``probe`` or ``thumbnail``.
"""

from __future__ import annotations

from stormproof.media.generate import make_video
from stormproof.media.probe import InvalidVideo, VideoInfo, VideoTooLong, probe
from stormproof.media.thumbnail import thumbnail

__all__ = ["InvalidVideo", "VideoInfo", "VideoTooLong", "make_video", "probe", "thumbnail"]
