"""CORS between regions: the web app served by one region sends its
requests to the others when that one fails (ADR 029), so every region lets
its peers' origins — and only those — call it from a browser, with the
headers the app's API layer sends and reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["cors_options"]

#: what the app sends: its token, the SDK's write headers, tus's, SSE's resume point
ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Stormproof-Write-At",
    "Stormproof-After",
    "Last-Event-ID",
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Checksum",
    "Upload-Defer-Length",
]
#: what the app reads: read-your-writes tokens, tus's answers, a new video's id
EXPOSE_HEADERS = [
    "Stormproof-Seq",
    "Stormproof-At",
    "Stormproof-Partitions",
    "Stormproof-Region",
    "Stormproof-Position",
    "Stormproof-Video",
    "Idempotent-Replayed",
    "Retry-After",
    "Location",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "X-Request-Id",
]


def cors_options(peers: Sequence[str]) -> dict[str, Any]:
    """Starlette's ``CORSMiddleware`` options for a region with these peers."""
    return {
        "allow_origins": [peer.rstrip("/") for peer in peers],
        "allow_methods": ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ALLOW_HEADERS,
        "expose_headers": EXPOSE_HEADERS,
        "allow_credentials": False,  # the token travels in a header, never a cookie
        "max_age": 600,
    }
