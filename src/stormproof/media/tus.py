"""The tus 1.0 resumable upload protocol: its headers, parsed strictly.

Only what a client sends is parsed here; what an upload *is* lives in the
log (``actions/uploads.py``, ADR 027). Every header is hostile: a value that
does not parse is a 4xx with its own code, never skipped (a metadata value
that is not base64 is refused, not dropped).

See https://tus.io/protocols/resumable-upload for the protocol.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any, ClassVar

from stormproof.errors import BadRequest, StormproofError

__all__ = [
    "CHECKSUMS",
    "EXTENSIONS",
    "OFFSET_TYPE",
    "VERSION",
    "Checksum",
    "ChecksumMismatch",
    "TusError",
    "check_version",
    "parse_checksum",
    "parse_metadata",
    "parse_offset",
]

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
#: the only body a PATCH (or a creation with upload) may carry
OFFSET_TYPE = "application/offset+octet-stream"
#: Upload-Checksum algorithms we verify, as tus names them
CHECKSUMS: dict[str, Callable[[], Any]] = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}

#: a metadata key: no spaces or commas (the protocol's separators), bounded
_KEY = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,64}")
#: a header of non-negative decimal digits that fits SQLite's INTEGER
_DIGITS = re.compile(r"[0-9]{1,18}")
_MAX_KEYS = 32


class TusError(StormproofError):
    """A refusal the protocol names a status for, with the headers it asks."""

    headers: ClassVar[dict[str, str]] = {}


class VersionUnsupported(TusError):
    status = 412
    code = "tus_version_unsupported"
    headers: ClassVar[dict[str, str]] = {"Tus-Version": VERSION}


class ChecksumMismatch(TusError):
    """460 Checksum Mismatch, the checksum extension's own status."""

    status = 460
    code = "checksum_mismatch"


def check_version(value: str | None) -> None:
    """Every request but OPTIONS says which protocol it speaks: ours or 412."""
    if value != VERSION:
        raise VersionUnsupported(f"send Tus-Resumable: {VERSION}")


def parse_offset(value: str | None, header: str) -> int:
    """A non-negative byte count header (``Upload-Offset``, ``Upload-Length``)."""
    if value is None or not _DIGITS.fullmatch(value):
        code = "invalid_" + header.lower().replace("-", "_")
        raise BadRequest(f"{header} must be a non-negative integer", code=code)
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the
    value may be absent), each value UTF-8 text. Anything else is 400
    ``invalid_metadata``."""
    if value is None or not value.strip():
        return {}
    pairs: dict[str, str] = {}
    for item in value.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not _KEY.fullmatch(key) or key in pairs or " " in encoded.strip():
            raise _bad_metadata(f"metadata key {key[:64]!r} is not valid or repeated")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except ValueError as exc:  # not base64 (binascii.Error), not ASCII, not UTF-8
            raise _bad_metadata(f"the value of {key!r} is not base64 of UTF-8 text") from exc
        if len(pairs) > _MAX_KEYS:
            raise _bad_metadata(f"at most {_MAX_KEYS} metadata keys")
    return pairs


def _bad_metadata(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_metadata")


class Checksum:
    """An ``Upload-Checksum`` to verify a chunk's bytes against as they arrive."""

    def __init__(self, algorithm: str, expected: bytes) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self._hash = CHECKSUMS[algorithm]()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def verify(self) -> None:
        if self._hash.digest() != self.expected:
            raise ChecksumMismatch(f"the chunk's {self.algorithm} is not the one sent")


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``, or None if not sent."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise BadRequest(
            f"checksums are one of {', '.join(CHECKSUMS)}", code="checksum_algorithm_unsupported"
        )
    try:
        expected = base64.b64decode(encoded.strip(), validate=True)
    except ValueError as exc:  # not base64 (binascii.Error), or not even ASCII
        raise BadRequest("Upload-Checksum is not base64", code="invalid_checksum") from exc
    if len(expected) != CHECKSUMS[algorithm]().digest_size:
        raise BadRequest("Upload-Checksum has the wrong length", code="invalid_checksum")
    return Checksum(algorithm, expected)
