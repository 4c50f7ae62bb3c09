"""Work a region does again and again while it runs: one look at once,
then one every period, until the task is cancelled.

A look that fails never ends the loop. A :class:`~stormproof.errors.StormproofError`
(the log, the views or a peer could not do it now) is one warning line;
anything else is a bug, logged with its traceback; either way the next look
comes a period later. Cancelling the task — the region closing — stops it
at once, during a look or between two.

Loops that keep time otherwise (the prober's and the judge's rounds, lined
up on unix time; the checkpoints' and snapshots' spacing by what changed)
keep their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from stormproof.errors import StormproofError

__all__ = ["every"]


async def every(
    period_s: float,
    look: Callable[[], Awaitable[object]],
    *,
    logger: logging.Logger,
    refused: str,
    failed: str,
) -> None:
    """Await ``look()`` now and then every ``period_s`` seconds after the
    last one ended, until cancelled. A StormproofError it raises is logged
    to ``logger`` as a warning ``"{refused}: {message}"``; any other
    exception with its traceback, as ``failed``."""
    while True:
        try:
            await look()
        except StormproofError as exc:
            logger.warning("%s: %s", refused, exc.message)
        except Exception:  # a bug: logged, and the next look comes
            logger.exception("%s", failed)
        await asyncio.sleep(period_s)
