"""A few worker processes that probe and thumbnail uploads, apart from the server.

Probing and thumbnailing an upload is CPU work on untrusted bytes. Run in the
server's default thread pool (``asyncio.to_thread``), eight costly uploads
held every thread that view reads also wait for, and an unrelated read took
33 s. :class:`MediaPool` runs that work in ``Settings.media_workers`` child
processes (:mod:`stormproof.media.worker`) instead:

- **Isolated**: each worker is a fresh interpreter (not a fork of the server,
  which holds the engine), confined by ``setrlimit`` to ``memory_bytes`` of
  address space and to CPU time per job. Waiting for one costs the server no
  thread: the event loop reads the worker's pipe.
- **Bounded in time**: a job that has not answered after ``timeout_s`` (wall
  clock) is killed with its worker and answered :class:`VideoTooComplex`
  (422); so is a job whose worker dies. The next job starts a new worker.
- **Bounded in queue**: at most ``workers`` jobs run and ``max_waiting`` wait;
  one more is refused at once with :class:`MediaBusy` (503, with a
  ``retry_after`` the API sends as ``Retry-After``).

Workers start on first use and stay; :meth:`MediaPool.close` stops them. No
``asyncio``, OS or JSON error leaves :meth:`MediaPool.examine`: only our own.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from stormproof.errors import StormproofError, Unavailable
from stormproof.media.info import InvalidVideo, VideoInfo, VideoTooLong
from stormproof.media.limits import (
    FrameRateTooHigh,
    MediaLimits,
    PictureTooLarge,
    TooManyFrames,
    VideoTooComplex,
)
from stormproof.settings import Settings

__all__ = ["Examined", "MediaBusy", "MediaPool"]

T = TypeVar("T")

#: a reply holds a VideoInfo and a JPEG of at most 480 px a side
_MAX_REPLY_BYTES = 16 * 1024 * 1024
#: what a refused upload is told to wait: jobs take ~0.1 s, a full queue ~1 s
_RETRY_AFTER_S = 2
#: a new interpreter importing PyAV and numpy on a busy machine
_START_TIMEOUT_S = 60.0
_REFUSALS: dict[str, type[StormproofError]] = {
    error.code: error
    for error in (
        InvalidVideo,
        VideoTooLong,
        TooManyFrames,
        FrameRateTooHigh,
        PictureTooLarge,
        VideoTooComplex,
    )
}
# One thread per numerical library in a worker: it is given one core's worth.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class MediaBusy(Unavailable):
    code = "media_busy"


@dataclass(frozen=True)
class Examined:
    """What the upload action needs from a video file."""

    info: VideoInfo
    thumbnail: bytes


class _WorkerLost(Exception):
    """The worker died, or said something that is not a reply."""


class _Worker:
    """One child process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, config: str) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "stormproof.media.worker",
            config,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **_WORKER_ENV},
        )
        worker = cls(process)
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                ready = await worker.receive()
            if ready != {"ready": True}:
                raise _WorkerLost(f"a worker started with {ready!r}")
        except BaseException:
            await worker.kill()
            raise
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ask(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        body = json.dumps(job).encode()
        try:
            self.process.stdin.write(len(body).to_bytes(4, "big") + body)
            await self.process.stdin.drain()
        except OSError as exc:  # BrokenPipeError, ConnectionResetError: it died
            raise _WorkerLost("the worker is gone") from exc
        async with asyncio.timeout(timeout_s):
            return await self.receive()

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            size = int.from_bytes(await self.process.stdout.readexactly(4), "big")
            if size > _MAX_REPLY_BYTES:
                raise _WorkerLost(f"a reply of {size} bytes")
            message = json.loads(await self.process.stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ValueError, OSError) as exc:
            raise _WorkerLost("the worker died or garbled its reply") from exc
        if not isinstance(message, dict):
            raise _WorkerLost("a reply that is not an object")
        return message

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()


class MediaPool:
    """Probe and thumbnail uploads in up to ``workers`` confined child processes."""

    def __init__(
        self,
        limits: MediaLimits,
        *,
        max_duration_ms: int,
        workers: int = 1,
        max_waiting: int = 8,
        timeout_s: float = 20.0,
        memory_bytes: int = 1 << 30,
    ) -> None:
        if workers < 1 or max_waiting < 0 or timeout_s <= 0:
            raise ValueError("need workers >= 1, max_waiting >= 0 and timeout_s > 0")
        self.limits = limits
        self.timeout_s = timeout_s
        self.capacity = workers + max_waiting
        #: workers killed after a timeout or found dead (and replaced on next use)
        self.discarded = 0
        self._config = json.dumps(
            {
                "limits": asdict(limits),
                "max_duration_ms": max_duration_ms,
                "memory_bytes": memory_bytes,
                # A backstop for the wall-clock timeout, which counts waiting too.
                "cpu_s": timeout_s * 2,
            }
        )
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._admitted = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaPool:
        limits = MediaLimits(
            max_packets=settings.media_max_packets,
            max_fps=settings.media_max_fps,
            max_pixels=settings.media_max_pixels,
            max_side=settings.media_max_side,
        )
        return cls(
            limits,
            max_duration_ms=settings.max_duration_ms,
            workers=settings.media_workers,
            max_waiting=settings.media_max_waiting,
            timeout_s=settings.media_decode_timeout_s,
            memory_bytes=settings.media_worker_memory_bytes,
        )

    @property
    def pids(self) -> list[int]:
        """The worker processes running now."""
        return sorted(worker.pid for worker in self._live)

    async def examine(self, path: Path) -> Examined:
        """Probe ``path`` and make its thumbnail in a worker.

        Raises the refusals of :func:`~stormproof.media.probe.probe` and
        :mod:`~stormproof.media.limits`, :class:`VideoTooComplex` when the
        job runs out of time or memory, and :class:`MediaBusy` when too many
        uploads wait already."""
        if self._admitted >= self.capacity:
            raise MediaBusy(
                "Too many videos are being checked right now; try again shortly.",
                retry_after=_RETRY_AFTER_S,
            )
        self._admitted += 1
        try:
            async with self._slots:
                return _answer(await self._run({"path": str(path)}))
        finally:
            self._admitted -= 1

    async def close(self) -> None:
        """Stop every worker; a job still running is killed with its worker."""
        self._idle.clear()
        for worker in list(self._live):
            await self._discard(worker)

    async def _run(self, job: dict[str, Any]) -> dict[str, Any]:
        worker = self._idle.pop() if self._idle else await self._start()
        try:
            reply = await worker.ask(job, self.timeout_s)
        except TimeoutError:
            await self._discard(worker)
            raise VideoTooComplex(
                f"The video takes more than {self.timeout_s:g} s to check.",
                timeout_s=self.timeout_s,
            ) from None
        except _WorkerLost:
            await self._discard(worker)
            raise VideoTooComplex("The video cannot be checked within our limits.") from None
        except BaseException:  # cancelled: what the worker is doing is unknown
            await self._discard(worker)
            raise
        self._idle.append(worker)
        return reply

    async def _start(self) -> _Worker:
        try:
            worker = await _Worker.start(self._config)
        except (_WorkerLost, TimeoutError, OSError) as exc:
            raise Unavailable(
                "Videos cannot be checked right now.", code="media_unavailable"
            ) from exc
        self._live.add(worker)
        return worker

    async def _discard(self, worker: _Worker) -> None:
        self._live.discard(worker)
        self.discarded += 1
        await worker.kill()


def _answer(reply: dict[str, Any]) -> Examined:
    """Our own result or refusal from a worker's reply, checked field by field."""
    error = reply.get("error")
    if isinstance(error, dict):
        refusal = _REFUSALS.get(str(error.get("code")))
        message = str(error.get("message", ""))
        if refusal is None:
            raise StormproofError("A video check failed.", code="media_failed")
        detail = error.get("detail")
        raise refusal(message, **_plain(detail if isinstance(detail, dict) else {}))
    try:
        info = reply["info"]
        return Examined(
            info=VideoInfo(
                duration_ms=_typed(info["duration_ms"], int),
                width=_typed(info["width"], int),
                height=_typed(info["height"], int),
                codec=_typed(info["codec"], str),
                container=_typed(info["container"], str),
                content_type=_typed(info["content_type"], str),
            ),
            thumbnail=base64.b64decode(_typed(reply["thumbnail"], str), validate=True),
        )
    except (KeyError, TypeError, binascii.Error) as exc:
        raise StormproofError("A video check failed.", code="media_failed") from exc


def _typed(value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value


def _plain(detail: dict[Any, Any]) -> dict[str, Any]:
    """The detail a refusal may carry to the client: plain values, no reserved keys."""
    return {
        str(key): value
        for key, value in detail.items()
        if key not in ("code", "message") and isinstance(value, int | float | str)
    }
