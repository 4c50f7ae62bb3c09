"""The workload and its Jepsen-style checker, on one embedded region.
The checker must notice a lost write and a duplicated one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from stormproof.loadgen import Op, Workload, check, longest_gap
from stormproof.testing import LiveServer
from tests.conftest import make_settings


async def test_workload_writes_and_the_checker_classifies(
    server: LiveServer, video_file: Path
) -> None:
    workload = Workload([server.url], users=2, video=video_file.read_bytes(), upload_every=5)
    await workload.setup()
    runner = asyncio.create_task(workload.run())
    await asyncio.sleep(1.5)
    for _ in range(300):  # on a busy machine the first upload may take a while
        if {op.kind for op in workload.ops} == {"message", "comment", "upload"}:
            break
        await asyncio.sleep(0.1)
    workload.stop()
    await runner
    kinds = {op.kind for op in workload.ops}
    assert kinds == {"message", "comment", "upload"}
    verdict = await check(workload, server.url)
    assert verdict.ok == len(workload.ops) > 0
    assert (verdict.lost, verdict.duplicated, verdict.unknown) == (0, 0, 0), verdict.details
    assert longest_gap(workload.ops) > 0

    # A write we claim was acknowledged but never made is reported lost...
    workload.ops.append(Op("message", "never-sent", workload.names[0], time.monotonic(), 0, "ok"))
    # ...and so is a comment.
    workload.ops.append(Op("comment", "x", workload.names[0], time.monotonic(), 0, "ok"))
    verdict = await check(workload, server.url)
    assert verdict.lost == 2, verdict.details


async def test_a_duplicated_write_is_reported(server: LiveServer, video_file: Path) -> None:
    workload = Workload([server.url], users=2, video=video_file.read_bytes())
    await workload.setup()
    async with workload.client() as c:
        await c.log_in(workload.names[0], "loadgen-password")
        for _ in range(2):  # the same text twice, as a bug would store it
            await c.post("/v1/messages", json={"to": workload.names[1], "text": "twice"})
    workload.ops.append(Op("message", "twice", workload.names[0], time.monotonic(), 0, "ok"))
    verdict = await check(workload, server.url)
    assert verdict.duplicated == 1 and verdict.lost == 0


async def test_a_rate_limited_write_is_waited_out_and_sent_again(
    tmp_path: Path, video_file: Path
) -> None:
    # Two writes of burst and two a second: the workers hit 429 at once.
    settings = make_settings(tmp_path / "region", writes_burst=2, writes_per_s=2.0)
    server = LiveServer(settings).start()
    try:
        workload = Workload([server.url], users=2, video=video_file.read_bytes())
        await workload.setup()
        runner = asyncio.create_task(workload.run())
        await asyncio.sleep(2.5)
        workload.stop()
        await runner
        assert len(workload.ops) >= 3  # more than the burst: some were refused first
        verdict = await check(workload, server.url)
    finally:
        server.stop()
    assert (verdict.ok, verdict.failed, verdict.lost) == (len(workload.ops), 0, 0)
