"""The HLS ladder: which rungs a video gets, and the playlists that list them.

Rungs are named by the picture's **short side** (a 1080x1920 vertical video
is "1080p", as a 1920x1080 one is): short-form video is mostly vertical, and
naming by height would call a phone's 1080p clip 1920p. A video gets every
configured rung no larger than its own short side, or, when all are larger,
one rung at its own size: never a rung above the source.

Bitrates suit short vertical video of mostly faces and motion at 30 fps
(Apple's HLS authoring guide and the ladders of short-video apps are the
anchors): the cap grows with the pixel count.

Nothing here touches files or the network: :mod:`stormproof.media.transcode`
makes the renditions, the API serves what :func:`master_playlist` and
:func:`content_addressed` write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Rendition",
    "Rung",
    "content_addressed",
    "ladder",
    "master_playlist",
]

#: video bitrate caps (bits per second) by rung; other rungs scale by pixels
_BITRATES = {360: 800_000, 540: 1_400_000, 720: 2_400_000, 1080: 4_500_000}


@dataclass(frozen=True)
class Rung:
    """One rung: its name (short side), picture size and video bitrate cap."""

    rung: int
    width: int
    height: int
    bitrate: int


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _bitrate(rung: int) -> int:
    if rung in _BITRATES:
        return _BITRATES[rung]
    return max(100_000, int(round(_BITRATES[720] * (rung / 720) ** 2, -3)))


def ladder(width: int, height: int, rungs: Sequence[int]) -> list[Rung]:
    """The rungs a ``width`` x ``height`` video gets, smallest first."""
    short, long = min(width, height), max(width, height)
    fitting = [r for r in sorted(set(rungs)) if r <= short] or [_even(short) if short > 1 else 2]
    made = []
    for rung in fitting:
        other = _even(long * rung / short)
        w, h = (rung, other) if width <= height else (other, rung)
        made.append(Rung(rung=rung, width=w, height=h, bitrate=_bitrate(rung)))
    return made


@dataclass(frozen=True)
class Rendition:
    """A rung ready to list in a master playlist."""

    rung: int
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    playlist: str  # the media playlist's blob id


def master_playlist(renditions: Sequence[Rendition], uri: str = "/v1/hls/{blob}.m3u8") -> str:
    """The master playlist of the ready rungs, lowest bandwidth first."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in sorted(renditions, key=lambda r: (r.bandwidth, r.rung)):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth},AVERAGE-BANDWIDTH={r.average_bandwidth},"
            f'RESOLUTION={r.width}x{r.height},CODECS="{r.codecs}"'
        )
        lines.append(uri.format(blob=r.playlist))
    return "\n".join(lines) + "\n"


_URI_LINE = re.compile(r"^(?!#)(\S+)$", re.MULTILINE)
_MAP = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')


def content_addressed(playlist: str, blobs: Mapping[str, str]) -> str:
    """A media playlist FFmpeg wrote, its files' names replaced by their blob
    ids (``{blob}.mp4`` for the init segment, ``{blob}.m4s`` for media
    segments): served beside it, the playlist and every file it names are
    immutable. A name missing from ``blobs`` raises ``KeyError``."""

    def segment(match: re.Match[str]) -> str:
        return f"{blobs[match.group(1)]}.m4s"

    def init(match: re.Match[str]) -> str:
        return f'#EXT-X-MAP:URI="{blobs[match.group(1)]}.mp4"'

    return _URI_LINE.sub(segment, _MAP.sub(init, playlist))
