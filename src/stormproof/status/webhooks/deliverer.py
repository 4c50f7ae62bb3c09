"""The deliverer: every region runs one; the region that owns delivery
sends each update owed to each webhook, retries with backoff, and records
the outcome in the log (ADR 024).

**Who delivers.** The first region, in the cluster's order, that the status
view does not judge down — down meaning every component judged in it is in
a major outage, past the flap guard, which is what a power cut, a freeze or
a partition looks like to the probers (ADR 020). Every region reads the
same view, so they agree on the owner without a word between them; when the
owner dies, the next one finds itself first a few rounds later and delivers
whatever has no outcome in the log yet. When the view says every region is
down (or there is no status at all: probes off, a single region), each
region delivers as if it were the owner: a duplicate is better than silence
when it matters most.

**Exactly once, honestly.** An outcome is appended right after the 2xx, so
an update is sent again only when its owner delivered it and died before
that append reached the log, or during a handover, when two regions each
think they own delivery for a moment. The same update then reaches the
receiver again with the same ``webhook-id`` and the same body: once per
subscription for a receiver that dedupes by ``webhook-id``, as the
Standard Webhooks specification asks receivers to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from stormproof.actions.webhooks import record_outcome
from stormproof.errors import StormproofError
from stormproof.events import WebhookAttempt, WebhookDelivered, WebhookFailed
from stormproof.periodic import every
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.status.page import Page, read_page
from stormproof.status.webhooks.messages import Message, message_for
from stormproof.status.webhooks.sealing import SealBroken, unseal
from stormproof.status.webhooks.sending import Target, backoff, send
from stormproof.views import webhooks
from stormproof.views.webhooks import Owed, Subscription

__all__ = ["Deliverer", "cluster_order", "owner"]

logger = logging.getLogger(__name__)

#: updates picked up per look, and deliveries under way at most
_BATCH = 100


def cluster_order(settings: Settings) -> list[str]:
    """Every region's name in the cluster's order: the peers (named in
    region order) with this region at its index."""
    names = [n for n in settings.peer_names if n != settings.region]
    index = min(settings.region_index, len(names))
    return [*names[:index], settings.region, *names[index:]]


def owner(order: list[str], page: Page) -> str | None:
    """The region that delivers: the first in ``order`` (then any other the
    view judged, by name) not judged down; None when every one is."""
    states: dict[str, list[str]] = {}
    for component in page.components:
        for r in component.regions:
            states.setdefault(r.region, []).append(r.state)
    down = {region for region, seen in states.items() if all(s == "major_outage" for s in seen)}
    for region in [*order, *sorted(set(states) - set(order))]:
        if region not in down:
            return region
    return None


@dataclass(frozen=True)
class _Work:
    owed: Owed
    subscription: Subscription
    message: Message


class Deliverer:
    """One region's deliverer: :meth:`run` until cancelled, or :meth:`tick` once."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.settings = region.settings
        self.order = cluster_order(region.settings)
        #: whether this region delivered at its last look
        self.owning = False
        self._working: set[tuple[str, str]] = set()
        self._unrecorded: dict[tuple[str, str], WebhookDelivered | WebhookFailed] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.settings.webhook_concurrency)
        self._rng = random.Random()
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.settings.webhook_timeout_s),
            limits=httpx.Limits(max_connections=self.settings.webhook_concurrency),
        )

    async def run(self, ready: Callable[[], Awaitable[None]]) -> None:
        """Look for updates owed every ``webhook_poll_s`` once ``ready``
        returned, until cancelled; then stop every delivery under way."""
        try:
            try:
                await ready()
            except StormproofError:
                return
            await every(
                self.settings.webhook_poll_s,
                self.tick,
                logger=logger,
                refused=f"{self.region.name} deliverer",
                failed=f"{self.region.name}: delivering webhooks failed",
            )
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the deliveries under way (whoever delivers next sends them)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def tick(self) -> None:
        """Record what could not be recorded yet, then start a delivery for
        each update owed that none is under way for, if this region owns delivery."""
        for key, payload in list(self._unrecorded.items()):
            await self._record(key, payload)
        busy = frozenset(self._working)
        owning, work = await self.region.store.query(lambda db: self._plan(db, busy))
        if owning is not None and owning != self.owning:
            said = "delivers" if owning else "leaves delivery to another region"
            logger.info("%s %s webhooks", self.region.name, said)
            self.owning = owning
        if not self.owning:
            return
        for item in work:
            key = (item.owed.webhook_id, item.owed.update_id)
            if key in self._working or len(self._working) >= _BATCH:
                continue
            self._working.add(key)
            task = asyncio.create_task(self._deliver(item), name=f"webhook {key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _plan(
        self, db: sqlite3.Connection, busy: frozenset[tuple[str, str]]
    ) -> tuple[bool | None, list[_Work]]:
        """Whether this region owns delivery (None: not looked at, as
        nothing is owed), and what is owed that is not ``busy`` already —
        at one position."""
        db.execute("BEGIN")
        try:
            owed = webhooks.owed(db, limit=_BATCH)
            if not owed:
                return None, []
            page = read_page(
                db,
                fail_rounds=self.settings.probe_fail_rounds,
                pass_rounds=self.settings.probe_pass_rounds,
            )
            first = owner(self.order, page)
            work = []
            for o in owed:
                if (o.webhook_id, o.update_id) in busy:
                    continue
                found = webhooks.subscription(db, o.webhook_id)
                message = message_for(db, o)
                if found is not None and message is not None:
                    work.append(_Work(o, found, message))
            return first in (None, self.region.name), work
        finally:
            db.execute("COMMIT")

    async def _still_mine(self, owed: Owed) -> bool:
        """Whether to try again: this region still owns delivery, the
        subscription is still there, and nobody recorded an outcome."""

        def read(db: sqlite3.Connection) -> bool:
            found = webhooks.subscription(db, owed.webhook_id)
            active = found is not None and found.active
            return active and webhooks.outcome(db, owed.webhook_id, owed.update_id) is None

        return self.owning and await self.region.store.query(read)

    async def _deliver(self, work: _Work) -> None:
        key = (work.owed.webhook_id, work.owed.update_id)
        try:
            attempts = await self._attempts(work)
        except asyncio.CancelledError:
            self._working.discard(key)
            raise
        except Exception:  # the views failed us, or a bug: the next look tries again
            logger.exception("%s: delivering %s", self.region.name, key)
            attempts = []
        if not attempts:  # another region took over, or the webhook went
            self._working.discard(key)
            return
        delivered = attempts[-1].status in range(200, 300)
        kind = WebhookDelivered if delivered else WebhookFailed
        payload = kind(webhook_id=key[0], update_id=key[1], attempts=tuple(attempts))
        await self._record(key, payload)

    async def _attempts(self, work: _Work) -> list[WebhookAttempt]:
        """Try until delivered, refused for good, or out of attempts or
        time; what was tried, or [] when it stopped being this region's to do."""
        settings, sub = self.settings, work.subscription
        try:
            secret = unseal(self.region.secret, sub.webhook_id, sub.sealed_secret)
        except SealBroken:
            now = int(time.time() * 1000)
            return [WebhookAttempt(at=now, took_ms=0, region=self.region.name, status=0,
                                   error="seal_broken")]  # fmt: skip
        target = Target(
            url=sub.url,
            secret=secret,
            region=self.region.name,
            timeout_s=settings.webhook_timeout_s,
            max_response_bytes=settings.webhook_response_max_bytes,
            allow_private=settings.webhook_allow_private,
        )
        attempts: list[WebhookAttempt] = []
        give_up_at = time.monotonic() + settings.webhook_give_up_s
        for n in range(1, settings.webhook_attempts + 1):
            if n > 1 and not await self._still_mine(work.owed):
                return []
            async with self._slots:
                outcome = await send(self._client, target, work.message)
            attempts.append(outcome.attempt)
            wait = backoff(
                n, base_s=settings.webhook_backoff_s, max_s=settings.webhook_backoff_max_s,
                rng=self._rng,
            )  # fmt: skip
            if outcome.final or time.monotonic() + wait > give_up_at:
                break
            if n < settings.webhook_attempts:
                await asyncio.sleep(wait)
        return attempts

    async def _record(
        self, key: tuple[str, str], payload: WebhookDelivered | WebhookFailed
    ) -> None:
        """Append the outcome; if the log cannot take it now, keep it for
        the next look (the update is not sent again meanwhile)."""
        try:
            await record_outcome(self.region, payload)
        except StormproofError as exc:
            if key not in self._unrecorded:
                logger.warning("%s: recording a webhook delivery: %s", self.region.name, exc)
            self._unrecorded[key] = payload
            return
        self._unrecorded.pop(key, None)
        self._working.discard(key)
