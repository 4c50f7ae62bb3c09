"""``create_app(settings)``: the composition root of one region's API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from stormproof import __version__
from stormproof.api.deps import write_clock
from stormproof.api.routers import (
    accounts,
    comments,
    digest,
    feed,
    follows,
    health,
    interactions,
    messages,
    videos,
)
from stormproof.errors import StormproofError
from stormproof.region import Region
from stormproof.settings import Settings

__all__ = ["create_app"]

#: answered even while the region catches up
_ALWAYS = {"/v1/health", "/v1/digest", "/openapi.json", "/docs"}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    416: "range_not_satisfiable",
}


def _error(status: int, code: str, message: str, **detail: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **detail}, status_code=status)


async def _on_stormproof_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StormproofError)
    response = _error(exc.status, exc.code, exc.message, **exc.detail)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stormproof"'
    if "retry_after_s" in exc.detail:  # e.g. media_busy
        response.headers["Retry-After"] = str(exc.detail["retry_after_s"])
    return response


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return _error(400, "malformed_json", "the request body is not valid JSON", errors=errors)
    return _error(422, "invalid_request", "the request does not match the API", errors=errors)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        {"code": code, "message": str(exc.detail)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


class _RefuseUntilReady:
    """503 ``not_ready`` while the region catches up, except on ``_ALWAYS``.
    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs every
    request through an extra task and memory streams, which showed in
    profiles of the feed under load."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in _ALWAYS:
            region: Region | None = getattr(scope["app"].state, "region", None)
            if region is not None and not region.ready:
                refusal = _error(503, "not_ready", f"{region.name} is still catching up")
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    on_ready: Callable[[Region], Awaitable[object]] | None = None,
) -> FastAPI:
    """Build one region's API. ``on_ready`` runs once the views caught up
    (``stormproof serve`` seeds the demo catalog there)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        region = Region.open(settings)
        await region.start()
        app.state.region = region
        try:
            if on_ready is not None:
                await on_ready(region)
            yield
        finally:
            await region.close()

    app = FastAPI(
        title="stormproof",
        version=__version__,
        summary="A short-video platform that survives losing a data center.",
        lifespan=lifespan,
        dependencies=[Depends(write_clock)],
    )

    app.add_middleware(_RefuseUntilReady)
    app.add_exception_handler(StormproofError, _on_stormproof_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    for module in (
        accounts,
        videos,
        interactions,
        comments,
        follows,
        feed,
        messages,
        health,
        digest,
    ):
        app.include_router(module.router)
    return app
