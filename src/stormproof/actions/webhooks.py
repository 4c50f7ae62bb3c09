"""Webhook subscriptions: what operators write, and what a region's
deliverer records after each delivery (ADR 024).

Subscribing checks the caller's role first (403 ``not_an_operator``), then
the URL (:func:`~stormproof.status.webhooks.targets.check_url`) and the
secret, if one was given (otherwise one is made), before anything is
appended. The secret is sealed before it reaches the log and returned
once, to the caller who subscribed (a retry with the same Idempotency-Key
gets the same answer).
"""

from __future__ import annotations

from dataclasses import dataclass

from stormproof.actions import NOW, WriteTime, Written, derived_id, log_key, prior, write
from stormproof.actions.roles import require_role
from stormproof.errors import Conflict, NotFound
from stormproof.events import WebhookDelivered, WebhookFailed, WebhookRemoved, WebhookSubscribed
from stormproof.region import Region
from stormproof.status.webhooks.sealing import check_secret, derived_secret, seal, unseal
from stormproof.status.webhooks.targets import check_url
from stormproof.views import webhooks

__all__ = ["Subscribed", "record_outcome", "remove", "subscribe"]


@dataclass(frozen=True)
class Subscribed:
    written: Written[WebhookSubscribed]
    #: the signing secret, in the clear: said once, to the subscriber
    secret: str


async def subscribe(
    region: Region,
    operator: str,
    *,
    url: str,
    secret: str | None = None,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Subscribed:
    """An operator subscribes ``url`` to every incident and maintenance
    update from now on."""
    await require_role(region, operator)
    key = log_key(operator, "webhook", idempotency_key)
    webhook_id = derived_id("whk_", key)
    checked_url = check_url(url, allow_private=region.settings.webhook_allow_private)
    if secret is not None:
        check_secret(secret)

    def same(done: WebhookSubscribed) -> bool:
        """The same request: the same URL, and the same secret if one was given."""
        opened = unseal(region.secret, done.webhook_id, done.sealed_secret)
        return done.url == checked_url and secret in (None, opened)

    if done := await prior(region, key, WebhookSubscribed, same):
        return Subscribed(done, unseal(region.secret, webhook_id, done.payload.sealed_secret))
    count = await region.store.query(lambda db: len(webhooks.subscriptions(db)))
    if count >= region.settings.webhooks_max:
        raise Conflict(
            f"this platform has {count} webhooks, the most it keeps: remove one first",
            code="too_many_webhooks",
        )
    chosen = secret or derived_secret(region.secret, webhook_id)
    sealed = seal(region.secret, webhook_id, chosen)
    payload = WebhookSubscribed(webhook_id=webhook_id, url=checked_url, sealed_secret=sealed)
    return Subscribed(await write(region, key, payload, actor=operator, when=when), chosen)


async def remove(
    region: Region,
    operator: str,
    webhook_id: str,
    *,
    idempotency_key: str | None,
    when: WriteTime = NOW,
) -> Written[WebhookRemoved]:
    """An operator removes a subscription: nothing more is sent to it."""
    await require_role(region, operator)
    key = log_key(operator, f"webhook-removal:{webhook_id}", idempotency_key)
    payload = WebhookRemoved(webhook_id=webhook_id)
    if done := await prior(region, key, WebhookRemoved):
        return done
    found = await region.store.query(lambda db: webhooks.subscription(db, webhook_id))
    if found is None or not found.active:
        raise NotFound("no such webhook", code="webhook_not_found")
    return await write(region, key, payload, actor=operator, when=when)


async def record_outcome(
    region: Region, payload: WebhookDelivered | WebhookFailed
) -> Written[WebhookDelivered | WebhookFailed]:
    """Append what became of a delivery, under this region's own key (two
    regions that both delivered write two events; the view shows the
    first). Its time is the last attempt's end, as this region's clock said."""
    checked = type(payload).model_validate(payload.model_dump())
    outcome = "delivered" if isinstance(checked, WebhookDelivered) else "failed"
    key = f"webhook:{checked.webhook_id}:{checked.update_id}:{outcome}-by:{region.name}"
    if done := await prior(region, key, type(checked)):
        return done
    return await write(region, key, checked, actor="")
