"""How the operators' commands (``stormproof incident``, ``maintenance``,
``postmortem``) reach the regions: through their API, as an account.

The write routes want a signed-in account with the ``operator`` role (ADR
021), so a command signs in as ``--user`` with the password from
``STORMPROOF_PASSWORD`` or a hidden prompt — never from the command line,
where other users of the machine and the shell's history would read it —
and posts with that session. What it posts is then that account's, as on the
API, and revoking the role stops it.

Requests go through the SDK (:class:`~stormproof.client.Client`), which
tries the regions in turn and sends every write with one Idempotency-Key and
one ``Stormproof-Write-At``, so a retry that reaches another region writes
the same event. The regions are ``--url`` (repeat it for several) or those
of a local cluster's folder (``--data``). An embedded region's folder names
no address — its server is where ``stormproof serve`` was told to listen —
so it needs ``--url``.

A refusal (4xx) is one line, ``code: message``, and exit code 1; so is no
region answering. Usage errors exit 2, as Typer's own do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from stormproof.client import Client, RegionsUnavailable, RequestFailed

__all__ = [
    "DataOption",
    "JsonOption",
    "KeyOption",
    "Target",
    "UrlOption",
    "UserOption",
    "fail",
    "print_json",
    "segment",
    "when",
]

T = TypeVar("T")

#: errors go to stderr on one line, however narrow the terminal
errors = Console(stderr=True, soft_wrap=True)

UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        envvar="STORMPROOF_USER",
        help="Sign in as this account (an operator's, for writes); the password is read "
        "from STORMPROOF_PASSWORD or asked for, never taken from the command line.",
    ),
]
UrlOption = Annotated[
    list[str] | None,
    typer.Option("--url", help="A running region's API; repeat for several, tried in turn."),
]
DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="STORMPROOF_DATA_DIR",
        help="A local cluster's folder: its regions are tried in turn (an embedded "
        "region's folder needs --url).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's answer as JSON.")]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="The write's Idempotency-Key (made up if not given): run the command again "
        "with the same key and nothing new is written.",
    ),
]

#: a password is hashed by the region (Argon2id); writes read the views
_ATTEMPT_S, _DEADLINE_S = 10.0, 15.0


def fail(message: str) -> NoReturn:
    """Say what went wrong on one line (a region's message may hold line
    breaks) and exit 1."""
    errors.print(f"[red]{escape(' '.join(message.split()))}")
    raise typer.Exit(1)


def print_json(value: Any) -> None:
    """Plain JSON on stdout, for scripts (no colours, no wrapping)."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _regions(data: Path, urls: list[str] | None) -> list[str]:
    if urls:
        return [url.rstrip("/") for url in urls]
    if not (data / "cluster.json").exists():
        errors.print(
            f"[red]{escape(str(data))} is not a local cluster's folder: pass the running "
            "region's address with --url"
        )
        raise typer.Exit(2)
    from stormproof.cluster import LocalCluster

    return [spec.url for spec in LocalCluster.load(data).regions.values()]


def _password(user: str) -> str:
    password = os.environ.get("STORMPROOF_PASSWORD")
    if password is None:
        password = str(typer.prompt(f"{user}'s password", hide_input=True))
    return password


def _refusal(exc: RequestFailed) -> str:
    """``code: message``, with the first field a malformed request got wrong."""
    line = f"{exc.code}: {exc.message}"
    try:
        fields = exc.response.json().get("errors") or []
    except ValueError:
        fields = []
    if fields and isinstance(fields[0], dict):
        where = ".".join(str(part) for part in fields[0].get("loc", ()))
        line += f" ({where}: {fields[0].get('msg', '')})"
    return line


class Target:
    """The regions a command asks, and who it is when it asks."""

    def __init__(
        self, data: Path, urls: list[str] | None, user: str | None, *, writes: bool = False
    ) -> None:
        if writes and not user:
            errors.print("[red]writes are an operator's: pass --user (or set STORMPROOF_USER)")
            raise typer.Exit(2)
        self.regions = _regions(data, urls)
        self.user = user.lower() if user else None
        self._password = _password(self.user) if self.user else None
        self._sent: str | None = None  # the key of the write sent, if one was

    def read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` from the first region that answers."""

        async def work(client: Client) -> Any:
            return (await client.get(path, params=params or {})).json()

        return self._run(work)

    def read_text(self, path: str, params: dict[str, Any] | None = None) -> str:
        """GET ``path`` as text (a CSV export) from the first region that answers."""

        async def work(client: Client) -> str:
            return (await client.get(path, params=params or {})).text

        return self._run(work)

    def write(self, method: str, path: str, body: dict[str, Any], key: str | None) -> Any:
        """Send a write with one Idempotency-Key (``key``, or a fresh one) and
        one ``Stormproof-Write-At`` to whichever region takes it."""
        key = key or uuid.uuid4().hex

        async def work(client: Client) -> Any:
            self._sent = key
            return (await client.request(method, path, json=body, idempotency_key=key)).json()

        return self._run(work)

    def _run(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """Sign in (when ``--user`` was given) and do ``work``; a refusal or
        no answer ends the command with exit code 1. When a write was sent
        and no region answered, it names the write's Idempotency-Key, so the
        operator can run it again without writing twice."""
        try:
            return asyncio.run(self._signed_in(work))
        except RequestFailed as exc:
            fail(_refusal(exc))
        except RegionsUnavailable as exc:
            again = ""
            if self._sent:
                again = f"; it may have been written: run again with --key {self._sent}"
            fail(f"{exc.code}: {exc.message}{again}")

    async def _signed_in(self, work: Callable[[Client], Awaitable[T]]) -> T:
        async with Client(self.regions, attempt_timeout=_ATTEMPT_S, deadline=_DEADLINE_S) as c:
            if self.user is not None and self._password is not None:
                await c.log_in(self.user, self._password)
            return await work(c)


def segment(text: str) -> str:
    """``text`` as one segment of a URL's path: an id with a ``/`` or a ``?``
    must not reach another route."""
    return urllib.parse.quote(text, safe="")


def when(ms: int | None) -> str:
    """A moment as operators read it in a terminal: date and time, UTC."""
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
