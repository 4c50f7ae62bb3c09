"""Structured logs: one line per record, JSON for machines or plain for people.

A region writes three kinds of lines (ADR 022):

- **requests**, one per HTTP request (``stormproof.requests``, written by
  :mod:`stormproof.api.observed`): method, route template, status,
  latency, and the request id the response carries in ``X-Request-Id``;
- **events**, one per change of state worth telling (``stormproof.events``,
  through :func:`log_event`): the region catching up, ready or failed, its
  views stopped or following again, a probe's verdict turning, an incident;
- everything else the program logs (its own warnings, uvicorn's, asyncio's).

Every line names its region and, while a request is being served, that
request's id — read from context variables (:data:`REGION`,
:data:`REQUEST_ID`) when the record is made, so a line from deep inside a
request carries the id its access line does. A traceback appears only on a
record logged with one (a bug); an expected condition — a 4xx, a client gone
mid-request — is one line with no traceback, and a JSON line never spans two
lines, traceback or not.

Only a program's entry point calls :func:`configure_logs`: tests and
embedding programs keep their own logging set-up, and the lines still reach
them as ordinary records with their fields attached.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

__all__ = [
    "FIELDS",
    "REGION",
    "REQUEST_ID",
    "JsonFormatter",
    "LogFormat",
    "PlainFormatter",
    "configure_logs",
    "fields_of",
    "log_event",
]

#: "auto": JSON unless the stream is a terminal (then plain)
LogFormat = Literal["auto", "json", "plain"]

#: the region whose work is under way (set when a region starts, and per request)
REGION: ContextVar[str | None] = ContextVar("stormproof_region", default=None)
#: the id of the request being served, if any
REQUEST_ID: ContextVar[str | None] = ContextVar("stormproof_request_id", default=None)

#: the attribute of a log record that holds its structured fields
FIELDS = "stormproof_fields"

_EVENTS = logging.getLogger("stormproof.events")
#: the line's own keys, which a field never overwrites
_RESERVED = frozenset({"ts", "level", "logger", "msg", "error"})


def log_event(kind: str, /, *, level: int = logging.INFO, **fields: object) -> None:
    """Log that something changed state: ``kind`` names what (``region.state``,
    ``views.stopped``, ``probe.verdict``, ``incident.opened``…), ``fields``
    say the rest; values should be JSON-able (anything else is written as
    its ``str``). The line carries ``event: kind``, and the region (and
    request id) of the context it was logged in."""
    _EVENTS.log(level, kind, extra={FIELDS: {**_context(), "event": kind, **fields}})


def _context() -> dict[str, str]:
    """The region and request id of the current context, those that are set."""
    found = {"region": REGION.get(), "request_id": REQUEST_ID.get()}
    return {name: value for name, value in found.items() if value is not None}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """A record's structured fields: those it was logged with, else (a
    record of other code) the region and request id of its context, when
    :func:`configure_logs`'s handler stamped them."""
    own: Mapping[str, Any] = getattr(record, FIELDS, {})
    return {k: v for k, v in own.items() if k not in _RESERVED}


class _Context(logging.Filter):
    """Gives a record of other code (uvicorn's, asyncio's, a module's
    ``logger.warning``) the region and request id of the context that made
    it: a handler's filter runs inside the logging call, in that context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, FIELDS):
            setattr(record, FIELDS, _context())
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ms), ``level``, ``logger``,
    ``msg``, the record's fields, and ``error`` (the traceback, as one
    string) only when the record carries an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["error"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """``ts LEVEL logger msg key=value…``, then a traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(
            f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
            for k, v in fields_of(record).items()
            if k != "event"
        )
        head = f"{_timestamp(record)} {record.levelname:<7} {record.name} {record.getMessage()}"
        text = f"{head} {pairs}" if pairs else head
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _Ours(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logs` installs (and replaces when called again)."""


def configure_logs(
    log_format: LogFormat = "auto", level: str = "info", *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every record at ``level`` or above to ``stream`` (stderr), one
    line each, in ``log_format``. Replaces what an earlier call installed;
    warnings go to the log too. Returns the handler installed."""
    out = stream if stream is not None else sys.stderr
    if log_format == "auto":
        log_format = "plain" if out.isatty() else "json"
    handler = _Ours(out)
    handler.addFilter(_Context())
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Ours)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return handler
