"""Webhook secrets: made, checked, and sealed for the log (ADR 024).

A secret is what the Standard Webhooks specification says: ``whsec_``
followed by the base64 of 24 to 64 random bytes. The deliverer of whichever
region delivers must sign with it, so it travels in the replicated log —
sealed under a key derived from the cluster's secret (the file every region
of a cluster shares, which signs session tokens too). Someone who reads
the log, a copy of it, or a view snapshot learns nothing of it without that
file.

The seal is built from the standard library's HMAC-SHA256 only (no AEAD
library is installed; ADR 024 weighs this): a random 16-byte nonce is
HKDF's salt (RFC 5869), the subscription's id its context; one key it
derives is XORed with the secret (a pad used once: the nonce is new for
every seal), another signs nonce and ciphertext (encrypt-then-MAC), and the
tag is checked in constant time before anything is opened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from stormproof.errors import StormproofError, Unprocessable

__all__ = [
    "MAX_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "SECRET_PREFIX",
    "SealBroken",
    "check_secret",
    "new_secret",
    "seal",
    "unseal",
]

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
#: the longest text a valid secret can be (64 bytes are 88 base64 characters)
_MAX_SECRET_CHARS = len(SECRET_PREFIX) + 4 * -(-MAX_SECRET_BYTES // 3)
_VERSION = "v1"
_NONCE_BYTES = 16


class SealBroken(StormproofError):
    """A sealed secret that does not open: sealed under another cluster
    secret, for another subscription, or altered."""


def new_secret() -> str:
    """A fresh secret of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(text: str) -> bytes:
    """The key bytes of a secret given by an operator; 422
    ``invalid_secret`` unless it is ``whsec_`` + padded base64 of 24-64 bytes."""
    problem = Unprocessable(
        f"a secret is {SECRET_PREFIX!r} followed by the base64 of "
        f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes (or leave it out: one is made)",
        code="invalid_secret",
    )
    if len(text) > _MAX_SECRET_CHARS or not text.startswith(SECRET_PREFIX):
        raise problem
    try:
        key = binascii.a2b_base64(text[len(SECRET_PREFIX) :].encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise problem from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise problem
    return key


def _hkdf(secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869): extract, then expand to ``length`` bytes."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def _keys(cluster_secret: bytes, nonce: bytes, webhook_id: str, length: int) -> tuple[bytes, bytes]:
    context = f"stormproof webhook secret {_VERSION}\x00{webhook_id}".encode()
    pad = _hkdf(cluster_secret, nonce, context + b"\x00pad", length)
    mac = _hkdf(cluster_secret, nonce, context + b"\x00mac", 32)
    return pad, mac


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(cluster_secret: bytes, webhook_id: str, secret: str) -> str:
    """``secret`` (checked) sealed for ``webhook_id``: ``v1.<nonce>.<ciphertext>.<tag>``."""
    key = check_secret(secret)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    pad, mac = _keys(cluster_secret, nonce, webhook_id, len(key))
    sealed = bytes(a ^ b for a, b in zip(key, pad, strict=True))
    tag = hmac.new(mac, _VERSION.encode() + nonce + sealed, hashlib.sha256).digest()
    return ".".join((_VERSION, _b64(nonce), _b64(sealed), _b64(tag)))


def unseal(cluster_secret: bytes, webhook_id: str, sealed: str) -> str:
    """The secret :func:`seal` sealed, as ``whsec_…``; :class:`SealBroken` otherwise."""
    broken = SealBroken(
        "this webhook's secret does not open with this cluster's secret", code="seal_broken"
    )
    try:
        version, *parts = sealed.split(".")
        nonce, body, tag = (_unb64(p) for p in parts)
    except (ValueError, binascii.Error):
        raise broken from None
    if version != _VERSION or len(nonce) != _NONCE_BYTES:
        raise broken
    pad, mac = _keys(cluster_secret, nonce, webhook_id, len(body))
    expected = hmac.new(mac, _VERSION.encode() + nonce + body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, tag):
        raise broken
    key = bytes(a ^ b for a, b in zip(body, pad, strict=True))
    return SECRET_PREFIX + base64.b64encode(key).decode()
