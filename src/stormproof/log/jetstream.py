"""The replicated log: one R3 JetStream stream per region, writes never wait for an election.

Partition ``i`` is the stream ``{prefix}_{i}`` (subject ``{prefix}.{i}`` in lower
case), replicated on every server and led by region ``i``'s server. An append
goes to its partition through that region's server and waits ``ack_timeout``
for the quorum's (fsynced) ack; on a timeout, no responders or a dropped
connection it sends the very same message (same ``Nats-Msg-Id``, same bytes)
to the next partition through the next server, round and round until
``deadline``. Losing a leader therefore costs a write one ack timeout, not the
five seconds JetStream takes to elect a new leader; a message acked late by
the first stream lands in two partitions, which the contract allows.

Reads are direct gets, answered by any replica (the local one first), so they
go on while a stream has no leader. A replica may lag the leader by a few
milliseconds: the log remembers the highest sequence it knows exists in each
partition and asks another replica, or again, when one answers short of it.
What this process appended itself it reads from memory: the ack says exactly
where the message is stored, and a region waits for its own writes to reach
its views before answering — that wait must not depend on a network read
that a frozen replica can hold up.
See ``docs/adr/008-jetstream-backends.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from stormproof.errors import LogError
from stormproof.events import Event, decode_entry, encode
from stormproof.jetstream.links import ApiError, Links, Unreachable, take_outcome
from stormproof.jetstream.streams import (
    direct_batch,
    direct_get,
    ensure_stream,
    leader_last_seq,
    place_leader,
    settle_leaders,
    stream_config,
    stream_leader,
)
from stormproof.log import Entry

__all__ = ["JetStreamLog", "following_on"]

#: how long a read keeps asking replicas that lag behind a sequence known to exist
_STALE_READ_PATIENCE = 2.0
#: after a wake-up hint, how soon wait() looks again (the stream stores a
#: message a few milliseconds after subscribers see it)
_SETTLE = 0.02
#: per partition, how many of its own appends a process keeps for reading back
_OWN_KEEP = 10_000
#: JetStream's answer to a publish whose Nats-Msg-Id another one being
#: stored carries (JSStreamDuplicateMessageConflictErr)
_DUPLICATE_IN_PROCESS = 10158


async def _stop(future: asyncio.Future[Any]) -> None:
    """Cancel ``future``, wait until it has stopped, and take its outcome.

    A cancelled :func:`asyncio.gather` does not end *cancelled*: it ends with
    a ``CancelledError`` as its exception, and unless someone retrieves it,
    asyncio logs "_GatheringFuture exception was never retrieved" with every
    child's stack when the future is collected — once per poll cut short by
    an own append, many a second while a frozen replica holds polls up. The
    outcome is taken in a done callback so that it is taken even when the
    caller is itself cancelled while it waits here.
    """
    future.add_done_callback(take_outcome)
    if not future.done():
        future.cancel()
        await asyncio.wait((future,))


def following_on(entries: list[Entry], after: int) -> list[Entry]:
    """The entries that follow on from ``after`` without a hole.

    A partition's sequences have no holes, but a replica being rebuilt (its
    server's disks were lost) receives the stream in pieces, and a batch it
    answers may jump over what it has not received yet: what follows the
    hole is left for a replica that has it, as a short answer is."""
    for n, entry in enumerate(entries):
        if entry.seq != after + 1 + n:
            return entries[:n]
    return entries


class JetStreamLog:
    """A :class:`~stormproof.log.Log` with one partition per server in ``servers``.

    ``servers`` are the client URLs in region order; ``local`` is this
    region's index. Call :meth:`start` once before use (idempotent) and,
    being :class:`~stormproof.replicated.Replicated`, :meth:`rebalance` every
    few seconds.
    """

    def __init__(
        self,
        servers: Sequence[str],
        local: int = 0,
        *,
        prefix: str = "LOG",
        ack_timeout: float = 0.2,
        deadline: float = 10.0,
        read_timeout: float = 0.25,
        poll_interval: float = 0.25,
        duplicate_window: float = 120.0,
    ) -> None:
        self._links = Links(servers, local)
        n = len(servers)
        self._streams = [f"{prefix}_{i}" for i in range(n)]
        self._subjects = [f"{prefix.lower()}.{i}" for i in range(n)]
        self._hint_subject = f"{prefix.lower()}.>"
        self._ack_timeout = ack_timeout
        self._deadline = deadline
        self._read_timeout = read_timeout
        self._poll_interval = poll_interval
        self._duplicate_window = duplicate_window
        #: per partition, the highest sequence this process knows exists
        self._known = [0] * n
        #: per partition, entries this process appended, by sequence
        self._own: list[dict[int, Entry]] = [{} for _ in range(n)]
        self._hint = asyncio.Event()
        self._hint_task: asyncio.Task[None] | None = None

    @property
    def partitions(self) -> int:
        return len(self._streams)

    def _start(self) -> None:
        self._links.start()
        if self._hint_task is None:
            self._hint_task = asyncio.get_running_loop().create_task(self._subscribe_hints())

    async def _subscribe_hints(self) -> None:
        # A publish reaches core subscribers as it reaches the stream: a cheap
        # "something may have been appended" for wait(). nats-py resubscribes
        # after a reconnect.
        link = self._links[self._links.local]
        await link.connected_once()

        async def hint(msg: Msg) -> None:
            self._wake()

        with contextlib.suppress(NatsError):
            await link.nc.subscribe(self._hint_subject, cb=hint)

    def _wake(self) -> None:
        self._hint.set()
        self._hint = asyncio.Event()

    def _saw(self, partition: int, seq: int) -> None:
        if seq > self._known[partition]:
            self._known[partition] = seq

    # -- streams and leaders ---------------------------------------------------------------

    async def start(self, timeout: float = 30.0) -> None:
        """Create the partitions' streams if needed and put each leader in its region."""
        self._start()
        await self._links.wait_connected(min(timeout, 2.0))
        try:
            for stream, subject in zip(self._streams, self._subjects, strict=True):
                config = stream_config(
                    stream,
                    [subject],
                    len(self._links),
                    duplicate_window=int(self._duplicate_window * 1e9),
                )
                await ensure_stream(self._links, config, timeout)
            placement = {s: self._links[i].server_name for i, s in enumerate(self._streams)}
            await settle_leaders(self._links, placement, timeout)
        except (Unreachable, ApiError) as exc:
            raise LogError(f"cannot set up log streams: {exc}") from exc

    async def rebalance(self) -> list[int]:
        """Move each partition's leader back to its region's server if that
        server is up and caught up; returns the partitions asked to move."""
        self._start()
        moved = []
        for i, stream in enumerate(self._streams):
            name = self._links[i].server_name if self._links[i].connected else None
            if name is not None and await place_leader(self._links, stream, name):
                moved.append(i)
        return moved

    async def leaders(self) -> list[str | None]:
        """Each partition's leading server now (None while it has none)."""
        self._start()
        return list(await asyncio.gather(*(stream_leader(self._links, s) for s in self._streams)))

    # -- writes ------------------------------------------------------------------------------

    async def append(
        self, key: str, event: Event, *, partition: int = 0, only: bool = False
    ) -> Entry:
        self._start()
        body = encode(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline
        failures: list[str] = []
        if self._quorum_out_of_reach():
            raise LogError(f"no quorum: {self._reach()}; {key!r} was not sent", code="no_quorum")
        home = partition % self.partitions
        # pinned: the same partition again until the deadline (a leader
        # elected meanwhile takes it), never another
        tried = [home] if only else None
        while True:
            for p in tried or self._links.healthy_first(self._links.cycle(home)):
                try:
                    seq, duplicate = await self._publish(p, key, body)
                except Unreachable as exc:
                    failures.append(str(exc))
                    if loop.time() > deadline:
                        break
                    continue
                self._saw(p, seq)
                if duplicate:
                    stored = await self._entry_at(p, seq)
                    return Entry(p, seq, key, stored.event, duplicate=True)
                entry = Entry(p, seq, key, event, body=body)
                self._keep_own(entry)
                self._wake()
                return entry
            if loop.time() > deadline:
                which = f"partition {home}" if only else "no partition"
                raise LogError(f"{which} acknowledged {key!r}: {failures[-3:]}")
            if self._quorum_out_of_reach():  # lost while trying
                raise LogError(
                    f"no quorum: {self._reach()}; {key!r} was not acknowledged", code="no_quorum"
                )
            await asyncio.sleep(0.05)  # every server refused at once: do not spin

    def _quorum_out_of_reach(self) -> bool:
        """Whether a majority of the servers is out of reach: no stream can
        gather a quorum, so a write is refused at once rather than held for
        the deadline — and never sent, since a message left with a lone
        leader may still be committed when a peer returns: a write its
        caller was told had failed. (The first connections get their grace.)"""
        return self._links.settled() and self._links.connected() <= len(self._links) // 2

    def _reach(self) -> str:
        return f"{self._links.connected()} of {len(self._links)} log servers reachable"

    async def _publish(self, p: int, key: str, body: bytes) -> tuple[int, bool]:
        headers = {"Nats-Msg-Id": key, "Nats-Expected-Stream": self._streams[p]}
        patience = time.monotonic() + self._ack_timeout
        while True:
            msg = await self._links.request(
                p, self._subjects[p], body, timeout=self._ack_timeout, headers=headers, blame=True
            )
            try:
                ack = json.loads(msg.data)
            except ValueError as exc:
                raise Unreachable(f"bad ack from {self._streams[p]}: {msg.data[:100]!r}") from exc
            if "error" not in ack:
                return int(ack["seq"]), bool(ack.get("duplicate"))
            error = ApiError(ack["error"])
            if error.code == 503:  # e.g. the stream lost its quorum: try elsewhere
                raise Unreachable(f"{self._streams[p]}: {error}")
            if error.err_code != _DUPLICATE_IN_PROCESS:
                raise LogError(f"{self._streams[p]} refused {key!r}: {error}")
            if time.monotonic() > patience:  # e.g. proposed while the stream had no quorum:
                # it gets stored once the quorum is back; until the append's
                # deadline this is a partition that cannot ack in time, no refusal
                raise Unreachable(f"{self._streams[p]}: {key!r} {error}")
            # Another publish of this key is being stored: once it is, this
            # one is its duplicate and gets its sequence (the log's contract).
            await asyncio.sleep(_SETTLE)

    def _keep_own(self, entry: Entry) -> None:
        own = self._own[entry.partition]
        own[entry.seq] = entry
        while len(own) > _OWN_KEEP:
            del own[next(iter(own))]

    def _read_own(self, partition: int, after: int, limit: int) -> list[Entry]:
        """The entries right after ``after`` that this process appended (it
        knows them exactly), as far as they run without a gap."""
        own = self._own[partition]
        while own and (oldest := next(iter(own))) <= after:
            del own[oldest]  # read already: the readers are past it
        entries: list[Entry] = []
        seq = after + 1
        while len(entries) < limit and (entry := own.get(seq)) is not None:
            entries.append(entry)
            seq += 1
        return entries

    async def _entry_at(self, partition: int, seq: int) -> Entry:
        entries = await self.read(partition, seq - 1, 1)
        if not entries or entries[0].seq != seq:
            raise LogError(f"entry {seq} of partition {partition} is missing")
        return entries[0]

    # -- reads -------------------------------------------------------------------------------

    async def read(self, partition: int, after: int, limit: int = 1000) -> list[Entry]:
        if not 0 <= partition < self.partitions:
            raise LogError(f"no partition {partition}", code="no_partition")
        if limit <= 0:
            return []
        self._start()
        if own := self._read_own(partition, after, limit):
            return own
        surely = min(self._known[partition], after + limit)  # these entries exist
        patience = time.monotonic() + _STALE_READ_PATIENCE
        best: list[Entry] | None = None
        failures: list[str] = []
        while True:
            for i in self._links.read_order():
                try:
                    entries = await self._read_via(i, partition, after, limit)
                except Unreachable as exc:
                    failures.append(str(exc))
                    continue
                if entries:
                    self._saw(partition, entries[-1].seq)
                entries = following_on(entries, after)
                if (entries[-1].seq if entries else after) >= surely:
                    return entries
                if best is None or len(entries) > len(best):
                    best = entries  # a lagging replica: ask another
            if time.monotonic() > patience:
                if best is not None:
                    return best
                raise LogError(f"cannot read partition {partition}: {failures[-3:]}")
            await asyncio.sleep(0.01)

    async def _read_via(self, i: int, partition: int, after: int, limit: int) -> list[Entry]:
        request = {"seq": after + 1, "batch": limit}
        stream = self._streams[partition]
        msgs = await direct_batch(self._links, i, stream, request, timeout=self._read_timeout)
        if len(msgs) < 64:
            return [self._entry(partition, m) for m in msgs]
        # Decoding thousands (a catch-up's batches) takes a good part of a
        # second: not on the event loop, which serves requests meanwhile.
        return await asyncio.to_thread(lambda: [self._entry(partition, m) for m in msgs])

    def _entry(self, partition: int, msg: Msg) -> Entry:
        headers = msg.headers or {}
        try:
            seq = int(headers["Nats-Sequence"])
        except (KeyError, ValueError) as exc:
            raise LogError(f"message without a sequence in partition {partition}") from exc
        key, body = headers.get("Nats-Msg-Id", ""), msg.data
        return Entry(partition, seq, key, decode_entry(body), body=body)

    async def _last_seq(self, partition: int, patience: float = 0.0) -> int | None:
        """The partition's last sequence as some replica sees it (None: none answered)."""
        body = {"last_by_subj": self._subjects[partition]}

        async def ask(i: int) -> Msg | None:
            stream = self._streams[partition]
            return await direct_get(self._links, i, stream, body, timeout=self._read_timeout)

        try:
            msg = await self._links.first_answer(ask, patience=patience)
        except Unreachable:
            return None
        self._saw(partition, int((msg.headers or {}).get("Nats-Sequence", 0)) if msg else 0)
        return self._known[partition]

    async def last_seqs(self) -> list[int]:
        self._start()
        seqs = await asyncio.gather(
            *(self._last_seq(p, _STALE_READ_PATIENCE) for p in range(self.partitions))
        )
        if any(seq is None for seq in seqs):
            raise LogError("no replica answered for some partitions")
        return [seq or 0 for seq in seqs]

    async def holds_entries(self) -> bool:
        """Whether some replica answers, on the first asking, that a
        partition holds an entry: the streams exist and have a history. A
        region whose views are gone asks, to tell a cluster with a history
        from a new one, whose streams are not there yet (no one answers).
        Every server is asked, not the first that answers: this region's
        own may be an empty replica still receiving the streams."""
        self._start()
        await self._links.wait_connected(2.0)

        async def ask(i: int, p: int) -> bool:
            body = {"last_by_subj": self._subjects[p]}
            stream = self._streams[p]
            try:
                msg = await direct_get(self._links, i, stream, body, timeout=self._read_timeout)
            except Unreachable:
                return False
            return msg is not None

        asked = [ask(i, p) for i in range(len(self._links)) for p in range(self.partitions)]
        return any(await asyncio.gather(*asked))

    async def leader_seqs(self) -> list[int]:
        """The last sequence of each partition as its stream's leader holds
        it. :meth:`last_seqs` takes the first replica's answer, and a replica
        may lag — this region's own server, killed with it and started
        again, until it caught up — so a region checks its views against
        this before deciding they are ahead of the log. ``log_unavailable``
        while a stream has no leader (an election: it passes)."""
        self._start()

        async def ask(p: int) -> int:
            try:
                seq = await leader_last_seq(self._links, self._streams[p])
            except (Unreachable, ApiError) as exc:
                raise LogError(f"{self._streams[p]} has no leader that answers: {exc}") from exc
            self._saw(p, seq)
            return seq

        return list(await asyncio.gather(*(ask(p) for p in range(self.partitions))))

    def _beyond(self, positions: Sequence[int]) -> bool:
        return any(k > pos for k, pos in zip(self._known, positions, strict=False))

    async def _poll(self, partitions: list[int], positions: Sequence[int]) -> None:
        """Ask replicas for the last sequence of ``partitions``, unless this
        process appends past ``positions`` meanwhile: a frozen replica can hold
        a poll for a quarter of a second, and an own write must not wait that."""
        poll: asyncio.Future[list[int | None]] = asyncio.ensure_future(
            asyncio.gather(*(self._last_seq(p) for p in partitions))
        )
        try:
            while not poll.done():
                woken: asyncio.Future[bool] = asyncio.ensure_future(self._hint.wait())
                try:
                    await asyncio.wait((poll, woken), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                if self._beyond(positions):
                    return
            poll.result()
        finally:
            await _stop(poll)

    async def wait(self, positions: Sequence[int], timeout: float) -> None:
        self._start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        step = self._poll_interval
        while True:
            hint = self._hint  # taken before looking: no lost wake-up
            if self._beyond(positions):
                return
            # Only the partitions the caller waits for: a partition whose leader
            # is frozen answers slowly and must not hold up the others.
            watched = [p for p, pos in enumerate(positions[: self.partitions]) if pos < 2**62]
            await self._poll(watched, positions)
            if self._beyond(positions):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(hint.wait(), min(remaining, step))
            except TimeoutError:
                step = min(step * 2, self._poll_interval)
                continue
            if self._beyond(positions):
                return  # woken by an append of this process: it is stored
            # Subscribers see a publish before the stream has stored it: look
            # again shortly, then less and less often.
            step = _SETTLE
            await asyncio.sleep(min(step, max(deadline - loop.time(), 0)))

    async def close(self) -> None:
        if self._hint_task is not None:
            self._hint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hint_task
        await self._links.close()
