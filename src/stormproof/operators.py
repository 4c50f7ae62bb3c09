"""Operators: who may see a region's internals.

The operator token is derived from the region's secret (the one file every
region of a cluster shares, :func:`load_secret`), so whoever can read that file — the person
running the region, ``stormproof cluster digest`` — can compute it, and nobody
else can. ``stormproof operator-token --data DIR`` prints it.

Public answers say only what a client needs (is this region ready?); the log
position, each view's lag, a failing view's error and the digests, which take
the view store's write lock, are for operators.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from stormproof.durable import write_atomically
from stormproof.errors import StormproofError

__all__ = ["is_operator", "load_secret", "operator_headers", "operator_token"]


def load_secret(path: Path) -> bytes:
    """The signing secret for session tokens, created (durably, owner-only)
    on first use. Regions of one cluster share it."""
    if not path.exists():
        write_atomically(path, secrets.token_hex(32).encode(), mode=0o600)
    secret = bytes.fromhex(path.read_text().strip() or "00")
    if len(secret) < 32:
        raise StormproofError(f"{path} does not hold a 32-byte hex secret", code="bad_secret")
    return secret


def operator_token(secret: bytes) -> str:
    return "op_" + hmac.new(secret, b"stormproof operator", hashlib.sha256).hexdigest()


def operator_headers(secret: bytes) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_token(secret)}"}


def is_operator(secret: bytes, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries the operator token."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return False
    given = authorization[7:].strip().encode("latin-1", "replace")
    return hmac.compare_digest(given, operator_token(secret).encode())
