"""``create_app(settings)``: the composition root of one region's API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from stormproof import __version__
from stormproof.actions.uploads import sweep_uploads
from stormproof.api.docs import mount_docs
from stormproof.api.edge import Edge
from stormproof.api.limits import RateLimits
from stormproof.api.observed import Observed
from stormproof.api.routers import (
    accounts,
    blocks,
    comments,
    digest,
    earnings,
    feed,
    follows,
    health,
    history,
    hls,
    incidents,
    interactions,
    ledger,
    maintenance,
    messages,
    metrics,
    operators,
    postmortems,
    reports,
    sessions,
    snapshots,
    status,
    studio,
    uploads,
    videos,
    webhooks,
)
from stormproof.api.schemas import ERRORS, error_response
from stormproof.api.traffic import Counted
from stormproof.creators.closer import Closer
from stormproof.errors import StormproofError
from stormproof.region import Region
from stormproof.settings import Settings
from stormproof.snapshots import Snapshots
from stormproof.status import Prober, Traffic
from stormproof.status.judge import Judge
from stormproof.status.webhooks.deliverer import Deliverer
from stormproof.transcoding import Transcoder, queue_for
from stormproof.web import router as web
from stormproof.web.cors import cors_options

__all__ = ["create_app"]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    416: "range_not_satisfiable",
}

log = logging.getLogger(__name__)


async def _on_stormproof_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StormproofError)
    response = error_response(exc.status, exc.code, exc.message, **exc.detail)
    if "retry_after" in exc.detail:
        response.headers["Retry-After"] = str(exc.detail["retry_after"])
    response.headers.update(getattr(exc, "headers", {}))  # a protocol's own (tus's Tus-Version)
    return response


def _field_errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(list(exc.errors()))
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(
            400, "malformed_json", "the request body is not valid JSON", errors=errors
        )
    return error_response(
        422, "invalid_request", "the request does not match the API", errors=errors
    )


async def _on_invalid_field(_: Request, exc: Exception) -> JSONResponse:
    """A value the request carried that no event may hold (found when the
    action made its event): refused, nothing stored."""
    assert isinstance(exc, ValidationError)
    errors = _field_errors(list(exc.errors(include_url=False, include_input=False)))
    return error_response(
        422, "invalid_field", "a value of the request is out of bounds", errors=errors
    )


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    response = error_response(exc.status_code, code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def _on_unencodable_text(_: Request, exc: Exception) -> JSONResponse:
    """Text from the request that is not valid Unicode (a lone surrogate from
    a JSON ``\\ud800`` escape) met SQLite or a hash before any model saw it."""
    return error_response(
        422, "invalid_unicode", "the request holds text that is not valid Unicode"
    )


async def _on_anything_else(request: Request, exc: Exception) -> JSONResponse:
    """The last resort: a bug answered as JSON, without internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; it was logged")


def create_app(
    settings: Settings,
    *,
    on_ready: Callable[[Region], Awaitable[object]] | None = None,
    opened: Future[Region] | None = None,
) -> FastAPI:
    """Build one region's API. It answers as soon as the log is open: the
    region catches up in the background, and is ready once the views caught
    up and ``on_ready`` ran (``stormproof serve`` seeds the demo catalog there).
    ``opened`` is the region of ``settings`` already being opened
    (:meth:`Region.open_in_background`); without it the start opens it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        region = Region.open(settings) if opened is None else await asyncio.wrap_future(opened)
        await region.start(on_ready)
        app.state.region = region
        ahead = probing = judging = sweeping = None
        if settings.snapshot_every_s:
            snapshots: Snapshots = app.state.snapshots

            def applied() -> int:  # read anew each time: a restore replaces the projector
                return sum(region.projector.position)

            ahead = asyncio.create_task(
                snapshots.keep_one_made(region.caught_up, applied, region.save_engine)
            )
        if settings.probe_every_s:  # once ready, every region probes every region (ADR 020)
            app.state.prober = prober = Prober(region, app.state.traffic)
            probing = asyncio.create_task(prober.run(region.caught_up), name="prober")
            # and judges what they found: incidents open and update by themselves (ADR 021)
            app.state.judge = judge = Judge(region, lambda: prober.actor)
            judging = asyncio.create_task(judge.run(region.caught_up), name="judge")
        # one region at a time sends incident updates to webhooks (ADR 024)
        app.state.deliverer = deliverer = Deliverer(region)
        delivering = asyncio.create_task(deliverer.run(region.caught_up), name="deliverer")
        if settings.upload_sweep_every_s:  # abandoned resumable uploads expire (ADR 027)
            sweeping = asyncio.create_task(
                sweep_uploads(region, region.caught_up), name="upload sweeper"
            )
        closing = None
        if settings.sla_close_every_s:  # creators' months close by themselves (ADR 031)
            closing = asyncio.create_task(Closer(region).run(region.caught_up), name="closer")
        transcoding = transcoder = None
        if settings.transcode:  # the HLS ladder of every new video, in every region (ADR 028)
            app.state.transcoder = transcoder = Transcoder(region, queue_for(region))
            transcoding = asyncio.create_task(transcoder.run(region.caught_up), name="transcoder")
        try:
            yield
        finally:
            for task in (transcoding, closing, sweeping, delivering, judging, probing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, StormproofError):
                    await ahead
            if transcoder is not None:
                await transcoder.close()
            await region.close()

    app = FastAPI(
        title="stormproof",
        version=__version__,
        summary="A short-video platform that survives losing a data center.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=ERRORS,
    )
    if settings.docs:
        mount_docs(app)

    app.state.limits = RateLimits.from_settings(settings)  # per region, in memory (ADR 012)
    app.state.streams = Counter[str]()  # live message streams per person
    app.state.snapshots = Snapshots(settings)  # made for peers restoring (ADR 017)
    app.state.traffic = Traffic(settings.active_people_max)  # people's requests, for probes
    app.add_middleware(Edge)
    app.add_middleware(Counted)  # outside the edge: its 503 not_ready count too
    app.add_middleware(Observed)  # request ids, metrics, a log line per request
    if settings.peers:  # outermost: the web app of a peer region may call this one (ADR 029)
        app.add_middleware(CORSMiddleware, **cors_options(settings.peers))
    app.add_exception_handler(StormproofError, _on_stormproof_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ValidationError, _on_invalid_field)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(UnicodeEncodeError, _on_unencodable_text)
    app.add_exception_handler(Exception, _on_anything_else)
    for module in (
        web,  # the web app at / (ADR 029), and GET /v1/regions
        accounts,
        sessions,
        videos,
        hls,
        uploads,
        interactions,
        comments,
        follows,
        blocks,
        feed,
        messages,
        reports,
        health,
        history,
        digest,
        snapshots,
        metrics,
        status,
        incidents,
        maintenance,
        webhooks,
        postmortems,
        operators,
        studio,
        earnings,
        ledger,
    ):
        # Taken as they are (their whole path, ERRORS documented: api_router):
        # include_router would build each route again for the app, lazily, at
        # the first requests after a start.
        app.router.routes.extend(module.router.routes)
    return app
