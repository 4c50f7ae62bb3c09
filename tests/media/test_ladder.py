"""Which rungs a video gets, and the playlists that list them (ADR 028)."""

from __future__ import annotations

import pytest

from stormproof.media.ladder import (
    Rendition,
    Rung,
    content_addressed,
    ladder,
    master_playlist,
)
from stormproof.media.transcode import avc_codec

RUNGS = (360, 540, 720, 1080)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        # a phone's vertical 1080p: every rung, named by the short side
        (1080, 1920, [(360, 360, 640), (540, 540, 960), (720, 720, 1280), (1080, 1080, 1920)]),
        # landscape: the same rungs, lying down
        (1920, 1080, [(360, 640, 360), (540, 960, 540), (720, 1280, 720), (1080, 1920, 1080)]),
        # 720p source: nothing above it
        (720, 1280, [(360, 360, 640), (540, 540, 960), (720, 720, 1280)]),
        # between rungs: the ones below, never one above
        (600, 1066, [(360, 360, 640), (540, 540, 960)]),
        # smaller than every rung: one rung at its own size
        (240, 426, [(240, 240, 426)]),
        (241, 427, [(240, 240, 426)]),
        # square
        (720, 720, [(360, 360, 360), (540, 540, 540), (720, 720, 720)]),
    ],
)
def test_a_video_gets_the_rungs_up_to_its_short_side(
    width: int, height: int, expected: list[tuple[int, int, int]]
) -> None:
    made = ladder(width, height, RUNGS)
    assert [(r.rung, r.width, r.height) for r in made] == expected
    assert all(r.width <= max(width, 2) and r.height <= max(height, 2) for r in made)
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in made)
    bitrates = [r.bitrate for r in made]
    assert bitrates == sorted(bitrates) and len(set(bitrates)) == len(bitrates)


def test_rungs_are_capped_at_bitrates_for_short_vertical_video() -> None:
    made = {r.rung: r.bitrate for r in ladder(1080, 1920, RUNGS)}
    assert made == {360: 800_000, 540: 1_400_000, 720: 2_400_000, 1080: 4_500_000}
    assert ladder(1080, 1920, (480,)) == [Rung(480, 480, 854, 1_067_000)]


def test_the_master_playlist_lists_rungs_by_bandwidth_with_resolution_and_codecs() -> None:
    low = Rendition(360, 360, 640, 900_000, 700_000, "avc1.64001e,mp4a.40.2", "a" * 64)
    high = Rendition(720, 720, 1280, 2_500_000, 2_000_000, "avc1.64001f,mp4a.40.2", "b" * 64)
    assert master_playlist([high, low]).splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=360x640,"
        'CODECS="avc1.64001e,mp4a.40.2"',
        f"/v1/hls/{'a' * 64}.m3u8",
        "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=720x1280,"
        'CODECS="avc1.64001f,mp4a.40.2"',
        f"/v1/hls/{'b' * 64}.m3u8",
    ]


def test_a_media_playlist_names_its_files_by_blob_id() -> None:
    written = (
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.000000,\ns00000.m4s\n'
        "#EXTINF:1.000000,\ns00001.m4s\n#EXT-X-ENDLIST\n"
    )
    blobs = {"init.mp4": "i" * 64, "s00000.m4s": "0" * 64, "s00001.m4s": "1" * 64}
    assert content_addressed(written, blobs) == (
        f'#EXTM3U\n#EXT-X-MAP:URI="{"i" * 64}.mp4"\n#EXTINF:2.000000,\n{"0" * 64}.m4s\n'
        f"#EXTINF:1.000000,\n{'1' * 64}.m4s\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(KeyError):
        content_addressed(written, {})


def test_the_codec_name_comes_from_the_init_segments_avcc_box() -> None:
    assert avc_codec(b"....avcC\x01\x64\x00\x1f\xff") == "avc1.64001f"
    assert avc_codec(b"no box here") == "avc1.640028"
