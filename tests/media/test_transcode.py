"""One rung of the HLS ladder made from real generated files (media/transcode.py).

A phone's portrait video is often stored as landscape pictures with a
display matrix saying "turn a quarter" (issue 14). Its rungs must come out
upright at the size as displayed, turned as a browser shows the original:
the expected picture here is placed by the file's own track matrix, read
from its ``tkhd`` box as ISO/IEC 14496-12 defines it, not by FFmpeg.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from stormproof.media import make_video, probe
from stormproof.media.ladder import ladder
from stormproof.media.probe import rotation_quarters
from stormproof.media.transcode import Made, make_rendition

Pixels = npt.NDArray[np.uint8]

#: the coded picture by rotation: landscape pictures turned a quarter either
#: way, a portrait one upside down, and one not turned; all shown portrait
CODED = {0: (180, 320), 90: (320, 180), 180: (180, 320), 270: (320, 180)}


def track_matrix(path: Path) -> tuple[int, int, int, int]:
    """(a, b, c, d) of the first track's matrix in an MP4's ``tkhd`` box, in
    whole units (16.16 fixed point in the file)."""
    data = path.read_bytes()
    at = data.index(b"tkhd") + 4
    version = data[at]
    # version and flags; times, track id, reserved and duration (64-bit
    # times in version 1); reserved, layer, alternate group, volume, reserved
    at += 4 + (32 if version == 1 else 20) + 16
    a, b, _, c, d = struct.unpack(">5i", data[at : at + 20])
    return round(a / 65536), round(b / 65536), round(c / 65536), round(d / 65536)


def as_shown(coded: Pixels, matrix: tuple[int, int, int, int]) -> Pixels:
    """``coded`` placed as a track matrix places it: the pixel at column
    ``p``, row ``q`` is shown at (a·p + c·q + x, b·p + d·q + y)."""
    a, b, c, d = matrix
    rows, columns = coded.shape[:2]
    q, p = np.mgrid[0:rows, 0:columns]
    x, y = a * p + c * q, b * p + d * q
    x, y = x - x.min(), y - y.min()
    shown = np.zeros((y.max() + 1, x.max() + 1, 3), dtype=np.uint8)
    shown[y, x] = coded[q, p]
    return shown


def resized(pixels: Pixels, width: int, height: int) -> Pixels:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
    scaled: Pixels = frame.reformat(width=width, height=height).to_ndarray()
    return scaled


def assert_upright(picture: Pixels, coded: Pixels, quarters: int) -> None:
    """``picture`` is ``coded`` turned ``quarters`` quarter turns counter-
    clockwise and scaled: much closer to that than to any other turn, the
    picture not turned (squashed to the rung's size) among them."""
    height, width = picture.shape[:2]

    def distance(k: int) -> float:
        turned = resized(np.rot90(coded, k), width, height)
        return float(np.abs(picture.astype(int) - turned.astype(int)).mean())

    right = distance(quarters)
    wrong = {k: round(distance(k), 1) for k in range(4) if k != quarters}
    assert right * 3 < min(wrong.values()), (round(right, 1), wrong)


@pytest.mark.parametrize("rotation", sorted(CODED))
def test_a_rotated_source_gives_an_upright_rung_and_poster(tmp_path: Path, rotation: int) -> None:
    width, height = CODED[rotation]
    source = make_video(
        tmp_path / "phone.mp4", seconds=0.5, width=width, height=height, fps=10, seed=5,
        rotation=rotation,
    )  # fmt: skip
    with av.open(str(source)) as container:
        frames = list(container.decode(video=0))
    coded = [frame.to_ndarray(format="rgb24") for frame in frames]
    quarters = rotation_quarters(frames[0])
    assert quarters == rotation // 90
    # The turn FFmpeg reads (and the thumbnail makes, np.rot90) is the one the
    # file's track matrix asks of a browser.
    assert np.array_equal(as_shown(coded[0], track_matrix(source)), np.rot90(coded[0], quarters))
    # The ladder is planned from the probe's size, as displayed: portrait.
    info = probe(source, max_duration_ms=60_000)
    (rung,) = ladder(info.width, info.height, (144,))
    assert (rung.width, rung.height) == (144, 256)

    folder = tmp_path / "rung"
    folder.mkdir()
    made = make_rendition(
        source, folder, width=rung.width, height=rung.height, bitrate=rung.bitrate, segment_s=2.0
    )
    assert isinstance(made, Made), made
    with av.open(str(folder / made.playlist)) as played:
        first = next(played.decode(video=0))
    assert (first.width, first.height) == (144, 256)
    assert first.rotation == 0  # upright already: no player turns it again
    assert_upright(first.to_ndarray(format="rgb24"), coded[0], quarters)
    with av.open(str(folder / made.poster)) as jpeg:
        poster = next(jpeg.decode(video=0)).to_ndarray(format="rgb24")
    assert poster.shape == (256, 144, 3)
    # the clip is shorter than a second: the poster is its last frame
    assert_upright(poster, coded[-1], quarters)
