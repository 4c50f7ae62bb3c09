"""The media worker: a child process that probes and thumbnails uploads.

Started by :class:`~stormproof.media.pool.MediaPool` as ``python -m
stormproof.media.worker CONFIG`` (a fresh interpreter, never a fork of the
server and the engine it holds). It first checks a tiny video of its own,
which loads every library a job needs (PyAV imports some of its modules and
FFmpeg its codecs only when first used; under the memory limit, mapping them
could fail). Then it confines itself before the first job:

- its address space to ``memory_bytes``, so a picture or a decoder that
  would take more fails to allocate (the job answers ``video_too_complex``);
- before each job, its CPU time to what it used so far plus ``cpu_s``: a job
  the pool's wall-clock timeout somehow missed is killed by the kernel;
- no file it could write, and no core dump when it is killed.

Then it says it is ready (``{"ready": true}``) and answers one job at a time
on its standard input and output, each message one :func:`write_message`
frame: a 4-byte big-endian length and that many bytes of JSON. Replies are
JSON, not pickle, so a worker subverted by a crafted file cannot make the
server run code. Whatever else writes to file descriptor 1 (a C library
printing) is sent to standard error instead, so it cannot break the frames.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from stormproof.errors import Unprocessable
from stormproof.media.generate import make_video
from stormproof.media.limits import MediaLimits, VideoTooComplex
from stormproof.media.probe import probe
from stormproof.media.thumbnail import thumbnail

__all__ = ["examine", "main", "read_message", "write_message"]


def examine(path: Path, limits: MediaLimits, max_duration_ms: int) -> dict[str, Any]:
    """Probe and thumbnail ``path``: the reply to one job, as JSON-ready data."""
    try:
        info = probe(path, max_duration_ms=max_duration_ms, limits=limits)
        jpeg = thumbnail(path, limits=limits)
    except Unprocessable as exc:
        return {"error": {"code": exc.code, "message": exc.message, "detail": exc.detail}}
    except MemoryError:
        refusal = VideoTooComplex("The video needs more memory to read than we give it.")
        return {"error": {"code": refusal.code, "message": refusal.message, "detail": {}}}
    return {"info": info.__dict__, "thumbnail": base64.b64encode(jpeg).decode()}


def read_message(source: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at the end of the input (the server is gone)."""
    header = source.read(4)
    if len(header) < 4:
        return None
    size = int.from_bytes(header, "big")
    message: dict[str, Any] = json.loads(source.read(size))
    return message


def write_message(target: IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    target.write(len(body).to_bytes(4, "big") + body)
    target.flush()


def _warm_up(limits: MediaLimits) -> None:
    with tempfile.TemporaryDirectory(prefix="stormproof-media-") as folder:
        clip = make_video(Path(folder) / "warm.mp4", seconds=0.4, width=32, height=32, fps=5)
        reply = examine(clip, limits, max_duration_ms=60_000)
        assert "info" in reply, reply


def _confine(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limit_cpu(seconds: float) -> None:
    """Let the next job use ``seconds`` more CPU time; the kernel kills us past it."""
    used = time.process_time()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (int(used + seconds) + 1, hard))


def main(argv: list[str] | None = None) -> None:
    config = json.loads((argv or sys.argv[1:])[0])
    limits = MediaLimits(**config["limits"])
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _warm_up(limits)
    _confine(config["memory_bytes"])
    write_message(replies, {"ready": True})
    requests = sys.stdin.buffer
    while (job := read_message(requests)) is not None:
        _limit_cpu(config["cpu_s"])
        reply = examine(Path(job["path"]), limits, config["max_duration_ms"])
        write_message(replies, reply)


if __name__ == "__main__":
    main()
