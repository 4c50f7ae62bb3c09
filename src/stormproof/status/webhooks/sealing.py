"""Webhook secrets: made, checked, and sealed for the log (ADR 024).

A secret is what the Standard Webhooks specification says: ``whsec_``
followed by the base64 of 24 to 64 random bytes. The deliverer of whichever
region delivers must sign with it, so it travels in the replicated log —
sealed under a key derived from the cluster's secret (the file every region
of a cluster shares, which signs session tokens too). Someone who reads
the log, a copy of it, or a view snapshot learns nothing of it without that
file.

The seal is built from the standard library's HMAC-SHA256 only (no AEAD
library is installed; ADR 024 weighs this): a 16-byte nonce is HKDF's salt
(RFC 5869), the subscription's id its context; one key it derives is XORed
with the secret, another signs nonce and ciphertext (encrypt-then-MAC), and
the tag is checked in constant time before anything is opened.

Sealing is deterministic, as every write to the log must be: a client
whose request reached two regions (a hedged or retried request) must make
both write the very same event under its key, or the regions would apply
different copies. So the nonce is synthetic — an HMAC, under the cluster's
secret, of the subscription and the secret sealed — the same for the same
secret and a different one (a pad never used twice) for any other; and a
secret the platform makes for a subscription is derived from the cluster's
secret and the subscription's id (:func:`derived_secret`).
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
    "derived_secret",
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
    """A fresh secret of 32 random bytes (what a receiver might make itself)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def derived_secret(cluster_secret: bytes, webhook_id: str) -> str:
    """The secret the platform makes for subscription ``webhook_id`` when the
    operator gave none: 32 bytes only the cluster's secret can tell, the same
    in every region that takes the request."""
    context = f"stormproof webhook secret {_VERSION}\x00{webhook_id}".encode()
    return SECRET_PREFIX + base64.b64encode(_prf(cluster_secret, context)).decode()


def _prf(cluster_secret: bytes, message: bytes) -> bytes:
    return hmac.new(cluster_secret, message, hashlib.sha256).digest()


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
    context = f"stormproof webhook nonce {_VERSION}\x00{webhook_id}\x00".encode()
    nonce = _prf(cluster_secret, context + key)[:_NONCE_BYTES]
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
