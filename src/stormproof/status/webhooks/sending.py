"""One attempt at delivering a message, signed as the Standard Webhooks
specification says, and when to try again (ADR 024).

Signing is the ``standardwebhooks`` library's (``Webhook.sign``), so a
receiver that verifies with any Standard Webhooks library accepts it. Each
attempt is bounded: a total time (``webhook_timeout_s``), no redirect
followed (a 3xx is a failure: the URL is wrong, not the receiver busy), at
most ``webhook_response_max_bytes`` of the answer read. What an answer
means:

- 2xx: delivered;
- 408, 429, 5xx, a timeout, no connection: worth another attempt;
- anything else (another 4xx, a 3xx, a URL the rules refuse): final.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from stormproof import __version__
from stormproof.events import WebhookAttempt
from stormproof.status.webhooks.messages import Message
from stormproof.status.webhooks.targets import refusal

__all__ = ["Outcome", "Target", "backoff", "send", "signed_headers"]

#: answers in 4xx that say "later", not "never"
_TRY_AGAIN = frozenset({408, 429})


@dataclass(frozen=True)
class Target:
    """Where and how to send: the subscription's URL and secret, and this
    region's bounds."""

    url: str
    secret: str
    region: str
    timeout_s: float
    max_response_bytes: int
    allow_private: bool


@dataclass(frozen=True)
class Outcome:
    attempt: WebhookAttempt
    delivered: bool
    #: no attempt after this one would do better
    final: bool


def signed_headers(message: Message, secret: str, region: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of ``message``, signed at ``now``."""
    signature = Webhook(secret).sign(msg_id=message.id, timestamp=now, data=message.body)
    return {
        "webhook-id": message.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": f"stormproof-webhooks/{__version__}",
        # which region sent it: for the receiver's logs; not signed
        "stormproof-region": region,
    }


async def send(client: httpx.AsyncClient, target: Target, message: Message) -> Outcome:
    """Make one attempt; never raises for what the network or the receiver did."""
    at = int(time.time() * 1000)
    started = time.monotonic()

    def outcome(status: int, error: str, *, delivered: bool = False, final: bool) -> Outcome:
        took = int((time.monotonic() - started) * 1000)
        attempt = WebhookAttempt(at=at, took_ms=took, region=target.region, status=status,
                                 error=error)  # fmt: skip
        return Outcome(attempt, delivered, final or delivered)

    refused = await refusal(target.url, allow_private=target.allow_private)
    if refused is not None:
        return outcome(0, refused, final=refused != "unresolved")
    headers = signed_headers(message, target.secret, target.region, datetime.now(UTC))
    try:
        async with asyncio.timeout(target.timeout_s):
            status = await _post(client, target, message.body.encode(), headers)
    except TimeoutError:
        return outcome(0, "timeout", final=False)
    except httpx.HTTPError:
        return outcome(0, "connection_error", final=False)
    if 200 <= status < 300:
        return outcome(status, "", delivered=True, final=True)
    retry = status >= 500 or status in _TRY_AGAIN
    return outcome(status, f"http_{status}", final=not retry)


async def _post(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]
) -> int:
    """POST and read at most ``max_response_bytes`` of the answer (a
    receiver's answer is read only to let the connection be reused)."""
    request = client.build_request("POST", target.url, content=body, headers=headers)
    response = await client.send(request, stream=True, follow_redirects=False)
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= target.max_response_bytes:
                break
    finally:
        await response.aclose()
    return response.status_code


def backoff(attempt: int, *, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt: exponential
    (``base_s``, then twice as long each time, at most ``max_s``), with half
    of it jittered so that receivers coming back are not hit in step."""
    ceiling = min(max_s, base_s * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)
