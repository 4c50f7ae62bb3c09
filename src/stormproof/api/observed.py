"""Every request observed: an id, a log line, and its place in the metrics
(ADR 022).

The outermost of our ASGI layers, so it sees every answer — the edge's 503
``not_ready`` and 413s, the rate limits' 429s, the router's 404s. For each
request it

- takes the caller's ``X-Request-Id`` when it is a short safe token
  (:data:`SAFE_ID`), else makes one, and answers with it in ``X-Request-Id``;
  while the request is served, every log line carries it;
- counts it and times it (to the end of its answer) under its **route
  template** (``/v1/videos/{video_id}``), never its path: a path is the
  caller's to choose, a template one of a fixed set. A path no route matches
  counts as ``unmatched``;
- writes one line to ``stormproof.requests`` (:func:`request_line`) — at
  ``debug`` for a prober's request (``probe: true``; every region gets a
  score of them every round, and they are counted all the same).

A client that goes away before its answer started (its body cut short, say)
is an expected condition: whatever the app then answered into the void, it
is counted and logged as 499 (nginx's "client closed request"), one line
with no traceback.

A bug (an exception no handler took) is answered here, by the app's own
last-resort handler for ``Exception``, rather than by Starlette's outermost
layer after this one has finished: so the 500 carries its ``X-Request-Id``,
the handler's line with the traceback names the request, and the traceback
is logged once — not a second time by uvicorn, to which Starlette would
re-raise it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormproof.logs import FIELDS, REGION, REQUEST_ID
from stormproof.metrics import method_label
from stormproof.region import Region
from stormproof.status.identity import PROBE_HEADER, is_probe

__all__ = ["CLIENT_GONE", "SAFE_ID", "UNMATCHED", "Observed", "Routes", "request_line"]

#: a request id a caller may choose: letters, digits, ``.``, ``_``, ``-``
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: the route label of a request no route matches
UNMATCHED = "unmatched"
#: the status counted for a request whose client left before any answer
CLIENT_GONE = 499

_HEADER = b"x-request-id"
requests_log = logging.getLogger("stormproof.requests")


def request_id(scope: Scope) -> str:
    """The caller's id if it sent exactly one and it is safe, else a new one."""
    sent = Headers(scope=scope).getlist("x-request-id")
    if len(sent) == 1 and SAFE_ID.fullmatch(sent[0]):
        return sent[0]
    return secrets.token_hex(8)


class Routes:
    """The app's route templates, to name a request the router did not
    (the edge answered first, or no route matched).

    The router records the route it chose in the scope (``scope["route"]``);
    this table is for the rest, built on first use from the app's routes —
    walking into routers that FastAPI wraps when they are included (its
    ``original_router``; our routers carry their whole path, as app.py
    includes them without a prefix). Were FastAPI to change that, such
    requests would read ``unmatched``, and tests/api/test_metrics.py says so.
    """

    def __init__(self) -> None:
        self._table: list[tuple[re.Pattern[str], frozenset[str] | None, str]] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if isinstance(route, BaseRoute) and (template := _template(route)) is not None:
            return template
        if self._table is None:
            self._table = [entry for r in _flat(scope["app"].router.routes) if (entry := _row(r))]
        path, method = scope["path"], scope["method"]
        other_method = None
        for regex, methods, template in self._table:
            if regex.match(path):
                if methods is None or method in methods:
                    return template
                other_method = other_method or template  # the router answers 405
        return other_method or UNMATCHED


def _flat(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _flat(inner.routes) if inner is not None else (route,)


def _row(route: BaseRoute) -> tuple[re.Pattern[str], frozenset[str] | None, str] | None:
    regex, template = getattr(route, "path_regex", None), _template(route)
    if not isinstance(regex, re.Pattern) or template is None:
        return None
    methods = getattr(route, "methods", None)
    return regex, (frozenset(methods) if methods else None), template


def _template(route: BaseRoute) -> str | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def request_line(
    method: str,
    route: str,
    status: int,
    latency_ms: float,
    request_id: str,
    region: str,
    *,
    probe: bool = False,
) -> None:
    """The one line a request leaves in the log."""
    fields: dict[str, Any] = {
        "region": region,
        "request_id": request_id,
        "event": "request",
        "method": method,
        "route": route,
        "status": status,
        "latency_ms": latency_ms,
    }
    level = logging.WARNING if status >= 500 else logging.INFO
    if probe:
        fields["probe"] = True
        level = logging.DEBUG
    requests_log.log(level, "%s %s %d", method, route, status, extra={FIELDS: fields})


class Observed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = Routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        region: Region | None = getattr(scope["app"].state, "region", None)
        if scope["type"] != "http" or region is None:
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(region, scope, receive, send, self.routes)
        tokens = REGION.set(region.name), REQUEST_ID.set(exchange.id)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:
            exchange.end(gone=True)
        except asyncio.CancelledError:
            exchange.end(gone=True)
            raise
        except Exception as exc:
            handler = scope["app"].exception_handlers.get(Exception)
            if handler is None or exchange.status is not None:  # too late to answer
                exchange.end(failed=True)
                raise
            answer = await handler(Request(scope), exc)
            await answer(scope, exchange.receive, exchange.send)
        finally:
            exchange.end()
            REQUEST_ID.reset(tokens[1])
            REGION.reset(tokens[0])


class _Exchange:
    """One request and its answer, as :class:`Observed` watches them."""

    def __init__(
        self, region: Region, scope: Scope, receive: Receive, send: Send, routes: Routes
    ) -> None:
        self.region, self.scope, self.routes = region, scope, routes
        self._receive, self._send = receive, send
        self.started = time.perf_counter()
        self.id = request_id(scope)
        self.status: int | None = None
        #: the client left before an answer started
        self.gone = False
        self.ended = False
        region.metrics.request_started()

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" and self.status is None:
            self.gone = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
            message = {**message, "headers": [*headers, (_HEADER, self.id.encode())]}
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            # Counted before the last bytes leave: once a client has its
            # whole answer, the metrics and the log already show it.
            self.end()
        await self._send(message)

    def end(self, *, gone: bool = False, failed: bool = False) -> None:
        """Count and log the request, once: with its status, 499 when the
        client left before an answer started, 500 when the app failed first."""
        if self.ended:
            return
        self.ended = True
        if self.status is None:
            status = 500 if failed and not (gone or self.gone) else CLIENT_GONE
        else:
            status = CLIENT_GONE if self.gone else self.status
        seconds = time.perf_counter() - self.started
        method, route = method_label(self.scope["method"]), self.routes.of(self.scope)
        self.region.metrics.request_ended(method, route, status, seconds)
        if self.region.settings.log_requests:
            latency_ms = round(seconds * 1000, 2)
            probe = is_probe(self.region.secret, Headers(scope=self.scope).get(PROBE_HEADER))
            line = (method, route, status, latency_ms, self.id, self.region.name)
            request_line(*line, probe=probe)
