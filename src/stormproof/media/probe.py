"""Check that an uploaded file is a whole, playable video, and describe it.

:func:`probe` reads every packet of the file (cheap: no decoding) and decodes
the first picture. A file is refused with :class:`InvalidVideo` when FFmpeg
cannot open it, it is not an MP4/QuickTime or Matroska/WebM file, it has no
video stream, no picture decodes, or its packets stop well short of the
duration its header declares (a truncated upload). It is refused with
:class:`VideoTooLong` when it lasts longer than allowed, and with the errors
of :mod:`~stormproof.media.limits` when it passes a :class:`MediaLimits`: a
picture too large (known from the stream's parameters, before decoding), too
many packets or too many frames a second. Reading stops as soon as a limit is
passed, and the header's frame count and duration refuse a file before its
packets are read at all.

Opening a file makes FFmpeg decode a few frames to fill in what the header
leaves out; those decoders get the limits' ``max_pixels`` and one thread too.

Only the ``mov`` and ``matroska`` demuxers and the ``file`` protocol are
enabled, so a crafted upload cannot make FFmpeg parse a playlist, fetch a URL
or read another local file. No ``av`` or ``OSError`` escapes this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.packet import Packet
from av.stream import Disposition, Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from stormproof.media.info import InvalidVideo, VideoInfo, VideoTooLong
from stormproof.media.limits import (
    DEFAULT_LIMITS,
    FrameRateTooHigh,
    MediaLimits,
    TooManyFrames,
    VideoTooComplex,
)

__all__ = ["InvalidVideo", "VideoInfo", "VideoTooLong", "probe"]

_SAFE_INPUT = {"format_whitelist": "mov,matroska", "protocol_whitelist": "file"}
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})
_MICROSECONDS = 1_000_000


def probe(path: Path, *, max_duration_ms: int, limits: MediaLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Describe the video at ``path``, refusing broken, over-long or over-costly files."""
    limit_us = max_duration_ms * 1000
    with open_video(path, limits) as container:
        stream = video_stream(container)
        limits.check_picture(stream.codec_context.width, stream.codec_context.height)
        declared_us = _declared_duration_us(container, stream)
        if declared_us is not None and declared_us > limit_us:
            raise _too_long(declared_us, max_duration_ms)
        if declared_us is not None:
            _check_frames(stream.frames, declared_us, limits)
        scan = _Scan(container, stream, limits)
        scan.run(limit_us, max_duration_ms)
        first = scan.first_frame()
        limits.check_picture(first.width, first.height)
        played_us = scan.duration_us()
        if declared_us is not None and played_us is not None:
            _check_complete(declared_us, played_us)
        duration_us = declared_us if declared_us is not None else played_us
        if duration_us is None:
            raise InvalidVideo("The video has no timing information.")
        _check_frames(scan.video_packets, duration_us, limits)
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
def open_video(path: Path, limits: MediaLimits = DEFAULT_LIMITS) -> Iterator[InputContainer]:
    """Open ``path`` for reading; any FFmpeg or OS failure inside becomes InvalidVideo."""
    # ``options`` reach the container and the decoders FFmpeg opens to fill in
    # stream parameters, so no picture over the limits is decoded even then.
    options = {**_SAFE_INPUT, **limits.decoder_options()}
    try:
        # PyAV decodes tags as strict UTF-8 by default: a stray byte in a phone's
        # "encoder" tag would raise UnicodeDecodeError from a playable video.
        with av.open(str(path), "r", options=options, metadata_errors="replace") as container:
            yield container
    except MemoryError as exc:  # PyAV's ENOMEM is one too: the worker's memory limit
        raise VideoTooComplex("The video needs more memory to read than we give it.") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise InvalidVideo("The file is not a video we can read.") from exc


def video_stream(container: InputContainer) -> VideoStream:
    """The main video stream: the first one that is not cover art."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    raise InvalidVideo("The file has no video in it.")


def limit_decoder(stream: VideoStream, limits: MediaLimits) -> None:
    """Make ``stream``'s decoder refuse pictures over the limits and use one thread."""
    stream.codec_context.thread_count = 1
    stream.codec_context.options = limits.decoder_options()


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


def _check_frames(frames: int, duration_us: int, limits: MediaLimits) -> None:
    """Refuse more frames than the video's length allows at the highest frame rate."""
    if frames > limits.max_packets:
        raise TooManyFrames(
            f"The video has more than {limits.max_packets:,} frames.",
            max_packets=limits.max_packets,
        )
    seconds = duration_us / _MICROSECONDS
    if frames > limits.frames_within(seconds):
        raise FrameRateTooHigh(
            f"The video has {frames:,} frames in {seconds:.3f} s: more than "
            f"{limits.max_fps:g} frames a second.",
            max_fps=limits.max_fps,
        )


def _too_long(duration_us: int, max_duration_ms: int) -> VideoTooLong:
    return VideoTooLong(
        f"The video lasts more than {max_duration_ms / 1000:g} s "
        f"(at least {duration_us / _MICROSECONDS:.1f} s).",
        max_duration_ms=max_duration_ms,
    )


class _Scan:
    """One pass over every packet: how far the timestamps reach, and the first picture.

    Timestamps are kept as integer microseconds (a ``Fraction`` per packet
    cost more than the demuxing). Every packet counts against
    ``max_packets``, and video packets against the frame rate so far.
    """

    def __init__(self, container: InputContainer, stream: VideoStream, limits: MediaLimits):
        self.container = container
        self.stream = stream
        self.limits = limits
        self.frame: VideoFrame | None = None
        self.packets = 0
        self.video_packets = 0
        self.earliest_us: int | None = None
        self.end_us: int | None = None
        self.scales: dict[int, tuple[int, int]] = {}
        rate = stream.average_rate or stream.guessed_rate
        # Matroska often leaves a video packet's duration out; assume one frame.
        self.frame_us = int(_MICROSECONDS / rate) if rate else 0
        # A stream whose first pictures will not decode is given up on after a
        # second's worth of frames: feeding a decoder costs.
        self.decode_tries = limits.frames_within(1.0)
        limit_decoder(stream, limits)

    def run(self, limit_us: int, max_duration_ms: int) -> None:
        for packet in self.container.demux():
            is_video = packet.stream is self.stream
            if is_video:
                self._decode_first(packet)
            if packet.size == 0:  # the end-of-stream marker demux() adds
                continue
            self.packets += 1
            if self.packets > self.limits.max_packets:
                raise TooManyFrames(
                    f"The file has more than {self.limits.max_packets:,} packets.",
                    max_packets=self.limits.max_packets,
                )
            if packet.stream.type not in ("video", "audio"):
                continue
            self._extend(packet, is_video)
            played = self.duration_us()
            if is_video:
                self.video_packets += 1
                if self.video_packets > self.limits.frames_within((played or 0) / _MICROSECONDS):
                    _check_frames(self.video_packets, played or 0, self.limits)
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
            return self.end_us - start_us
        if self.video_packets and self.frame_us:
            return self.video_packets * self.frame_us
        return None

    def _decode_first(self, packet: Packet[Stream]) -> None:
        if self.frame is not None or self.decode_tries <= 0:
            return
        self.decode_tries -= 1
        try:
            # A flush packet (size 0) drains a decoder that holds frames back.
            frames = self.stream.decode(packet)
        except MemoryError:
            raise
        except av.error.FFmpegError:
            return  # e.g. a packet before the first keyframe; later ones may decode
        if frames:
            self.frame = frames[0]

    def _extend(self, packet: Packet[Stream], is_video: bool) -> None:
        if packet.pts is None:
            return
        scale = self.scales.get(packet.stream_index)
        if scale is None:
            if packet.time_base is None:
                return
            scale = (packet.time_base.numerator * _MICROSECONDS, packet.time_base.denominator)
            self.scales[packet.stream_index] = scale
        num, den = scale
        start = packet.pts * num // den
        if packet.duration:
            end = (packet.pts + packet.duration) * num // den
        elif is_video:
            end = start + self.frame_us
        else:
            end = start
        if self.earliest_us is None or start < self.earliest_us:
            self.earliest_us = start
        if self.end_us is None or end > self.end_us:
            self.end_us = end


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
