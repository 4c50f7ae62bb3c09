"""A transcoding job survives the power cut of the region whose worker holds it.

Three regions on loopback, real processes, the real JetStream work queue: a
real video is uploaded, and the moment a region's worker is transcoding one
of its rungs (its low-priority child process runs), that region is
SIGKILLed. After the ack wait the job is handed to a surviving region's
worker, which makes the rung. Each rung is completed once in the log, and
every region — the killed one too, once power is back — serves the
playlists, which PyAV plays.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from stormproof.cluster import LocalCluster
from stormproof.events import RenditionReady
from stormproof.log.jetstream import JetStreamLog
from stormproof.media import make_video
from stormproof.testing import free_base_port
from tests.api.test_hls import _variants
from tests.conftest import sign_up, upload

ACK_WAIT_S = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster.create(tmp_path_factory.mktemp("cluster"), 3, free_base_port())
    cluster.env.update(
        {
            "STORMPROOF_TRANSCODE": "1",
            "STORMPROOF_HLS_RUNGS": "180,360",
            "STORMPROOF_TRANSCODE_ACK_WAIT_S": str(ACK_WAIT_S),
            "STORMPROOF_TRANSCODE_POLL_S": "0.2",
        }
    )
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


def _transcodes(pid: int) -> list[int]:
    """The niceness of each transcoding process the process ``pid`` runs now."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        # the interpreter, not nice(1) in the microseconds before it execs it
        if b"stormproof/media/transcode.py" in command and not command.startswith(b"nice\0"):
            found.append(_nice(stat))
    return found


def _nice(stat: str) -> int:
    """Field 19 of a /proc/PID/stat line: the process's niceness."""
    return int(stat.rsplit(")", 1)[1].split()[16])


def _worker_region(cluster: LocalCluster, patience: float = 60.0) -> str:
    """The first region seen transcoding (at low priority, one job at a time)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        for name in cluster.names:
            api = cluster.pids(name).get("api")
            running = _transcodes(api) if api is not None else []
            assert len(running) <= 1, f"{name} runs {len(running)} transcodes at once"
            if running:
                assert api is not None
                # nice(1) adds 10 to the server's own niceness (a server run
                # niced, as under a loaded CI, gives more), at most 19
                server = _nice(Path(f"/proc/{api}/stat").read_text())
                low = min(19, server + 10)
                assert running == [low], f"a transcode at nice {running[0]}, not {low}"
                return name
        time.sleep(0.01)
    raise AssertionError("no region took the transcoding job")


def _settled(url: str, video_id: str, patience: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + patience
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            video: dict[str, Any] = client.get(f"/v1/videos/{video_id}").json()
            states = [r.get("state") for r in video.get("renditions", [])]
            if states and "pending" not in states:
                return video
            assert time.monotonic() < deadline, f"the ladder is still being made: {video}"
            time.sleep(0.25)


async def _completions(nats_urls: list[str], video_id: str) -> dict[str, tuple[int, int]]:
    """The ``video.rendition_ready`` events of the video in the log: (rung,
    partition) by event id (a copy of one event in two partitions is one)."""
    log = JetStreamLog(nats_urls)
    seen: dict[str, tuple[int, int]] = {}
    try:
        for partition in range(log.partitions):
            after = 0
            while entries := await log.read(partition, after, 1000):
                for entry in entries:
                    data = entry.event.data
                    if isinstance(data, RenditionReady) and data.video_id == video_id:
                        seen.setdefault(entry.event.id, (data.rung, partition))
                after = entries[-1].seq
    finally:
        await log.close()
    return seen


def test_a_job_held_by_a_region_that_loses_power_is_done_by_another(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    # Long enough to catch a worker at it: ~2 s of transcoding per rung here.
    source = make_video(
        tmp_path / "clip.mp4", seconds=4.0, width=360, height=640, fps=30, seed=9, sound=True
    )
    url_a = cluster.urls[0]
    with httpx.Client(base_url=url_a, timeout=30) as client:
        auth = sign_up(client, "ladderer")
        uploaded = upload(client, auth, source)
        assert uploaded.status_code == 201, uploaded.text
    video_id, seq = uploaded.json()["id"], uploaded.json()["seq"]

    victim = _worker_region(cluster)
    cluster.kill(victim)
    survivor = next(
        url for name, url in zip(cluster.names, cluster.urls, strict=True) if name != victim
    )
    video = _settled(survivor, video_id)
    assert [(r["rung"], r["state"]) for r in video["renditions"]] == [
        (180, "ready"),
        (360, "ready"),
    ]
    completions = asyncio.run(_completions(cluster.nats_urls, video_id))
    assert Counter(rung for rung, _ in completions.values()) == {180: 1, 360: 1}
    # Each region appends to its own partition first: the region that lost
    # power mid-job completed nothing, the job it held was done elsewhere.
    assert cluster.names.index(victim) not in {p for _, p in completions.values()}

    cluster.restore(victim)
    for url in cluster.urls:
        _settled(url, video_id)
        with httpx.Client(base_url=url, timeout=30) as client:
            master = client.get(f"/v1/videos/{video_id}/hls.m3u8", params={"min_seq": seq})
            assert master.status_code == 200, master.text
            variants = _variants(master.text)
            assert [v["RESOLUTION"] for v, _ in variants] == ["180x320", "360x640"]
        for _, uri in variants:
            with av.open(url + uri) as played:
                assert sum(1 for _ in played.decode(video=0)) == 120  # 4 s at 30 fps
    digests = cluster.digests(60)
    views = {tuple(sorted(d["views"].items())) for d in digests["regions"].values()}
    assert len(views) == 1 and len(digests["regions"]) == 3, digests
