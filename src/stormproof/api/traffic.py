"""Counting people's requests for the prober (ADR 020): a plain ASGI layer
outside :class:`~stormproof.api.edge.Edge`, so a region that answers 503
``not_ready`` counts those answers too.

A request of a component the prober checks (``status.traffic.component_of``)
counts once its answer starts, as failed when that answer is a 5xx, or when
no answer started before the app gave up on it. A request carrying the probe
header with this cluster's token is a prober's: never counted. A route that
authenticated its caller marks ``request.state.person`` (``api/deps.py``),
which makes the caller one of the people served.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormproof.region import Region
from stormproof.status.identity import PROBE_HEADER, is_probe
from stormproof.status.traffic import Traffic, component_of

__all__ = ["PERSON", "Counted"]

#: the key of ``request.state`` that names the person a request served
PERSON = "person"


class Counted:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        region: Region | None = getattr(scope["app"].state, "region", None)
        if scope["type"] != "http" or region is None:
            await self.app(scope, receive, send)
            return
        if is_probe(region.secret, Headers(scope=scope).get(PROBE_HEADER)):
            await self.app(scope, receive, send)
            return
        traffic: Traffic = scope["app"].state.traffic
        component = component_of(scope["method"], scope["path"])
        status: int | None = None

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start" and status is None:
                status = int(message["status"])
                if component is not None:
                    traffic.served(component, failed=status >= 500)
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if status is None and component is not None:
                traffic.served(component, failed=True)
            person = scope.get("state", {}).get(PERSON)
            if isinstance(person, str) and status is not None and status < 500:
                traffic.saw(person)
