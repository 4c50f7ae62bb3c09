"""How every region's API is served: one uvicorn configuration for
``stormproof serve``, cluster regions and the tests alike.

uvicorn leaves logging alone: no access log (:mod:`stormproof.api.observed`
writes one line per request, with what uvicorn's lacks — route, latency,
request id) and no logging configuration of its own, so its records go where
the program sends everyone's (:func:`stormproof.logs.configure_logs`, in
the format settings name) instead of in a second format of uvicorn's.

uvicorn's httptools protocol keeps a request's headers in memory with no
limit (the parser buffers a header of any length), so a client could make a
region hold gigabytes before any of our code runs. :class:`BoundedHead` counts
the bytes of each request head as they arrive and answers 431 once they pass
``Settings.max_head_bytes``, closing the connection without reading more.
"""

from __future__ import annotations

import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stormproof.settings import Settings

__all__ = ["BoundedHead", "server_config"]


class BoundedHead(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on each request's head."""

    max_head_bytes = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            # Only what precedes the blank line is head; a body may follow it
            # in the same read.
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    def _refuse_head(self) -> None:
        body = json.dumps(
            {
                "code": "headers_too_large",
                "message": f"request line and headers are at most {self.max_head_bytes} bytes",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def server_config(
    app: Any, settings: Settings, *, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """The uvicorn configuration of a region's API."""
    head = type("BoundedHead", (BoundedHead,), {"max_head_bytes": settings.max_head_bytes})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=head,
        timeout_graceful_shutdown=options.pop("timeout_graceful_shutdown", 2),
        access_log=False,
        log_config=None,
        **options,
    )
