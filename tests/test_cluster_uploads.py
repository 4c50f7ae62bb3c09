"""A resumable upload survives the power cut of the region that took it.

Three regions on loopback, real processes: half of a real video goes to
region A over tus (tuspy), A is SIGKILLed, and the same client resumes on
region B from the offset B reports — the offset A acknowledged, since every
acknowledged chunk is in the replicated blob store and the log.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stormproof.cluster import LocalCluster
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.api.test_uploads import TUS, tus_upload
from tests.conftest import sign_up
from tests.test_cluster_hls import _settled


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster.create(tmp_path_factory.mktemp("cluster"), 3, free_base_port())
    # the ladder of what a resumed upload made: one small rung (ADR 028)
    cluster.env.update({"STORMPROOF_TRANSCODE": "1", "STORMPROOF_HLS_RUNGS": "180"})
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def test_an_upload_resumes_in_another_region_after_a_power_cut(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=3.0, seed=7)
    size = video.stat().st_size
    chunk = size // 8 + 1
    a = cluster.names[0]
    url_a, url_b, url_c = cluster.urls
    with httpx.Client(base_url=url_a, timeout=30) as client:
        auth = sign_up(client, "traveller")
    with tus_upload(url_a, auth, video, chunk_size=chunk) as first:
        first.upload(stop_at=chunk * 4)
    acknowledged, path = first.offset, first.url.removeprefix(url_a)
    assert acknowledged == chunk * 4

    cluster.kill(a)
    # A chunk sent in the seconds after the cut may meet a 503 while the dead
    # region's streams elect new leaders: tus clients retry (HEAD, then
    # PATCH from the offset it says), as tus-js-client does by default.
    retrying = {"retries": 10, "retry_delay": 1}
    with tus_upload(url_b, auth, video, chunk_size=chunk, url=url_b + path, **retrying) as resumed:
        assert resumed.offset == acknowledged  # HEAD on B: what A acknowledged
        resumed.upload()
    with httpx.Client(timeout=30) as client:
        done = client.head(url_b + path, headers={**auth, **TUS})
        video_id, seq = done.headers["stormproof-video"], done.headers["stormproof-seq"]
        cluster.restore(a)
        for url in (url_a, url_b, url_c):
            played = client.get(f"{url}/v1/videos/{video_id}/file", params={"min_seq": seq})
            assert (
                hashlib.sha256(played.content).digest()
                == hashlib.sha256(video.read_bytes()).digest()
            )
            listed = client.get(f"{url}/v1/accounts/traveller/videos", params={"min_seq": seq})
            assert [v["id"] for v in listed.json()] == [video_id]  # once
    # The ladder is produced, once, and every region serves its playlist.
    ladder = _settled(url_b, video_id)
    assert [(r["rung"], r["state"]) for r in ladder["renditions"]] == [(180, "ready")]
    with httpx.Client(timeout=30) as client:
        for url in (url_a, url_b, url_c):
            master = client.get(url + ladder["hls_url"])
            assert master.status_code == 200 and master.text.startswith("#EXTM3U"), url
    for _ in range(120):  # a region's health may time out on a busy machine: ask again
        if not cluster.left_out():
            break
        time.sleep(0.5)
    digests = cluster.digests(60)
    views = {tuple(sorted(d["views"].items())) for d in digests["regions"].values()}
    assert len(views) == 1 and len(digests["regions"]) == 3, digests
