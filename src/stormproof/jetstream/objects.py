"""Objects in a JetStream object-store bucket, written and read chunk by chunk.

The layout is NATS's own (``nats object`` and nats-py read what we write):
bucket ``B`` is the stream ``OBJ_B``; an object's chunks are messages on
``$O.B.C.<nuid>``, then one meta message on ``$O.B.M.<base64url(name)>``
(a rollup, so it replaces an earlier one) holding size, chunk count and
SHA-256 digest. An object without its meta message does not exist.

We do not use nats-py's ``ObjectStore``: its ``get`` reads through a consumer,
which needs the stream leader. Here chunks go out with a window of unacked
publishes on one connection (order kept), and come back by batched direct
gets, which any replica answers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from stormproof.jetstream.links import ApiError, Links, Unreachable
from stormproof.jetstream.streams import direct_batch, direct_get, stream_config

__all__ = ["bucket_config", "download", "meta_of", "meta_subject", "upload"]

#: read ``size`` bytes (fewer at the end, empty when done)
Reader = Callable[[int], Awaitable[bytes]]


def _stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def meta_subject(bucket: str, name: str) -> str:
    """The subject of an object's meta message."""
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def bucket_config(bucket: str, replicas: int) -> dict[str, Any]:
    """The stream behind an object-store bucket, as nats-py would create it."""
    return stream_config(
        _stream(bucket),
        [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
        replicas,
        discard="new",
        allow_rollup_hdrs=True,
    )


async def meta_of(
    links: Links, i: int, bucket: str, name: str, timeout: float
) -> dict[str, Any] | None:
    """The object's meta as server ``i``'s replica has it (None: no such object)."""
    body = {"last_by_subj": meta_subject(bucket, name)}
    msg = await direct_get(links, i, _stream(bucket), body, timeout=timeout)
    if msg is None:
        return None
    try:
        meta: dict[str, Any] = json.loads(msg.data)
    except ValueError as exc:
        raise Unreachable(f"bad meta for {name} in {bucket}") from exc
    return None if meta.get("deleted") else meta


async def upload(
    links: Links,
    i: int,
    bucket: str,
    name: str,
    read: Reader,
    *,
    digest: bytes,
    chunk_size: int,
    window: int,
    chunk_timeout: float,
) -> None:
    """Store ``read``'s bytes as object ``name`` through server ``i``; returns
    once every chunk and the meta message are acked (durable on a quorum)."""
    nc = await links.client(i)
    nuid = nc.new_inbox().rsplit(".", 1)[1]
    chunk_subject = f"$O.{bucket}.C.{nuid}"
    expect = {"Nats-Expected-Stream": _stream(bucket)}
    inbox = nc.new_inbox()
    acks: dict[str, asyncio.Future[Msg]] = {}

    async def on_ack(msg: Msg) -> None:
        future = acks.get(msg.subject)
        if future is not None and not future.done():
            future.set_result(msg)

    async def acked(reply: str, sent: float) -> int:
        try:
            msg = await asyncio.wait_for(
                acks[reply], max(sent + chunk_timeout - time.monotonic(), 0.001)
            )
        except TimeoutError as exc:
            links.mark_failed(i)
            raise Unreachable(f"no ack from {bucket} via {links[i].url}") from exc
        finally:
            acks.pop(reply, None)
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None:
            raise Unreachable(f"{bucket} via {links[i].url}: status {status}")
        answer = json.loads(msg.data)
        if "error" in answer:
            raise Unreachable(f"{bucket} refused a chunk: {ApiError(answer['error'])}")
        return int(answer["seq"])

    size = chunks = 0
    try:
        sub = await nc.subscribe(f"{inbox}.*", cb=on_ack)
        try:
            in_flight: deque[tuple[str, float]] = deque()
            while chunk := await read(chunk_size):
                if len(in_flight) >= window:
                    await acked(*in_flight.popleft())
                reply = f"{inbox}.{chunks}"
                acks[reply] = asyncio.get_running_loop().create_future()
                await nc.publish(chunk_subject, chunk, reply=reply, headers=expect)
                in_flight.append((reply, time.monotonic()))
                size, chunks = size + len(chunk), chunks + 1
            while in_flight:
                await acked(*in_flight.popleft())
        finally:
            with contextlib.suppress(NatsError, OSError):
                await sub.unsubscribe()
        meta = {
            "name": name,
            "bucket": bucket,
            "nuid": nuid,
            "size": size,
            "chunks": chunks,
            "mtime": datetime.now(UTC).isoformat(),
            "digest": "SHA-256=" + base64.urlsafe_b64encode(digest).decode(),
            "options": {"max_chunk_size": chunk_size},
        }
        headers = {**expect, "Nats-Rollup": "sub"}
        msg = await links.request(
            i,
            meta_subject(bucket, name),
            json.dumps(meta).encode(),
            timeout=chunk_timeout,
            headers=headers,
            blame=True,
        )
        if "error" in json.loads(msg.data):
            raise Unreachable(f"{bucket} refused the meta of {name}: {msg.data[:200]!r}")
    except BaseException as exc:
        if chunks:
            _forget(links, bucket, chunk_subject)
        if isinstance(exc, NatsError | OSError | ValueError):
            raise Unreachable(f"upload to {bucket} via {links[i].url}: {exc!r}") from exc
        raise


def _forget(links: Links, bucket: str, chunk_subject: str) -> None:
    """Best effort: purge the chunks of an upload that will never get its meta."""

    async def purge() -> None:
        with contextlib.suppress(Unreachable, ApiError):
            body = {"filter": chunk_subject}
            await links.any_api(f"$JS.API.STREAM.PURGE.{_stream(bucket)}", body, timeout=5)

    links.spawn(purge())


async def download(
    links: Links, i: int, bucket: str, meta: dict[str, Any], *, batch: int, timeout: float
) -> AsyncIterator[bytes]:
    """The object's chunks, in order, by batched direct gets through server ``i``."""
    subject = f"$O.{bucket}.C.{meta['nuid']}"
    remaining, seq = int(meta.get("chunks") or 0), 1
    while remaining > 0:
        body = {"seq": seq, "next_by_subj": subject, "batch": min(batch, remaining)}
        msgs = await direct_batch(links, i, _stream(bucket), body, timeout=timeout)
        if not msgs:
            raise Unreachable(f"{bucket} via {links[i].url}: chunks of {meta['name']} missing")
        for msg in msgs:
            yield msg.data
        remaining -= len(msgs)
        seq = int((msgs[-1].headers or {}).get("Nats-Sequence", seq)) + 1
