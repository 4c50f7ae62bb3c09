"""The stormproof exception tree.

Everything stormproof raises on purpose derives from :class:`StormproofError`.
Each error carries a machine-readable ``code`` and the HTTP status the API
answers with; the API layer turns any of them into ``{"code", "message"}``.

    StormproofError
    ├── BadRequest            400  malformed input
    ├── Unauthorized          401  missing, invalid or expired token
    ├── Forbidden             403  acting on someone else's things
    ├── NotFound              404
    ├── Conflict              409  e.g. a taken username
    ├── PayloadTooLarge       413
    ├── Unprocessable         422  well-formed but invalid (bad video, unknown type)
    ├── TooManyRequests       429  a rate limit; ``retry_after`` says when to try again
    ├── Unavailable           503  views lag behind min_seq, region not ready
    ├── LogError              503  the log backend failed (never a sqlite3 error)
    └── BlobError             503  the blob store failed or a blob is corrupt

Backends catch their library's exceptions at the boundary and raise one of
these instead, so nothing above them sees ``sqlite3`` or ``nats`` errors.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "BlobError",
    "Conflict",
    "Forbidden",
    "LogError",
    "NotFound",
    "PayloadTooLarge",
    "StormproofError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
]


class StormproofError(Exception):
    """Base of every error stormproof raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail = detail


class BadRequest(StormproofError):
    status = 400
    code = "bad_request"


class Unauthorized(StormproofError):
    status = 401
    code = "unauthorized"


class Forbidden(StormproofError):
    status = 403
    code = "forbidden"


class NotFound(StormproofError):
    status = 404
    code = "not_found"


class Conflict(StormproofError):
    status = 409
    code = "conflict"


class PayloadTooLarge(StormproofError):
    status = 413
    code = "payload_too_large"


class Unprocessable(StormproofError):
    status = 422
    code = "unprocessable"


class TooManyRequests(StormproofError):
    """Carries ``retry_after`` (whole seconds) in its detail; the API sends it
    as the ``Retry-After`` header too."""

    status = 429
    code = "rate_limited"


class Unavailable(StormproofError):
    status = 503
    code = "unavailable"


class LogError(StormproofError):
    status = 503
    code = "log_unavailable"


class BlobError(StormproofError):
    status = 503
    code = "blob_unavailable"
