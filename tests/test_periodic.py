"""The loop of the closer, the webhook deliverer and the transcoder's feed:
a look at once, then one every period; a failed look is logged and the next
comes; a cancel stops it (the loop the three repeated, now one)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from stormproof.errors import LogError
from stormproof.periodic import every

logger = logging.getLogger(__name__)


class LookedAgain(BaseException):
    """Raised by a look that should not have come (not an Exception, so the
    loop cannot log it away)."""


def _every(period_s: float, look: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    return asyncio.create_task(
        every(period_s, look, logger=logger, refused="us-east looker", failed="looking failed")
    )


async def _cancelled_after_one_look(period_s: float, *, look_lasts: bool) -> None:
    """Start the loop, cancel it once its first look began (``look_lasts``:
    while that look still runs; else in the pause after it), and check it
    ended cancelled without looking again."""
    began = asyncio.Event()
    calls = 0

    async def look() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise LookedAgain
        began.set()
        if look_lasts:
            await asyncio.Event().wait()

    task = _every(period_s, look)
    await began.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):  # not swallowed: no second look
        await task
    assert calls == 1


async def test_the_first_look_comes_at_once_not_after_a_period() -> None:
    # An hour's period: had it paused first, the look would not have begun.
    await _cancelled_after_one_look(3600, look_lasts=False)


async def test_a_failed_look_is_logged_and_the_next_one_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=__name__)
    third = asyncio.Event()
    calls = 0

    async def look() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise LogError("the log is not there")  # ours: a warning line
        if calls == 2:
            raise KeyError("bug")  # a bug: logged with its traceback
        third.set()

    task = _every(0, look)
    await third.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    records = [r for r in caplog.records if r.name == __name__]
    said = [(r.levelno, r.getMessage(), r.exc_info and r.exc_info[0]) for r in records]
    assert said == [
        (logging.WARNING, "us-east looker: the log is not there", None),
        (logging.ERROR, "looking failed", KeyError),
    ]


async def test_a_cancel_during_a_look_stops_the_loop() -> None:
    await _cancelled_after_one_look(0, look_lasts=True)
