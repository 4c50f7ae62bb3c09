"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that
verifies each request with the ``standardwebhooks`` library, as a
receiver's own code would, and answers as the test tells it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["Received", "Receiver", "receiving"]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    #: what the library said: the parsed body, or None when it refused it
    verified: Any
    #: the status answered; 0: none (the sender was gone when it would be)
    status: int

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    """Answers 204 to what verifies, 400 to what does not, but first each
    of ``failures`` in turn (500s, say); with :attr:`stalling` set, holds
    each request until :meth:`release`, then answers 503."""

    def __init__(self) -> None:
        self.secret = ""
        self.failures: list[int] = []
        self.received: list[Received] = []
        self.stalling = False
        self.stalled = threading.Event()
        #: the requests held while stalling: their headers
        self.held: list[dict[str, str]] = []
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.url = ""

    def release(self) -> None:
        self.stalling = False
        self._released.set()

    def delivered(self) -> dict[str, list[Received]]:
        """Requests answered 2xx, by webhook-id."""
        found: dict[str, list[Received]] = {}
        for r in list(self.received):
            if 200 <= r.status < 300:
                found.setdefault(r.webhook_id, []).append(r)
        return found

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        if self.stalling:
            self.held.append(headers)
            self.stalled.set()
            self._released.wait()
            return 503
        try:
            verified = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError):
            verified = None
        with self._lock:
            status = self.failures.pop(0) if self.failures else 204 if verified else 400
            self.received.append(Received(headers, body, verified, status))
        return status


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.server.receiver.answer(headers, body)
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:  # the sender died while it waited
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver listening on a free loopback port until the block ends."""
    receiver = Receiver()
    server = _Server(receiver)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/stormproof"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
