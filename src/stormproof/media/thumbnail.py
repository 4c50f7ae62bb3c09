"""A JPEG still of a video, for feeds and link previews.

The picture is the frame shown one second in (the very first frames are often
black or a fade-in), or the first frame of a shorter video. It is turned the
way a phone's rotation metadata asks, scaled so its longer side is at most
``max_side`` pixels, and encoded with FFmpeg's MJPEG encoder.

The work is bounded by a :class:`~stormproof.media.limits.MediaLimits`: the
picture's size is checked before decoding, the decoder refuses larger ones
and runs on one thread, and at most a second's worth of frames at the
highest frame rate allowed are decoded — fewer for large pictures: no more
than :data:`_PIXEL_BUDGET` pixels in all (thirty 1080p frames). A video
whose frames are closer together than that shows the last frame decoded.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from stormproof.media.limits import DEFAULT_LIMITS, MediaLimits, VideoTooComplex
from stormproof.media.probe import (
    InvalidVideo,
    displayed_size,
    limit_decoder,
    open_video,
    rotation_quarters,
    video_stream,
)

__all__ = ["thumbnail"]

_AT_SECONDS = 1.0
#: decoding pixels is the thumbnail's cost: at most this many are decoded
#: (4096x2304 at 120 fps cost 1.2-1.3 s of CPU when 121 frames were decoded)
_PIXEL_BUDGET = 30 * 1920 * 1080
# The MJPEG quantiser, as in ``ffmpeg -q:v``: 2 is best, 31 worst.
_JPEG_QUANTISER = 4
# MJPEG wants full-range ("J") YUV; plain yuv420p would be read as studio range.
_JPEG_PIXEL_FORMAT = "yuvj420p"


def thumbnail(path: Path, *, max_side: int = 480, limits: MediaLimits = DEFAULT_LIMITS) -> bytes:
    """JPEG bytes of one frame of the video at ``path``, no side longer than ``max_side``."""
    if max_side < 2:
        raise ValueError(f"max_side must be at least 2, not {max_side}")
    with open_video(path, limits) as container:
        stream = video_stream(container)
        limits.check_picture(stream.codec_context.width, stream.codec_context.height)
        limit_decoder(stream, limits)
        pixels = max(1, stream.codec_context.width * stream.codec_context.height)
        most = max(1, min(limits.frames_within(_AT_SECONDS), _PIXEL_BUDGET // pixels))
        frame = _pick_frame(container, stream, most)
        limits.check_picture(frame.width, frame.height)
        try:
            return _encode_jpeg(_upright(frame, max_side))
        except MemoryError as exc:  # PyAV's ENOMEM is one too: the worker's memory limit
            raise VideoTooComplex("The video needs more memory than we give it.") from exc
        except av.error.FFmpegError as exc:
            raise InvalidVideo("Could not make a thumbnail of the video.") from exc


def _pick_frame(container: InputContainer, stream: VideoStream, most: int) -> VideoFrame:
    """The first frame at or after one second in, or the first frame if none is.

    At most ``most`` packets are decoded; a video that has not reached its
    second by then shows the last frame decoded. Damage after the first
    picture is tolerated: the start still makes a thumbnail.
    """
    first: VideoFrame | None = None
    last: VideoFrame | None = None
    try:
        for fed, packet in enumerate(container.demux(stream), start=1):
            if fed > most and packet.size:
                break
            for frame in stream.decode(packet):
                if first is None:
                    first = frame
                last = frame
                if frame.time is None or first.time is None:
                    return first  # no timestamps to count a second by
                if frame.time - first.time >= _AT_SECONDS:
                    return frame
        else:
            return _first(first)  # the whole video lasts less than a second
    except av.error.FFmpegError:
        if first is None:
            raise
        return first
    return last if last is not None else _first(first)  # more frames than we decode


def _first(frame: VideoFrame | None) -> VideoFrame:
    if frame is None:
        raise InvalidVideo("No picture in the video could be decoded.")
    return frame


def _upright(frame: VideoFrame, max_side: int) -> VideoFrame:
    """The frame as displayed, scaled to fit ``max_side``, in the JPEG pixel format."""
    shown_width, shown_height = displayed_size(frame)
    scale = min(1.0, max_side / max(shown_width, shown_height))
    width = _even(shown_width * scale)
    height = _even(shown_height * scale)
    quarters = rotation_quarters(frame)
    if quarters == 0:
        return frame.reformat(width, height, format=_JPEG_PIXEL_FORMAT)
    coded_width, coded_height = (height, width) if quarters % 2 else (width, height)
    pixels = frame.reformat(coded_width, coded_height, format="rgb24").to_ndarray()
    turned = np.ascontiguousarray(np.rot90(pixels, quarters), dtype=np.uint8)
    upright = VideoFrame.from_ndarray(turned, format="rgb24")
    return upright.reformat(format=_JPEG_PIXEL_FORMAT)


def _even(length: float) -> int:
    """Round down to an even number of pixels, at least 2 (4:2:0 needs even sides)."""
    return max(2, int(length) // 2 * 2)


def _encode_jpeg(frame: VideoFrame) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = frame.width
    encoder.height = frame.height
    encoder.pix_fmt = _JPEG_PIXEL_FORMAT
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = _JPEG_QUANTISER
    packets = encoder.encode(frame) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)
