"""What the HLS ladder costs: transcoding speed through the job machinery, and
how soon an upload gets its first playable rung (issue 14, ADR 028).

Measures, in one run, on one generated clip (default 15 s, 1080x1920, 30 fps,
with sound):

  1. the reference: a plain PyAV transcode of the clip to each rung's size
     (decode, scale, libx264 with the ladder's settings, AAC, one MP4 file),
     in this process: seconds of video per CPU second, per rung;
  2. the job machinery: the clip uploaded to a live embedded region with
     transcoding on (one worker, as on 2 cores); for each rung, the CPU
     seconds from the previous rung's completion to its own (the transcoding
     process, the region storing segments as blobs and writing the event),
     as seconds of video per CPU second, and its ratio to the reference;
  3. the time from the upload's answer to the first rung being playable
     (its media playlist served), and to the whole ladder.

With ``--rotation 90`` (or 180, 270) the clip is stored as a phone stores
portrait video: its pictures coded turned (1920x1080 for a 1080x1920 clip)
with a display matrix asking for the turn, so the ladder (planned at the
size as displayed, the same rungs) turns every picture upright. The
reference does not turn (it scales the coded picture to the rung's size):
the ratio shows what turning costs beside plain scaling.

Usage: .venv/bin/python benchmarks/transcode.py [--seconds 15] [--width 1080]
       [--height 1920] [--rungs 360,540,720,1080] [--rotation 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx

from stormproof.media import make_video
from stormproof.media.ladder import Rung, ladder
from stormproof.media.transcode import AUDIO_BITRATE
from stormproof.settings import Settings
from stormproof.testing import LiveServer

PASSWORD = "correct horse battery"


def cpu() -> float:
    """CPU seconds of this process (every thread) and of its reaped children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def reference(source: Path, target: Path, rung: Rung, segment_s: float = 2.0) -> None:
    """A plain PyAV transcode of ``source`` to one rung's size and settings."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        video = inp.streams.video[0]
        video.thread_type = "AUTO"  # as the transcoding process decodes
        audio = inp.streams.audio[0] if inp.streams.audio else None
        rate = video.average_rate or Fraction(30)
        gop = round(float(rate) * segment_s)
        v_out = out.add_stream(
            "libx264",
            rate=rate,
            options={
                "preset": "veryfast",
                "profile": "high",
                "crf": "23",
                "maxrate": str(rung.bitrate),
                "bufsize": str(rung.bitrate * 2),
                "x264-params": f"keyint={gop * 2}:min-keyint={gop}:scenecut=0",
            },
        )
        v_out.width, v_out.height, v_out.pix_fmt = rung.width, rung.height, "yuv420p"
        v_out.codec_context.time_base = video.time_base
        a_out = resampler = None
        if audio is not None:
            a_out = out.add_stream("aac", rate=48_000)
            a_out.bit_rate = AUDIO_BITRATE
            a_out.layout = "stereo"
            resampler = av.AudioResampler(
                format="fltp", layout="stereo", rate=48_000, frame_size=1024
            )
        streams = [s for s in (video, audio) if s is not None]
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    picture = frame.reformat(width=rung.width, height=rung.height, format="yuv420p")
                    picture.pts, picture.time_base = frame.pts, frame.time_base
                    out.mux(v_out.encode(picture))
                elif isinstance(frame, av.AudioFrame) and a_out and resampler:
                    frame.pts = None
                    for chunk in resampler.resample(frame):
                        out.mux(a_out.encode(chunk))
        out.mux(v_out.encode(None))
        if a_out is not None:
            out.mux(a_out.encode(None))


def children_cpu() -> float:
    """CPU seconds of this process's children that ended (transcoding processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def through_the_jobs(
    source: Path, folder: Path, rungs: tuple[int, ...]
) -> tuple[dict[int, float], float, float, float]:
    """Through a live region's job machinery: the CPU seconds of each rung's
    transcoding process, the CPU seconds of the whole ladder (those processes
    and the region: storing blobs, writing events, its loops — and answering
    this benchmark's looks), and the seconds from the upload's answer to the
    first rung playable and to the whole ladder."""
    settings = Settings(
        data_dir=folder / "region",
        probe_every_s=0,
        password_cost=2**8,
        transcode=True,
        hls_rungs=rungs,
        transcode_workers=1,
    )
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            client.post("/v1/accounts", json={"username": "bench", "password": PASSWORD})
            token = client.post(
                "/v1/sessions", json={"username": "bench", "password": PASSWORD}
            ).json()["token"]
            with source.open("rb") as f:
                answer = client.post(
                    "/v1/videos",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": (source.name, f, "video/mp4")},
                )
            answer.raise_for_status()
            uploaded_at, began, mark = time.monotonic(), cpu(), children_cpu()
            video_id = answer.json()["id"]
            spent: dict[int, float] = {}
            first = 0.0
            while True:
                video = client.get(f"/v1/videos/{video_id}").json()
                states = {r["rung"]: r["state"] for r in video["renditions"]}
                for rung, state in sorted(states.items()):
                    if state != "pending" and rung not in spent:
                        if state != "ready":
                            raise SystemExit(f"rung {rung} failed: {video['renditions']}")
                        # One worker: each process ended before its rung was ready.
                        now = children_cpu()
                        spent[rung], mark = now - mark, now
                        if not first:
                            (_, uri), *_ = _variants(client.get(video["hls_url"]).text)
                            client.get(uri).raise_for_status()  # playable: served
                            first = time.monotonic() - uploaded_at
                if states and len(spent) == len(states):
                    whole = time.monotonic() - uploaded_at
                    return spent, cpu() - began, first, whole
                # each look costs the region a request: often until the first
                # rung is playable, then seldom
                time.sleep(0.5 if first else 0.05)
    finally:
        live.stop()


def _variants(master: str) -> list[tuple[str, str]]:
    lines = master.splitlines()
    return [(line, lines[n + 1]) for n, line in enumerate(lines) if line.startswith("#EXT-X-S")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=1080)
    parser.add_argument("--height", type=int, default=1920)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--rungs", default="360,540,720,1080")
    parser.add_argument("--rotation", type=int, choices=(0, 90, 180, 270), default=0)
    args = parser.parse_args()
    rungs = tuple(int(r) for r in args.rungs.split(","))
    # the size as displayed is --width x --height whatever the rotation
    coded = (args.height, args.width) if args.rotation % 180 else (args.width, args.height)
    print(f"machine: {os.cpu_count()} cores; clip {args.seconds:g} s {args.width}x{args.height}"
          f", coded {coded[0]}x{coded[1]} turned {args.rotation}°")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stormproof-transcode-") as name:
        folder = Path(name)
        started = time.monotonic()
        source = make_video(
            folder / "clip.mp4",
            seconds=args.seconds,
            width=coded[0],
            height=coded[1],
            fps=args.fps,
            seed=14,
            rotation=args.rotation,
            sound=True,
        )
        print(f"clip made in {time.monotonic() - started:.1f} s")
        plain: dict[int, float] = {}
        for rung in ladder(args.width, args.height, rungs):
            before = cpu()
            reference(source, folder / f"ref{rung.rung}.mp4", rung)
            plain[rung.rung] = cpu() - before
        jobs, ladder_cpu, first, whole = through_the_jobs(source, folder, rungs)
    print()
    print("rung   reference (s video / CPU s)   transcoding job   ratio")
    for rung, reference_cpu in plain.items():
        ref_speed = args.seconds / reference_cpu
        job_speed = args.seconds / jobs[rung]
        print(f"{rung:>4}p  {ref_speed:>27.2f}   {job_speed:>15.2f}   {job_speed / ref_speed:.2f}x")
    total_ref = sum(plain.values())
    print(f"whole ladder: reference {total_ref:.1f} CPU s; job machinery {ladder_cpu:.1f} CPU s "
          f"(transcoding processes {sum(jobs.values()):.1f}, the rest the region), "
          f"ratio {total_ref / ladder_cpu:.2f}x")  # fmt: skip
    print(f"upload answered -> first rung playable: {first:.1f} s")
    print(f"upload answered -> whole ladder ready: {whole:.1f} s")


if __name__ == "__main__":
    main()
