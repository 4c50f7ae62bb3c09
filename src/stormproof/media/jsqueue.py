"""Transcoding jobs in a JetStream work-queue stream, shared by every region.

The stream ``{prefix}`` (subjects ``{prefix}.transcode.<video>.<rung>``,
lower case) is R3 with work-queue retention: a job is stored once, on every
server, until a worker acknowledges it. One durable pull consumer, shared by
every region's workers, hands each job to one worker at a time with explicit
acks: a job neither acknowledged nor reported in progress within
``ack_wait`` (its worker's region lost power) is handed out again, to
whichever worker asks next. The server delivers without limit; the
transcoder counts deliveries (``Lease.deliveries``) and fails the rung past
its own limit, so no job stays in the stream forever.

Every region submits every pending rung with the job's name as
``Nats-Msg-Id``: within the stream's ``duplicate_window`` the server stores
it once. A job handed out after its rung was made (a copy submitted past the
window) is acknowledged unread by the transcoder.

Requests go through this region's server first, then the others; no
``nats.*`` error leaves this module (:class:`~stormproof.media.jobs.JobsUnavailable`).
See ``docs/adr/028-hls-ladder-and-transcoding-jobs.md``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from stormproof.jetstream.links import ApiError, Links, Unreachable
from stormproof.jetstream.streams import ensure_stream, stream_config
from stormproof.media.jobs import Job, JobsUnavailable

__all__ = ["JetStreamQueue"]

_API = "$JS.API"
_NS = 1_000_000_000
#: the consumer exists already and cannot take this configuration (a create
#: with another, editable one — the ack wait — updates it: the region that
#: started last sets it, tests/media/test_jobs.py)
_CONSUMER_EXISTS = {10013, 10148}


@dataclass
class _Lease:
    job: Job
    deliveries: int
    msg: Msg
    links: Links

    async def _say(self, what: bytes) -> None:
        # An ack reaches the consumer's leader from any server; a lost one
        # costs a redelivery, which the transcoder answers with an ack.
        for i in self.links.read_order():
            try:
                nc = await self.links.client(i)
                await nc.publish(self.msg.reply, what)
                await nc.flush(timeout=2)
                return
            except (Unreachable, NatsError, OSError, TimeoutError):
                continue

    async def progress(self) -> None:
        await self._say(b"+WPI")

    async def done(self) -> None:
        await self._say(b"+ACK")

    async def retry(self) -> None:
        await self._say(b'-NAK {"delay": 1000000000}')


class JetStreamQueue:
    """A :class:`~stormproof.media.jobs.JobQueue` in a JetStream work-queue stream."""

    def __init__(
        self,
        servers: Sequence[str],
        local: int = 0,
        *,
        prefix: str = "JOBS",
        ack_wait: float = 30.0,
        duplicate_window: float = 3600.0,
    ) -> None:
        self._links = Links(servers, local)
        self._stream = prefix
        self._subject = f"{prefix.lower()}.transcode"
        self._consumer = "transcoders"
        self._ack_wait = ack_wait
        self._duplicate_window = duplicate_window

    async def start(self, timeout: float = 30.0) -> None:
        self._links.start()
        await self._links.wait_connected(min(timeout, 2.0))
        config = stream_config(
            self._stream,
            [f"{self._subject}.>"],
            len(self._links),
            retention="workqueue",
            duplicate_window=int(self._duplicate_window * _NS),
        )
        consumer = {
            "stream_name": self._stream,
            "config": {
                "durable_name": self._consumer,
                "ack_policy": "explicit",
                "ack_wait": int(self._ack_wait * _NS),
                "max_deliver": -1,
                "filter_subject": f"{self._subject}.>",
                "deliver_policy": "all",
                "max_ack_pending": -1,
            },
        }
        try:
            await ensure_stream(self._links, config, timeout)
            subject = f"{_API}.CONSUMER.CREATE.{self._stream}.{self._consumer}"
            try:
                await self._links.any_api(subject, consumer, timeout=5)
            except ApiError as exc:
                if exc.err_code not in _CONSUMER_EXISTS:
                    raise
        except (Unreachable, ApiError) as exc:
            raise JobsUnavailable(f"cannot set up the job queue: {exc}") from exc

    async def submit(self, job: Job) -> None:
        subject = f"{self._subject}.{job.name}"
        body = json.dumps({"video_id": job.video_id, "rung": job.rung}).encode()
        headers = {"Nats-Msg-Id": job.name}

        async def publish(i: int) -> None:
            msg = await self._links.request(i, subject, body, timeout=2.0, headers=headers)
            answer = json.loads(msg.data or b"{}")
            if "error" in answer:
                raise Unreachable(str(answer["error"]))

        try:
            await self._links.first_answer(publish)
        except (Unreachable, ValueError) as exc:
            raise JobsUnavailable(f"cannot queue job {job.name}: {exc}") from exc

    async def take(self, timeout: float) -> _Lease | None:
        """The next job, waiting at most about ``timeout`` seconds."""
        msg = None
        for i in self._links.read_order():
            try:
                msg = await self._pull(i, max(0.5, timeout - 0.5))
                break
            except Unreachable:
                continue
        if msg is None:
            raise JobsUnavailable("no server hands out jobs right now")
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None or not msg.reply:
            return None  # 404 no job, 408 the wait expired, 409 the consumer moved
        try:
            data = json.loads(msg.data)
            job = Job(str(data["video_id"]), int(data["rung"]))
            deliveries = int(msg.metadata.num_delivered)
        except (ValueError, KeyError, TypeError, NatsError):
            await _Lease(Job("", 0), 1, msg, self._links).done()  # not ours: dropped
            return None
        return _Lease(job, deliveries, msg, self._links)

    async def _pull(self, i: int, expires: float) -> Msg:
        """One pull request through server ``i``: a job, or a status message.

        Not ``nc.request``: a job comes on its own subject to the request's
        inbox, which nats-py's shared request inbox does not match to the
        request, so the job would be lost (until its ack wait ran out)."""
        nc = await self._links.client(i)
        body = json.dumps({"batch": 1, "expires": int(expires * _NS)}).encode()
        subject = f"{_API}.CONSUMER.MSG.NEXT.{self._stream}.{self._consumer}"
        try:
            inbox = nc.new_inbox()
            sub = await nc.subscribe(inbox, max_msgs=1)
            try:
                await nc.publish(subject, body, reply=inbox)
                return await sub.next_msg(timeout=expires + 1.0)
            finally:
                with contextlib.suppress(NatsError, OSError):
                    await sub.unsubscribe()
        except TimeoutError as exc:
            raise Unreachable(f"{subject} via {self._links[i].url}: no answer") from exc
        except (NatsError, OSError) as exc:
            self._links.mark_failed(i)
            raise Unreachable(f"{subject} via {self._links[i].url}: {exc!r}") from exc

    async def close(self) -> None:
        await self._links.close()
