"""Check that an uploaded file is a whole, playable video, and describe it.

:func:`probe` reads every packet of the file (cheap: no decoding) and decodes
the first picture. A file is refused with :class:`InvalidVideo` when FFmpeg
cannot open it, it is not an MP4/QuickTime or Matroska/WebM file, it has no
video stream, no picture decodes, or its packets stop well short of the
duration its header declares (a truncated upload). It is refused with
:class:`VideoTooLong` when it lasts longer than allowed; reading stops as
soon as that is known.

Only the ``mov`` and ``matroska`` demuxers and the ``file`` protocol are
enabled, so a crafted upload cannot make FFmpeg parse a playlist, fetch a URL
or read another local file. No ``av`` or ``OSError`` escapes this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.packet import Packet
from av.stream import Disposition, Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from stormproof.errors import Unprocessable

__all__ = ["InvalidVideo", "VideoInfo", "VideoTooLong", "probe"]

_SAFE_INPUT = {"format_whitelist": "mov,matroska", "protocol_whitelist": "file"}
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})
_MICROSECONDS = 1_000_000


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


def probe(path: Path, *, max_duration_ms: int) -> VideoInfo:
    """Describe the video at ``path``, refusing broken or over-long files."""
    limit_us = max_duration_ms * 1000
    with open_video(path) as container:
        stream = video_stream(container)
        declared_us = _declared_duration_us(container, stream)
        if declared_us is not None and declared_us > limit_us:
            raise _too_long(declared_us, max_duration_ms)
        scan = _Scan(container, stream)
        scan.run(limit_us, max_duration_ms)
        first = scan.first_frame()
        played_us = scan.duration_us()
        if declared_us is not None and played_us is not None:
            _check_complete(declared_us, played_us)
        duration_us = declared_us if declared_us is not None else played_us
        if duration_us is None:
            raise InvalidVideo("The video has no timing information.")
        width, height = displayed_size(first)
        name, content_type = _container_type(container)
        return VideoInfo(
            duration_ms=duration_us // 1000,
            width=width,
            height=height,
            codec=stream.codec_context.name,
            container=name,
            content_type=content_type,
        )


@contextmanager
def open_video(path: Path) -> Iterator[InputContainer]:
    """Open ``path`` for reading; any FFmpeg or OS failure inside becomes InvalidVideo."""
    try:
        # PyAV decodes tags as strict UTF-8 by default: a stray byte in a phone's
        # "encoder" tag would raise UnicodeDecodeError from a playable video.
        with av.open(str(path), "r", options=_SAFE_INPUT, metadata_errors="replace") as container:
            yield container
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidVideo("The file is not a video we can read.") from exc


def video_stream(container: InputContainer) -> VideoStream:
    """The main video stream: the first one that is not cover art."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    raise InvalidVideo("The file has no video in it.")


def rotation_quarters(frame: VideoFrame) -> int:
    """How many quarter turns counter-clockwise the frame is shown rotated (0-3)."""
    return round(frame.rotation / 90) % 4


def displayed_size(frame: VideoFrame) -> tuple[int, int]:
    if rotation_quarters(frame) % 2:
        return frame.height, frame.width
    return frame.width, frame.height


def _declared_duration_us(container: InputContainer, stream: VideoStream) -> int | None:
    if container.duration is not None and container.duration > 0:
        return container.duration
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return int(stream.duration * stream.time_base * _MICROSECONDS)
    return None


def _check_complete(declared_us: int, played_us: int) -> None:
    """Refuse a file whose packets stop well before its header says it ends.

    The slack (half a second, or a tenth of a long video) absorbs the last
    frame's length and audio running a little past the video.
    """
    if declared_us - played_us > max(_MICROSECONDS // 2, declared_us // 10):
        raise InvalidVideo(
            f"The video is incomplete: it stops at {played_us / _MICROSECONDS:.1f} s "
            f"of {declared_us / _MICROSECONDS:.1f} s. Was the upload cut short?"
        )


def _too_long(duration_us: int, max_duration_ms: int) -> VideoTooLong:
    return VideoTooLong(
        f"The video lasts more than {max_duration_ms / 1000:g} s "
        f"(at least {duration_us / _MICROSECONDS:.1f} s).",
        max_duration_ms=max_duration_ms,
    )


class _Scan:
    """One pass over every packet: how far the timestamps reach, and the first picture."""

    def __init__(self, container: InputContainer, stream: VideoStream) -> None:
        self.container = container
        self.stream = stream
        self.frame: VideoFrame | None = None
        self.video_packets = 0
        self.earliest_us: Fraction | None = None
        self.end_us: Fraction | None = None
        rate = stream.average_rate or stream.guessed_rate
        # Matroska often leaves a video packet's duration out; assume one frame.
        self.frame_us = Fraction(_MICROSECONDS) / rate if rate else Fraction(0)

    def run(self, limit_us: int, max_duration_ms: int) -> None:
        for packet in self.container.demux():
            if packet.stream.type not in ("video", "audio"):
                continue
            if packet.stream is self.stream:
                self._decode_first(packet)
            if packet.size == 0:  # the end-of-stream marker demux() adds
                continue
            self._extend(packet)
            if packet.stream is self.stream:
                self.video_packets += 1
            played = self.duration_us()
            if played is not None and played > limit_us:
                raise _too_long(played, max_duration_ms)

    def first_frame(self) -> VideoFrame:
        if self.frame is None:
            raise InvalidVideo("No picture in the video could be decoded.")
        return self.frame

    def duration_us(self) -> int | None:
        """How long the packets read so far play, from timestamps or the frame rate."""
        start_us = self.container.start_time
        if start_us is None:  # the container does not say; use the earliest packet
            start_us = self.earliest_us
        if start_us is not None and self.end_us is not None:
            return int(self.end_us - start_us)
        if self.video_packets and self.frame_us:
            return int(self.video_packets * self.frame_us)
        return None

    def _decode_first(self, packet: Packet[Stream]) -> None:
        if self.frame is not None:
            return
        try:
            # A flush packet (size 0) drains a decoder that holds frames back.
            frames = self.stream.decode(packet)
        except av.error.FFmpegError:
            return  # e.g. a packet before the first keyframe; later ones may decode
        if frames:
            self.frame = frames[0]

    def _extend(self, packet: Packet[Stream]) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        start = packet.pts * packet.time_base * _MICROSECONDS
        if packet.duration:
            end = start + packet.duration * packet.time_base * _MICROSECONDS
        elif packet.stream is self.stream:
            end = start + self.frame_us
        else:
            end = start
        self.earliest_us = start if self.earliest_us is None else min(self.earliest_us, start)
        self.end_us = end if self.end_us is None else max(self.end_us, end)


def _container_type(container: InputContainer) -> tuple[str, str]:
    """A short container name and the MIME type to serve the file with."""
    demuxer = container.format.name
    if demuxer.startswith("mov,"):
        brand = container.metadata.get("major_brand", "").strip().lower()
        if brand == "qt":
            return "mov", "video/quicktime"
        if brand.startswith("3g2"):
            return "3g2", "video/3gpp2"
        if brand.startswith("3g"):
            return "3gp", "video/3gpp"
        return "mp4", "video/mp4"
    if demuxer.startswith("matroska"):
        streams = [*container.streams.video, *container.streams.audio]
        codecs = {stream.codec_context.name for stream in streams}
        if codecs <= _WEBM_CODECS:
            return "webm", "video/webm"
        return "matroska", "video/x-matroska"
    return demuxer.split(",")[0], "application/octet-stream"
