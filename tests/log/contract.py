"""The Log contract, written once; each backend's test module subclasses it."""

from __future__ import annotations

import asyncio

from stormproof.events import Event, FollowStarted, new_event
from stormproof.log import Entry, Log, follow


def event(n: int) -> Event:
    return new_event(FollowStarted(followee_id=f"u{n}"), actor="tester", at=1000 + n)


class LogContract:
    """Subclass and provide an async ``make_log`` returning a fresh, empty,
    started log."""

    async def make_log(self) -> Log:
        raise NotImplementedError

    async def test_sequences_start_at_one_and_grow_by_one(self) -> None:
        log = await self.make_log()
        entries = [await log.append(f"k{n}", event(n)) for n in range(5)]
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert {e.partition for e in entries} == {0}
        assert (await log.last_seqs())[0] == 5
        assert len(await log.last_seqs()) == log.partitions

    async def test_same_key_returns_the_first_entry_and_stores_nothing(self) -> None:
        log = await self.make_log()
        first = await log.append("same", event(1))
        again = await log.append("same", event(2))
        assert again.duplicate and not first.duplicate
        assert (again.partition, again.seq) == (first.partition, first.seq)
        assert again.event == first.event
        assert (await log.last_seqs())[0] == 1
        # A key that was refused as duplicate leaves no hole in the sequence.
        assert (await log.append("other", event(3))).seq == 2

    async def test_one_key_appended_at_once_is_stored_once(self) -> None:
        # Guards JetStream's "duplicate message id is in process" answer to a
        # second publish racing the first (two regions' payouts for one slot,
        # ADR 031 amendment; a hedged retry): it was a LogError.
        log = await self.make_log()
        entries = await asyncio.gather(*(log.append("raced", event(n)) for n in range(4)))
        assert len({(e.partition, e.seq) for e in entries}) == 1
        assert sum(not e.duplicate for e in entries) == 1
        assert len({e.event for e in entries}) == 1
        assert (await log.last_seqs())[0] == 1

    async def test_read_returns_entries_after_a_sequence_in_order(self) -> None:
        log = await self.make_log()
        appended = [await log.append(f"k{n}", event(n)) for n in range(10)]
        read = await log.read(0, 3, limit=4)
        assert [e.seq for e in read] == [4, 5, 6, 7]
        assert [e.event for e in read] == [e.event for e in appended[3:7]]
        assert [e.key for e in read] == ["k3", "k4", "k5", "k6"]
        assert await log.read(0, 10) == []

    async def test_follow_yields_existing_then_new_entries(self) -> None:
        log = await self.make_log()
        await log.append("a", event(1))
        seen: list[Entry] = []

        async def consume() -> None:
            async for entry in follow(log, 0, 0):
                seen.append(entry)
                if len(seen) == 3:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await log.append("b", event(2))
        await log.append("c", event(3))
        await asyncio.wait_for(task, 10)
        assert [e.key for e in seen] == ["a", "b", "c"]

    async def test_wait_returns_early_on_append_and_on_timeout(self) -> None:
        log = await self.make_log()
        loop = asyncio.get_running_loop()
        nothing = [0] * log.partitions
        started = loop.time()
        await log.wait(nothing, 0.05)
        assert loop.time() - started >= 0.04  # nothing there: waited out the timeout
        waiter = asyncio.create_task(log.wait(nothing, 30))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await log.append("x", event(1))
        await asyncio.wait_for(waiter, 10)

    async def test_concurrent_appends_get_distinct_gapless_sequences(self) -> None:
        log = await self.make_log()
        entries = await asyncio.gather(*(log.append(f"k{n}", event(n)) for n in range(50)))
        by_partition: dict[int, list[int]] = {}
        for e in entries:
            by_partition.setdefault(e.partition, []).append(e.seq)
        for seqs in by_partition.values():
            assert sorted(seqs) == list(range(1, len(seqs) + 1))
        assert sum(len(s) for s in by_partition.values()) == 50

    async def test_start_and_close_may_be_called_twice(self) -> None:
        log = await self.make_log()
        await log.start()
        entry = await log.append("k", event(1))
        assert [e.key for e in await log.read(entry.partition, 0)] == ["k"]
        await log.close()
        await log.close()
