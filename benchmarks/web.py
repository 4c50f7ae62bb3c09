"""The web app's budgets (issue 16): the size of its shell and the time to
its first video frame.

- **Shell size**: the page, scripts and styles a first visit loads
  (``src/stormproof/web/dist``: ``index.html`` and the ``.js``/``.css`` files
  it links), each gzip-compressed (level 9, as a reverse proxy would), hls.js
  apart (loaded only for an HLS stream). Budget: 150 KB.
- **Time to first video frame**: one embedded region on loopback with one
  person and one real generated video; ``--runs`` fresh browser contexts
  (Debian's chromium, an empty cache each time) open For You already signed
  in, and the app marks ``first-frame`` when the video's first frame is
  there (``loadeddata``). Reported in ms from navigation start, with the
  Navigation Timing of the page (DOMContentLoaded, load) beside it.

Usage: .venv/bin/python benchmarks/web.py [--runs 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from foryou import machine
from playwright.sync_api import sync_playwright

from stormproof.media import make_video
from stormproof.settings import Settings
from stormproof.testing import CHROMIUM, CHROMIUM_ARGS, LiveServer
from stormproof.web.router import DIST

PASSWORD = "a long benchmark password"
BUDGET = 150_000

FIRST_FRAME = """new Promise(done => { const look = () => {
    const mark = performance.getEntriesByName('first-frame');
    mark.length ? done(mark[0].startTime) : setTimeout(look, 10) }; look() })"""
NAVIGATION = """(() => { const n = performance.getEntriesByType('navigation')[0];
    return {page: n.responseEnd, dom: n.domContentLoadedEventEnd, load: n.loadEventEnd} })()"""


def shell_size() -> dict[str, Any]:
    html = (DIST / "index.html").read_text(encoding="utf-8")
    linked = re.findall(r'(?:src|href)="(/assets/[^"]+\.(?:js|css))"', html)
    parts = {"index.html": html.encode()}
    for link in linked:
        parts[link] = (DIST / link.lstrip("/")).read_bytes()
    sizes = {name: len(gzip.compress(data, compresslevel=9)) for name, data in parts.items()}
    raw = sum(len(data) for data in parts.values())
    return {"files": sizes, "gzip_bytes": sum(sizes.values()), "raw_bytes": raw, "budget": BUDGET}


def first_frames(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "region", probe_every_s=0, password_cost=256)
        live = LiveServer(settings).start()
        try:
            with httpx.Client(base_url=live.url, timeout=30) as api:
                body = {"username": "bench", "password": PASSWORD}
                api.post("/v1/accounts", json=body).raise_for_status()
                session = api.post("/v1/sessions", json=body).json()
                auth = {"Authorization": f"Bearer {session['token']}"}
                clip = make_video(Path(folder) / "clip.mp4", seconds=3.0, seed=7)
                with clip.open("rb") as f:
                    api.post(
                        "/v1/videos", headers=auth, files={"file": ("clip.mp4", f, "video/mp4")}
                    ).raise_for_status()
            kept = json.dumps(
                {"token": session["token"], "username": "bench", "user_id": session["user_id"]}
            )
            frames: list[float] = []
            navigations: list[dict[str, float]] = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(runs):
                    context = browser.new_context(viewport={"width": 390, "height": 844})
                    context.add_init_script(
                        f"localStorage.setItem('stormproof.session', {json.dumps(kept)})"
                    )
                    page = context.new_page()
                    page.goto(live.url + "/")
                    frames.append(page.evaluate(FIRST_FRAME))
                    navigations.append(page.evaluate(NAVIGATION))
                    context.close()
                browser.close()
        finally:
            live.stop()
    return {
        "runs": runs,
        "first_frame_ms": {
            "median": round(statistics.median(frames), 1),
            "min": round(min(frames), 1),
            "max": round(max(frames), 1),
        },
        "page_received_ms": round(statistics.median(n["page"] for n in navigations), 1),
        "dom_content_loaded_ms": round(statistics.median(n["dom"] for n in navigations), 1),
        "load_ms": round(statistics.median(n["load"] for n in navigations), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    figures = {
        "machine": machine(),
        "chromium": chromium,
        "commit": commit,
        "shell": shell_size(),
        **first_frames(args.runs),
    }
    print(json.dumps(figures, indent=2))
    shell = figures["shell"]
    print(
        f"shell: {shell['gzip_bytes'] / 1000:.1f} KB gzip ({shell['raw_bytes'] / 1000:.1f} KB raw),"
        f" budget {BUDGET / 1000:.0f} KB; first video frame: median"
        f" {figures['first_frame_ms']['median']:.0f} ms from navigation start"
    )


if __name__ == "__main__":
    main()
