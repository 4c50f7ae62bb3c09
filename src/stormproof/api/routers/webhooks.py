"""Webhooks: operators subscribe URLs to every incident and maintenance
update (ADR 024).

Every route is for accounts with the ``operator`` role (403
``not_an_operator`` for anyone else, nothing stored). The signing secret is
in the answer to the subscription only; lists never show it.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

from fastapi import Query, Response
from pydantic import BaseModel, Field

from stormproof.actions import webhooks as actions
from stormproof.api.deps import IdemKey, OperatorCaller, RegionDep, When, acknowledge
from stormproof.api.routers import api_router
from stormproof.api.schemas import Written
from stormproof.errors import NotFound
from stormproof.events import WebhookAttempt
from stormproof.status.figures import utc
from stormproof.views import webhooks as view
from stormproof.views.webhooks import Delivery, Subscription

__all__ = ["router"]

router = api_router(prefix="/v1/status/webhooks", tags=["status"])


class WebhookOut(BaseModel):
    id: str
    url: str
    created_at: int = Field(description="unix ms: it gets every update from then on")
    created_by: str = Field(description="the operator's user id")


def _out(s: Subscription) -> WebhookOut:
    return WebhookOut(id=s.webhook_id, url=s.url, created_at=s.at, created_by=s.actor)


class WebhookIn(BaseModel):
    """Breaches answer 422 ``unsupported_scheme`` (not http or https),
    ``url_with_credentials``, ``url_too_long``, ``invalid_url``,
    ``private_address`` (when ``webhook_allow_private`` is off) or
    ``invalid_secret``."""

    url: str = Field(max_length=10_000, description="http:// or https://, 2000 characters at most")
    secret: str | None = Field(
        None,
        max_length=1000,
        description="`whsec_` and the base64 of 24-64 random bytes; made for you if left out",
    )


class WebhookWritten(Written):
    webhook: WebhookOut
    secret: str = Field(
        description="the signing secret: verify deliveries with it; it is not shown again"
    )


async def _answer(region: RegionDep, webhook_id: str) -> WebhookOut:
    found = await region.store.query(lambda db: view.subscription(db, webhook_id))
    assert found is not None, f"webhook {webhook_id} is not in the views"
    return _out(found)


@router.post("", status_code=201)
async def subscribe(
    body: WebhookIn,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> WebhookWritten:
    """Subscribe a URL to every incident and maintenance update from now on,
    signed per the Standard Webhooks specification (operators only)."""
    done = await actions.subscribe(
        region,
        caller.user_id,
        url=body.url,
        secret=body.secret,
        idempotency_key=idempotency_key,
        when=when,
    )
    seq = acknowledge(response, region, done.written)
    webhook = await _answer(region, done.written.payload.webhook_id)
    return WebhookWritten(seq=seq, webhook=webhook, secret=done.secret)


class WebhookList(BaseModel):
    items: list[WebhookOut] = Field(description="the oldest first; secrets are never listed")


@router.get("")
async def list_webhooks(region: RegionDep, _: OperatorCaller) -> WebhookList:
    """The webhooks subscribed (operators only)."""
    found = await region.store.query(view.subscriptions)
    return WebhookList(items=[_out(s) for s in found])


class Removed(Written):
    removed: str


@router.delete("/{webhook_id}")
async def remove(
    webhook_id: str,
    region: RegionDep,
    caller: OperatorCaller,
    response: Response,
    when: When,
    idempotency_key: IdemKey = None,
) -> Removed:
    """Stop sending to a webhook (operators only)."""
    written = await actions.remove(
        region, caller.user_id, webhook_id, idempotency_key=idempotency_key, when=when
    )
    return Removed(seq=acknowledge(response, region, written), removed=webhook_id)


class AttemptOut(BaseModel):
    at: int
    at_utc: str
    region: str
    status: int = Field(description="the HTTP status answered; 0: none")
    error: str
    took_ms: int


class DeliveryOut(BaseModel):
    update_id: str
    type: str
    about: str = Field(description="the incident's or the maintenance's id")
    at: int
    state: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptOut] = Field(description="as the outcome recorded them")
    recorded: int = Field(description="outcomes recorded: 2 or more when regions both sent it")


def _attempt_out(a: WebhookAttempt) -> AttemptOut:
    return AttemptOut(at=a.at, at_utc=utc(a.at), region=a.region, status=a.status,
                      error=a.error, took_ms=a.took_ms)  # fmt: skip


def _delivery_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        update_id=d.update_id,
        type=d.kind,
        about=d.notice_id,
        at=d.at,
        state=d.state,
        attempts=[_attempt_out(a) for a in d.attempts],
        recorded=d.recorded,
    )


class DeliveryList(BaseModel):
    items: list[DeliveryOut] = Field(description="the latest update first")


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    region: RegionDep,
    _: OperatorCaller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    """What became of the updates a webhook is owed, with every attempt
    recorded (operators only)."""

    def read(db: sqlite3.Connection) -> list[Delivery] | None:
        if view.subscription(db, webhook_id) is None:
            return None
        return view.deliveries(db, webhook_id, limit=limit)

    found = await region.store.query(read)
    if found is None:
        raise NotFound("no such webhook", code="webhook_not_found")
    return DeliveryList(items=[_delivery_out(d) for d in found])
