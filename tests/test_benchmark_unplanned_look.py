"""benchmarks/unplanned_look.py times the look for videos without a plan,
as it was and as it is, on a views file; both must find the same videos.
No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stormproof.events import VideoUploaded, new_event
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.store import ViewStore

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "unplanned_look.py"
SRC = Path(__file__).parents[1] / "src"


def test_the_unplanned_look_benchmark_times_both_looks_on_a_views_file(tmp_path: Path) -> None:
    path = tmp_path / "views.sqlite"
    store = ViewStore(path, all_views())
    try:
        for n in range(5):
            uploaded = VideoUploaded(
                video_id=f"v_{n}", owner_id="u_1", caption="", blob="a" * 64, size=1,
                content_type="video/mp4", thumbnail_blob="b" * 64, duration_ms=1000,
                width=720, height=1280, codec="h264",
            )  # fmt: skip
            event = new_event(uploaded, actor="u_1", at=1000 + n, id=f"e{n}")
            store.apply([Entry(0, n + 1, f"k{n}", event)])
    finally:
        store.close()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, str(SCRIPT), str(path), "--rounds", "3"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "5 videos, 5 of them without a plan" in lines[0]
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["before", "now"]
    assert all(line.endswith("5 found") for line in lines[1:])
