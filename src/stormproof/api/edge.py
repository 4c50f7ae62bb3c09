"""The edge: what every request meets before any route reads it.

A plain ASGI layer (no per-request task, unlike Starlette's
``BaseHTTPMiddleware``, which showed in profiles of the feed under load) that

- answers 503 ``not_ready`` while the region catches up (except on the
  paths in :data:`ALWAYS`), so clients go to another region;
- refuses a body larger than its route allows — at once when
  ``Content-Length`` says so, and by counting the bytes of a chunked body as
  they arrive — so a 200 MB JSON body is never parsed and a 300 MiB upload
  never spooled past the limit;
- authenticates an upload (and a tus chunk) before its body is read:
  without a valid token a 300 MiB upload costs the region one header
  lookup, not 300 MiB;
- adds the security headers every answer carries.

Request heads (line and headers) are bounded one layer below, in
:mod:`stormproof.api.serving`.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stormproof.actions.accounts import authenticate
from stormproof.api.deps import wait_for_tokens
from stormproof.api.schemas import error_response
from stormproof.errors import StormproofError
from stormproof.region import Region
from stormproof.web.paths import is_shell

__all__ = ["ALWAYS", "ALWAYS_READ", "SECURITY_HEADERS", "BodyTooLarge", "Edge"]

#: answered even while the region catches up (the status page says it may be behind)
ALWAYS = frozenset(
    {
        "/", "/v1/health", "/v1/digest", "/metrics", "/openapi.json", "/docs",
        "/v1/status", "/v1/status/page", "/status", "/status/feed.atom",
    }
)  # fmt: skip
#: read (GET) even while the region catches up, with everything under them:
#: incidents, maintenance and postmortems are part of the status (ADR 021, 025)
ALWAYS_READ = ("/v1/incidents", "/v1/maintenance", "/status/incidents")

#: on every answer: no MIME sniffing, never framed, no referrer leaks
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
#: HTML pages (the API docs) may run only what this origin serves, plus their
#: one inline start-up script; anything else answers nothing active at all
_HTML_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_OTHER_CSP = b"default-src 'none'; frame-ancestors 'none'; sandbox"

#: multipart framing and the caption may add this much to an upload's file
UPLOAD_ENVELOPE = 64 * 1024
_UPLOADS = ("POST", "/v1/videos")
#: resumable uploads (tus, ADR 027): a chunk is at most ``upload_chunk_max_bytes``
_TUS = "/v1/uploads"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body passes its limit; an HTTPException
    so FastAPI's body parsing lets it through to the error handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is at most {limit} bytes")


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        region: Region | None = getattr(scope["app"].state, "region", None)
        if region is None:  # not started yet
            await self.app(scope, receive, send)
            return
        if not region.ready and not _always(scope["method"], scope["path"]):
            refusal = error_response(503, "not_ready", f"{region.name} is still catching up")
            await refusal(scope, receive, send)
            return
        settings = region.settings
        headers = Headers(scope=scope)
        is_upload = (scope["method"], scope["path"].rstrip("/")) == _UPLOADS
        is_chunk = _is_chunk(scope["method"], scope["path"])
        limit = (
            settings.max_upload_bytes + UPLOAD_ENVELOPE
            if is_upload
            else settings.upload_chunk_max_bytes
            if is_chunk
            else settings.max_json_bytes
        )
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 19):
            await error_response(400, "bad_content_length", "Content-Length is not a number")(
                scope, receive, send
            )
            return
        if declared is not None and int(declared) > limit:
            what = "a video upload" if is_upload else "a chunk" if is_chunk else "a request body"
            refusal = error_response(413, "payload_too_large", f"{what} is at most {limit} bytes")
            await refusal(scope, receive, send)
            return
        if is_upload or is_chunk:
            try:
                # A session started in another region may not be applied here
                # yet: wait for the caller's min_seq first, as reads do.
                await wait_for_tokens(region, QueryParams(scope["query_string"]).getlist("min_seq"))
                await authenticate(region, headers.get("authorization"))
            except StormproofError as exc:
                refusal = error_response(exc.status, exc.code, exc.message)
                await refusal(scope, receive, send)
                return
        await self.app(scope, _counted(receive, limit), send)


def _is_chunk(method: str, path: str) -> bool:
    """Whether a request may carry a tus chunk: a creation (with upload) or a PATCH."""
    path = path.rstrip("/")
    if method == "POST":
        return path == _TUS
    return method == "PATCH" and path.startswith(_TUS + "/")


def _always(method: str, path: str) -> bool:
    """Whether ``path`` is answered while the region catches up."""
    if path in ALWAYS or path.startswith("/docs/"):
        return True
    if method in ("GET", "HEAD") and (is_shell(path) or path == "/v1/regions"):
        return True  # the web app's shell and where else to ask (ADR 029)
    reading = method in ("GET", "HEAD")
    return reading and any(path == p or path.startswith(p + "/") for p in ALWAYS_READ)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body passes
    ``limit`` (a chunked body has no Content-Length to check up front)."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


def _with_security_headers(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[Any] = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
            csp = _HTML_CSP if content_type.startswith(b"text/html") else _OTHER_CSP
            extra = [*SECURITY_HEADERS, (b"content-security-policy", csp)]
            headers += [(name, value) for name, value in extra if name not in present]
            message = {**message, "headers": headers}
        await send(message)

    return secured
