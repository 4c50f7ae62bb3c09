"""Make one rung of a video's HLS ladder, in a low-priority process of its own.

:func:`make_rendition` decodes the source with PyAV and encodes H.264
(libx264) and, when the source has sound, AAC into fragmented MP4 (CMAF)
segments through FFmpeg's HLS muxer: an init segment, media segments of
``segment_s`` seconds and a media playlist, in a folder.

Keyframes line up across rungs: the encoder never places one by itself
(``scenecut=0`` and a keyframe interval longer than a segment) and one is
forced on the first frame at or past each multiple of ``segment_s`` in the
source's timeline. Every rung is cut at the same instants, whatever the
frame rate (variable too), so a player switches rungs at any segment.

Pictures come out upright: a phone's portrait video is often stored as
landscape pictures with a display matrix saying "turn a quarter", and the
rung's size is the size as displayed. Such a frame is scaled in its coded
orientation to the rung's size turned, then FFmpeg's ``transpose`` (or
``hflip,vflip``) filter turns the small picture; the rung carries no display
matrix. The turn is the one :func:`stormproof.media.probe.rotation_quarters`
counts, as the thumbnail makes (``np.rot90``) and as a browser shows the
original. A frame without a turn is only scaled, as before.

:func:`run` is what the transcoder calls: it starts ``python -P
.../media/transcode.py JOB``, this file as a script in a fresh interpreter
(which imports PyAV and nothing of the server), at low priority from its
first instant (``nice`` 10, started through nice(1): the API's
requests come first); the child confines its memory, dies with its
parent, and answers one JSON object. A corrupt stream found while decoding
(FFmpeg's ``err_detect=explode``) is a refusal with a code,
``corrupt_stream``, which fails the rung for good; a process that dies or runs out of time is
:class:`TranscodeLost`, which its job may be tried again for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = [
    "AUDIO_BITRATE",
    "Made",
    "Refused",
    "TranscodeLost",
    "avc_codec",
    "make_rendition",
    "run",
]

#: the audio bitrate of every rung that has sound
AUDIO_BITRATE = 96_000

_SAFE_INPUT = {"format_whitelist": "mov,matroska", "protocol_whitelist": "file"}
_PRIORITY = 10
_X264 = {"preset": "veryfast", "profile": "high"}
_AUDIO_RATE = 48_000
#: decoder and encoder threads of one transcode, whatever the machine's cores
_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class Made:
    """A rendition in ``folder``: file names, and figures for the master playlist."""

    playlist: str
    init: str
    segments: list[str]
    poster: str
    codecs: str
    bandwidth: int
    average_bandwidth: int


@dataclass(frozen=True)
class Refused:
    """The source cannot be transcoded, for good (``corrupt_stream``...)."""

    code: str
    message: str


class TranscodeLost(Exception):
    """The transcoding process died, ran out of time, or answered nonsense."""


def make_rendition(
    source: Path, folder: Path, *, width: int, height: int, bitrate: int, segment_s: float
) -> Made | Refused:
    """Transcode ``source`` to one rung in ``folder`` (which must exist)."""
    import av
    import av.error

    try:
        with av.open(str(source), options=_SAFE_INPUT) as inp:
            video = inp.streams.video[0]
            video.codec_context.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
            # Frames decode on several cores (the first rung comes sooner), but
            # a bounded number: each thread's buffers count against RLIMIT_AS.
            video.thread_type = "AUTO"
            video.thread_count = _THREADS
            audio = inp.streams.audio[0] if inp.streams.audio else None
            time_base = video.time_base or Fraction(1, 90_000)
            rate: Fraction = video.average_rate or video.guessed_rate or Fraction(30)
            gop = max(1, round(float(rate) * segment_s))
            options = {
                "hls_time": f"{segment_s:g}",
                "hls_segment_type": "fmp4",
                "hls_playlist_type": "vod",
                "hls_flags": "independent_segments",
                "hls_fmp4_init_filename": "init.mp4",
                "hls_segment_filename": str(folder / "s%05d.m4s"),
            }
            with av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as out:
                v_out = out.add_stream(
                    "libx264",
                    rate=rate,
                    options={
                        **_X264,
                        "crf": "23",
                        "maxrate": str(bitrate),
                        "bufsize": str(bitrate * 2),
                        "x264-params": f"keyint={gop * 2}:min-keyint={gop}:scenecut=0",
                        "forced-idr": "1",
                        "threads": str(_THREADS),
                    },
                )
                v_out.width, v_out.height, v_out.pix_fmt = width, height, "yuv420p"
                v_out.codec_context.time_base = time_base
                a_out = resampler = None
                if audio is not None:
                    a_out = out.add_stream("aac", rate=_AUDIO_RATE)
                    a_out.bit_rate = AUDIO_BITRATE
                    a_out.layout = "stereo"
                    resampler = av.AudioResampler(
                        format="fltp", layout="stereo", rate=_AUDIO_RATE, frame_size=1024
                    )
                streams: list[Any] = [s for s in (video, audio) if s is not None]
                poster: Any = None
                upright = _Upright(width, height, time_base)
                next_key = 0.0
                for packet in inp.demux(*streams):
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame) and frame.pts is not None:
                            t = float(frame.pts * time_base)
                            picture = upright(frame)
                            picture.pts, picture.time_base = frame.pts, time_base
                            if t >= next_key:
                                picture.pict_type = av.video.frame.PictureType.I
                                next_key = (int(t / segment_s) + 1) * segment_s
                            else:
                                picture.pict_type = av.video.frame.PictureType.NONE
                            if poster is None or t <= 1.0:
                                poster = picture
                            out.mux(v_out.encode(picture))
                        elif isinstance(frame, av.AudioFrame) and a_out and resampler:
                            frame.pts = None
                            for chunk in resampler.resample(frame):
                                out.mux(a_out.encode(chunk))
                out.mux(v_out.encode(None))
                if a_out is not None and resampler is not None:
                    for chunk in resampler.resample(None):
                        out.mux(a_out.encode(chunk))
                    out.mux(a_out.encode(None))
        if poster is None:
            return Refused("corrupt_stream", "No picture of the video could be decoded.")
        poster.to_image().save(folder / "poster.jpg", quality=85)
    except (av.error.FFmpegError, ValueError, IndexError) as exc:
        return Refused("corrupt_stream", f"The video cannot be transcoded: {exc}"[:500])
    return _describe(folder, "mp4a.40.2" if audio is not None else "")


#: filters that turn a picture as many quarter turns counter-clockwise as
#: the key says (what ``np.rot90(pixels, quarters)`` does)
_TURNS: dict[int, tuple[tuple[str, str | None], ...]] = {
    1: (("transpose", "cclock"),),
    2: (("hflip", None), ("vflip", None)),
    3: (("transpose", "clock"),),
}


class _Upright:
    """Decoded frames as a rung's pictures: ``width`` x ``height`` (the size
    as displayed), yuv420p, turned as the frame's display matrix asks."""

    def __init__(self, width: int, height: int, time_base: Fraction) -> None:
        self.width, self.height, self.time_base = width, height, time_base
        self.graphs: dict[int, Any] = {}

    def __call__(self, frame: Any) -> Any:
        # As probe.rotation_quarters counts (this file imports nothing of ours).
        quarters = round(frame.rotation / 90) % 4
        if not quarters:
            return frame.reformat(width=self.width, height=self.height, format="yuv420p")
        # Scaled first, in the coded orientation: the turn moves a rung-sized
        # picture, never a source-sized one.
        across, down = (self.height, self.width) if quarters % 2 else (self.width, self.height)
        small = frame.reformat(width=across, height=down, format="yuv420p")
        graph = self.graphs.get(quarters) or self._graph(quarters, across, down)
        graph.vpush(small)
        return graph.vpull()

    def _graph(self, quarters: int, across: int, down: int) -> Any:
        import av.filter
        from av.video.format import VideoFormat

        graph = av.filter.Graph()
        graph.threads = 1  # a small picture: no thread pool for it
        source = graph.add_buffer(
            width=across, height=down, format=VideoFormat("yuv420p"), time_base=self.time_base
        )
        turns = [graph.add(name, args) for name, args in _TURNS[quarters]]
        graph.link_nodes(source, *turns, graph.add("buffersink")).configure()
        self.graphs[quarters] = graph
        return graph


def avc_codec(init: bytes) -> str:
    """The RFC 6381 name (``avc1.PPCCLL``) of the H.264 stream an fMP4 init
    segment describes, from its ``avcC`` box; ``avc1.640028`` if not found."""
    at = init.find(b"avcC")
    if at < 0 or len(init) < at + 8:
        return "avc1.640028"
    profile, compat, level = init[at + 5], init[at + 6], init[at + 7]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


def _describe(folder: Path, audio_codec: str) -> Made:
    playlist = (folder / "index.m3u8").read_text()
    segments: list[str] = []
    durations: list[float] = []
    for line in playlist.splitlines():
        if line.startswith("#EXTINF:"):
            durations.append(float(line[8:].split(",")[0]))
        elif line and not line.startswith("#"):
            segments.append(line)
    sizes = [(folder / s).stat().st_size for s in segments]
    peak = max((8 * size / max(d, 0.1) for size, d in zip(sizes, durations, strict=True)))
    average = 8 * sum(sizes) / max(sum(durations), 0.1)
    codecs = avc_codec((folder / "init.mp4").read_bytes())
    return Made(
        playlist="index.m3u8",
        init="init.mp4",
        segments=segments,
        poster="poster.jpg",
        codecs=f"{codecs},{audio_codec}" if audio_codec else codecs,
        bandwidth=max(1, round(peak)),
        average_bandwidth=max(1, round(average)),
    )


async def run(
    source: Path,
    folder: Path,
    *,
    width: int,
    height: int,
    bitrate: int,
    segment_s: float,
    timeout_s: float,
    memory_bytes: int,
) -> Made | Refused:
    """:func:`make_rendition` in a child process at low priority; raises
    :class:`TranscodeLost` when it dies or takes longer than ``timeout_s``."""
    job = {
        "source": str(source),
        "folder": str(folder),
        "width": width,
        "height": height,
        "bitrate": bitrate,
        "segment_s": segment_s,
        "memory_bytes": memory_bytes,
    }
    process = await asyncio.create_subprocess_exec(
        # Through nice(1): the interpreter starts at low priority, where
        # setting it from here once the child exists came a moment late.
        "nice",
        "-n",
        str(_PRIORITY),
        # This file as a script (-P: its folder not on the path): the child
        # imports PyAV and nothing of the server, ~0.3 s of CPU less per job.
        sys.executable,
        "-P",
        __file__,
        json.dumps(job),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    # (Not lowered again from here: nice(1) may not have run yet, and would
    # add its 10 to ours — 19. The child lowers itself if it must, main().)
    try:
        async with asyncio.timeout(timeout_s):
            answer, _ = await process.communicate()
    except TimeoutError:
        raise TranscodeLost(f"transcoding took more than {timeout_s:g} s") from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        raise TranscodeLost(f"the transcoding process ended with {process.returncode}")
    try:
        reply = json.loads(answer)
        if "refused" in reply:
            return Refused(**reply["refused"])
        return Made(**reply["made"])
    except (ValueError, TypeError, KeyError) as exc:
        raise TranscodeLost(f"a transcoding process answered {answer[:200]!r}") from exc


def _lowered(pid: int) -> int:
    """Niceness ``_PRIORITY``, or the process's own if it is lower already."""
    return max(os.getpriority(os.PRIO_PROCESS, pid), _PRIORITY)


def _die_with_parent() -> None:
    """Linux: be killed when the server that started us dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # it died before we could ask
            os._exit(1)


def main(argv: list[str] | None = None) -> None:
    job = json.loads((argv or sys.argv[1:])[0])
    _die_with_parent()
    # nice 10 at least, under a server of higher priority too (nice(1) adds 10)
    os.setpriority(os.PRIO_PROCESS, 0, _lowered(0))
    limit = int(job["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what a C library prints cannot garble the answer
    result = make_rendition(
        Path(job["source"]),
        Path(job["folder"]),
        width=int(job["width"]),
        height=int(job["height"]),
        bitrate=int(job["bitrate"]),
        segment_s=float(job["segment_s"]),
    )
    kind = "made" if isinstance(result, Made) else "refused"
    replies.write(json.dumps({kind: asdict(result)}))
    replies.flush()


if __name__ == "__main__":
    main()
