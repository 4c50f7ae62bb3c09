"""Hedged reads: when a copy of a read is sent again, and when copies are called off.

The copies here are plain coroutines standing in for a replica's answer, so
that what the hedger does at each moment is seen exactly; the same hedger
on a real cluster is tested in ``test_jetstream.py``.
"""

from __future__ import annotations

import asyncio
import time

from stormproof.jetstream import streams
from stormproof.jetstream.links import AnswerTimes, Links


def fresh_links() -> Links:
    # Never started, so never connected: only its answer times are used.
    return Links(["nats://127.0.0.1:1"])


async def test_copies_are_called_off_as_soon_as_one_streams_even_the_last() -> None:
    """Guards: once the last copy was out, the others were called off only
    when a copy had *finished* — every copy already sent fetched the whole
    batch (three full copies of 4,000 entries on a busy CI machine)."""
    cancelled_at: dict[int, float] = {}
    ended_at: list[float] = []

    async def attempt(k: int, begun: streams._Begun) -> str:
        if k < streams._HEDGES - 1:
            try:
                await asyncio.sleep(60)  # a frozen replica
            except asyncio.CancelledError:
                cancelled_at[k] = time.monotonic()
                raise
        begun.set()
        await asyncio.sleep(0.5)  # a long batch streaming in
        ended_at.append(time.monotonic())
        return "batch"

    assert await streams._hedged(fresh_links(), attempt) == "batch"
    assert sorted(cancelled_at) == list(range(streams._HEDGES - 1))
    assert max(cancelled_at.values()) < ended_at[0]


async def test_no_copy_is_sent_because_this_process_was_late_to_look() -> None:
    """The loop held up for longer than a hedge delay (a busy process) while
    the first copy's answer was coming: its first message is read before a
    copy is sent, and only one copy fetches the batch."""
    sent: list[int] = []

    async def attempt(k: int, begun: streams._Begun) -> str:
        sent.append(k)
        if k == 0:
            time.sleep(4 * streams._HEDGE_AFTER)  # noqa: ASYNC251 - blocks the whole loop, on purpose
            for _ in range(3):  # the message takes a few turns to be read
                await asyncio.sleep(0)
            begun.set()
            await asyncio.sleep(0.2)
            return "first"
        await asyncio.sleep(60)
        return "copy"

    assert await streams._hedged(fresh_links(), attempt) == "first"
    assert sent == [0]


async def test_a_silent_copy_is_hedged_and_the_first_to_answer_wins() -> None:
    sent: list[int] = []

    async def attempt(k: int, begun: streams._Begun) -> int:
        sent.append(k)
        if k == 0:
            await asyncio.sleep(60)  # a frozen replica
        return k

    assert await streams._hedged(fresh_links(), attempt) == 1
    assert sent == [0, 1]


async def test_every_copy_failing_fails_the_read_with_the_last_error() -> None:
    async def attempt(k: int, begun: streams._Begun) -> int:
        raise TimeoutError(f"copy {k}")

    try:
        await streams._hedged(fresh_links(), attempt)
    except TimeoutError as exc:
        assert str(exc) == f"copy {streams._HEDGES - 1}"
    else:
        raise AssertionError("a read no copy answered succeeded")


def test_the_hedge_delay_follows_how_late_answers_have_been_lately() -> None:
    answers = AnswerTimes()
    assert answers.usual(0.03) == 0.03  # nothing heard yet
    for _ in range(60):
        answers.heard(0.002)
    assert answers.usual(0.03) == 0.03  # a quiet machine: the floor
    for _ in range(64):
        answers.heard(0.08)
    assert answers.usual(0.03) == 0.08  # a busy one: its own answers' pace
