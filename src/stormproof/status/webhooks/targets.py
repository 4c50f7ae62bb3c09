"""Where a webhook may point (ADR 024).

Operators are trusted, but a webhook makes every region send requests where
they say, so the rules are strict and checked twice: when a subscription is
made (:func:`check_url`, a 422 with a code, nothing stored) and before each
delivery (:func:`refusal`, which resolves the host again).

- ``http`` or ``https`` only, with a host, printable ASCII, at most
  :data:`~stormproof.events.MAX_WEBHOOK_URL_CHARS` characters, no
  credentials in it (they would be stored in the log and shown in lists),
  no fragment;
- with ``webhook_allow_private`` off, no address that is not global:
  loopback, private ranges, link-local (cloud metadata at 169.254.169.254),
  carrier-grade NAT, multicast, reserved, unspecified — whether written in
  the URL or what its name resolves to when delivering. It is on by default
  for self-hosting, where receivers often sit on the same network (and the
  tests deliver to 127.0.0.1); turn it off where the regions can reach
  anything an operator should not.

What this does not stop: a name that resolves to a public address when
checked and a private one when the HTTP client resolves it again a moment
later (DNS rebinding). Where that matters, send webhooks through an egress
proxy or firewall that refuses internal ranges.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from stormproof.errors import Unprocessable
from stormproof.events import MAX_WEBHOOK_URL_CHARS

__all__ = ["check_url", "is_internal", "refusal"]


def _refuse(message: str, code: str) -> Unprocessable:
    return Unprocessable(message, code=code)


def is_internal(address: str) -> bool:
    """Whether an IP address is anything but a global unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone says nothing
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal(host: str) -> str | None:
    """The host as an IP address, if it is one."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _parts(url: str) -> SplitResult:
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        raise _refuse(f"a URL is at most {MAX_WEBHOOK_URL_CHARS} characters", "url_too_long")
    if not url or not all("\x21" <= c <= "\x7e" for c in url):
        raise _refuse(
            "a URL is printable ASCII with no spaces (percent-encode the rest)", "invalid_url"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is no number or out of range
    except ValueError:
        raise _refuse("this is not a URL", "invalid_url") from None
    return parts


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if a webhook may point there; 422 with a code otherwise."""
    parts = _parts(url)
    if parts.scheme not in ("http", "https") or not url.startswith(parts.scheme + "://"):
        raise _refuse("a webhook URL is http:// or https://", "unsupported_scheme")
    if "@" in parts.netloc:
        raise _refuse(
            "a webhook URL holds no user name or password: check the signature instead",
            "url_with_credentials",
        )
    if not parts.hostname:
        raise _refuse("a webhook URL names a host", "invalid_url")
    if parts.fragment or url.endswith("#"):
        raise _refuse("a webhook URL has no #fragment", "invalid_url")
    if not allow_private:
        literal = _literal(parts.hostname)
        if parts.hostname == "localhost" or parts.hostname.endswith(".localhost"):
            literal = "127.0.0.1"
        if literal is not None and is_internal(literal):
            raise _refuse(
                "this region does not call private addresses (webhook_allow_private is off)",
                "private_address",
            )
    return url


async def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a delivery to ``url`` must not be made now (an error code), or
    None: the URL's rules again, and with private addresses refused, every
    address its host resolves to."""
    try:
        check_url(url, allow_private=allow_private)
    except Unprocessable as exc:
        return exc.code
    if allow_private:
        return None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError:
        return "unresolved"
    if any(is_internal(str(info[4][0])) for info in found):
        return "private_address"
    return None
