"""Watching a region come back (for ``benchmarks/recovery.py``).

A region's ``/v1/health`` is asked a few times a second, with the operator
token, from the moment its process starts: when it first answers, when it
says ``ready``, and — if the answer carries a ``catch_up`` object with a
``phase`` (``"engine"``, ``"views"``…, with ``remaining``, ``per_s`` and
``eta_s``) — when each phase was first and last seen. A server that offers
no ``catch_up`` (or does not answer at all until it is ready) is timed all
the same: its phases are then simply empty.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["CatchUp", "appeared", "watch"]

Figures = dict[str, Any]


class CatchUp:
    """What a region's health answers said while it started; every time is
    in seconds after ``zero`` (a ``time.monotonic()`` reading)."""

    def __init__(self, zero: float, *, every: float = 1.0) -> None:
        self.zero = zero
        #: the first answer of any kind, and the first that said ready
        self.answered: float | None = None
        self.ready: float | None = None
        self.polls = 0
        self.phases: dict[str, Figures] = {}
        #: one sample a second (``every``) of what the answers said
        self.timeline: list[Figures] = []
        self._every = every
        self._sampled = -math.inf

    def saw(self, body: dict[str, Any] | None, at: float) -> bool:
        """Record one poll (``body`` None: no answer); True once ready."""
        self.polls += 1
        if body is None:
            return False
        t = round(at - self.zero, 2)
        if self.answered is None:
            self.answered = t
        catch_up = body.get("catch_up")
        phase = catch_up.get("phase") if isinstance(catch_up, dict) else None
        if isinstance(catch_up, dict) and isinstance(phase, str):
            seen = self.phases.setdefault(
                phase, {"first_s": t, "first_remaining": catch_up.get("remaining"), "polls": 0}
            )
            seen.update(last_s=t, polls=seen["polls"] + 1)
            seen.update({k: catch_up[k] for k in ("remaining", "per_s", "eta_s") if k in catch_up})
        ready = bool(body.get("ready"))
        if ready or t - self._sampled >= self._every:
            self._sampled = t
            views = body.get("views") or {}
            position = next(iter(views.values()), {}).get("position") if views else None
            self.timeline.append({
                "t": t, "ready": ready, "phase": phase,
                "remaining": catch_up.get("remaining") if isinstance(catch_up, dict) else None,
                "views_position": sum(position) if position else None,
                "log_seq": body.get("log_seq"),
            })  # fmt: skip
        if ready and self.ready is None:
            self.ready = t
        return ready

    def split(self) -> list[Figures]:
        """The phases in the order they began, each lasting until the next
        began (the last until ready)."""
        order = sorted(self.phases.items(), key=lambda item: item[1]["first_s"])
        if not order:
            return []
        ends = [f["first_s"] for _, f in order[1:]] + [self.ready]
        return [
            {"phase": name, "from_s": f["first_s"], "to_s": end}
            for (name, f), end in zip(order, ends, strict=True)
        ]

    def figures(self) -> Figures:
        return {
            "ready_s": self.ready,
            "first_answer_s": self.answered,
            "polls": self.polls,
            "phases": self.phases,
            "phase_split": self.split(),
            "timeline": self.timeline,
        }


def health(client: httpx.Client, headers: dict[str, str]) -> dict[str, Any] | None:
    """The health answer, or None while nothing answers (or not in JSON)."""
    try:
        body: dict[str, Any] = client.get("/v1/health", headers=headers).json()
    except (httpx.TransportError, ValueError):
        return None
    return body


def watch(
    url: str,
    headers: dict[str, str],
    zero: float,
    process: subprocess.Popen[bytes],
    *,
    poll: float = 0.1,
    timeout: float = 3600.0,
) -> CatchUp:
    """Poll ``url``'s health every ``poll`` seconds until it says ready;
    raise if ``process`` ends first or ``timeout`` passes."""
    seen = CatchUp(zero)
    with httpx.Client(base_url=url, timeout=5) as client:
        while not seen.saw(health(client, headers), time.monotonic()):
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}) before ready")
            if time.monotonic() - zero > timeout:
                raise TimeoutError(f"{url} not ready after {timeout} s")
            time.sleep(poll)
    return seen


def appeared(path: Path, zero: float, timeout: float) -> float:
    """Seconds after ``zero`` by which ``path`` existed (polled every 0.1 s)."""
    while not path.exists():
        if time.monotonic() - zero > timeout:
            raise TimeoutError(f"no {path.name} after {timeout} s")
        time.sleep(0.1)
    return round(time.monotonic() - zero, 2)
