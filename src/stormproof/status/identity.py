"""Who a prober is: its system accounts, their passwords, and the header
that marks its requests.

Each region's prober signs in as two system accounts of its own (ADR 020):
``probe.<region>``, which does everything, and ``probe.<region>.in``, which
only receives its messages (nobody may message themselves). Their passwords
are derived from the secret every region of a cluster shares, so nothing
extra is stored and any region's prober could sign in as any probe account.
Every request a prober sends carries :data:`PROBE_HEADER` with a token derived
from the same secret, so the regions it checks leave it out of what they
count of people's requests; nobody without the secret can forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from stormproof.actions.accounts import MAX_USERNAME, SYSTEM_PREFIX

__all__ = [
    "PROBE_HEADER",
    "ProbeAccounts",
    "is_probe",
    "probe_token",
    "system_password",
]

#: the request header that marks a prober's request
PROBE_HEADER = "Stormproof-Probe"
_SUFFIX = ".in"


def _base(region: str) -> str:
    """The part of a probe account's name that stands for its region: the
    region's name in username characters, shortened with a hash if it would
    make a name longer than a username may be."""
    base = re.sub(r"[^a-z0-9_]", "_", region.lower())
    room = MAX_USERNAME - len(SYSTEM_PREFIX) - len(_SUFFIX)
    if len(base) > room:
        digest = hashlib.sha256(region.encode()).hexdigest()[:8]
        base = f"{base[: room - 9]}_{digest}"
    return base


@dataclass(frozen=True)
class ProbeAccounts:
    """The two system accounts of one region's prober."""

    #: signs in, reads, plays, interacts, sends and uploads
    prober: str
    #: receives the prober's messages on its stream
    recipient: str

    @classmethod
    def of(cls, region: str) -> ProbeAccounts:
        name = SYSTEM_PREFIX + _base(region)
        return cls(prober=name, recipient=name + _SUFFIX)


def system_password(secret: bytes, username: str) -> str:
    """A system account's password: the same in every region of a cluster."""
    mac = hmac.new(secret, b"stormproof system account\x00" + username.encode(), hashlib.sha256)
    return mac.hexdigest()


def probe_token(secret: bytes) -> str:
    """The value of :data:`PROBE_HEADER` on a prober's requests."""
    return "pr_" + hmac.new(secret, b"stormproof probe", hashlib.sha256).hexdigest()


def is_probe(secret: bytes, value: str | None) -> bool:
    """Whether a :data:`PROBE_HEADER` value is this cluster's probe token."""
    if not value:
        return False
    return hmac.compare_digest(value.encode("latin-1", "replace"), probe_token(secret).encode())
