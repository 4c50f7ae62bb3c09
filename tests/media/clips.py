"""Adversarial videos for the media limits, made with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["tiny_frames", "zero_frames"]


def tiny_frames(path: Path, count: int, *, apart_us: int = 1, side: int = 16) -> Path:
    """``count`` small H.264 frames ``apart_us`` microseconds apart: the attack
    of a video that plays in a blink and costs a decode per frame. Frame ``i``
    is grey level ``min(i, 255)``, so a thumbnail tells which frame it shows."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    options = {"preset": "ultrafast", "bf": "0"} if codec == "libx264" else {}
    time_base = Fraction(1, 1_000_000)
    flags = {"movflags": "+faststart"} if path.suffix in (".mp4", ".mov") else {}
    with av.open(str(path), "w", options=flags) as out:
        stream = out.add_stream(codec, rate=30, options=options)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        for index in range(count):
            grey = np.full((side, side, 3), min(index, 255), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts = index * apart_us
            frame.time_base = time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def zero_frames(source: Path, target: Path) -> Path:
    """``source`` with its header kept and every frame's bytes zeroed: a file
    that passes any check made before decoding and fails any decode."""
    data = bytearray(source.read_bytes())
    frames_start = data.find(b"mdat") + 4
    assert frames_start > 4, "an MP4 with its frames in an mdat box"
    data[frames_start:] = bytes(len(data) - frames_start)
    target.write_bytes(bytes(data))
    return target
