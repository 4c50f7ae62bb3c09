"""Counting people's requests for the prober (ADR 020): a plain ASGI layer
outside :class:`~stormproof.api.edge.Edge`, so a region that answers 503
``not_ready`` counts those answers too.

A request of a component the prober checks (``status.traffic.component_of``)
counts once its answer starts, as failed when that answer is a 5xx, or when
no answer started before the app gave up on it, and as delayed when it is a
write answered 2xx whose ``Stormproof-Write-At`` (the client's time for its
first attempt, the same on every retry) is ``write_delayed_after_s`` or more
before this attempt arrived: an earlier attempt failed somewhere, and the
person waited (ADR 025). A request carrying the probe header with this
cluster's token is a prober's: never counted. A route that authenticated
its caller marks ``request.state.person`` (``api/deps.py``), which makes the
caller one of the people served — and, when its request failed or was
delayed, one of the people touched.
"""

from __future__ import annotations

import time

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
        waited_ms = _waited_ms(scope, region.settings.write_delayed_after_s)

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start" and status is None:
                status = int(message["status"])
                if component is not None:
                    traffic.served(
                        component,
                        failed=status >= 500,
                        delayed=waited_ms is not None and 200 <= status < 300,
                        person=_person(scope),
                    )
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if status is None and component is not None:
                traffic.served(component, failed=True, person=_person(scope))
            person = _person(scope)
            if person is not None and status is not None and status < 500:
                traffic.saw(person)


def _person(scope: Scope) -> str | None:
    person = scope.get("state", {}).get(PERSON)
    return person if isinstance(person, str) else None


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _waited_ms(scope: Scope, delayed_after_s: float) -> int | None:
    """How long before this attempt arrived its client first sent the write
    (by its ``Stormproof-Write-At``), when that is ``delayed_after_s`` or
    more; None otherwise, and for anything that is not a write or says no
    time (a value that is not a plain number is ignored here: the route
    refuses it)."""
    if scope["method"] not in _WRITES:
        return None
    stamp = Headers(scope=scope).get("stormproof-write-at", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 18):
        return None
    waited = int(time.time() * 1000) - int(stamp)
    return waited if waited >= delayed_after_s * 1000 else None
