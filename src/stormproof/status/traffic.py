"""People's requests as a prober reports them: how many this region served
per component since the last round, how many failed, and how many distinct
people it served in the last 15 minutes (ADR 020).

The API's edge feeds a :class:`Traffic` (``api/traffic.py``); the prober
takes its figures once a round. Probes' own requests are never counted. Its
memory is bounded: six pairs of counters, and at most ``max_people``
people remembered (past that the active count is a floor).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable

from stormproof.events import COMPONENTS, Component, RequestsCounted

__all__ = ["ACTIVE_WINDOW_S", "Traffic", "component_of"]

#: "active people" are those served within this many seconds
ACTIVE_WINDOW_S = 15 * 60

_PLAYBACK = re.compile(r"/v1/videos/[^/]+/file")
_COMMENT = re.compile(r"/v1/videos/[^/]+/comments")
_CONVERSATION = re.compile(r"/v1/conversations(/[^/]+/messages)?")


def component_of(method: str, path: str) -> Component | None:
    """The component a request exercises, if it is one a prober checks."""
    path = path.rstrip("/")
    if method == "POST":
        if path == "/v1/sessions":
            return "sign_in"
        if path == "/v1/events" or _COMMENT.fullmatch(path):
            return "interactions"
        if path == "/v1/messages":
            return "messages"
        if path == "/v1/videos":
            return "uploads"
    elif method in ("GET", "HEAD"):
        if path == "/v1/feed/for-you":
            return "for_you"
        if _PLAYBACK.fullmatch(path):
            return "playback"
        if path == "/v1/messages/stream" or _CONVERSATION.fullmatch(path):
            return "messages"
    return None


class Traffic:
    """Counters of people's requests, per component, and the people served."""

    def __init__(
        self, max_people: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_people = max_people
        self._clock = clock
        self._requests = dict.fromkeys(COMPONENTS, 0)
        self._errors = dict.fromkeys(COMPONENTS, 0)
        #: user id -> when last served, least recently served first
        self._people: OrderedDict[str, float] = OrderedDict()

    def served(self, component: Component, *, failed: bool) -> None:
        """A request of ``component`` was answered (``failed``: 5xx, or not at all)."""
        self._requests[component] += 1
        if failed:
            self._errors[component] += 1

    def saw(self, user_id: str) -> None:
        """A signed-in person was served."""
        self._people[user_id] = self._clock()
        self._people.move_to_end(user_id)
        while len(self._people) > self.max_people:
            self._people.popitem(last=False)

    def take(self) -> tuple[RequestsCounted, ...]:
        """Every component's counts since the last call, which start again at 0."""
        counted = tuple(
            RequestsCounted(component=c, requests=self._requests[c], errors=self._errors[c])
            for c in COMPONENTS
        )
        self._requests = dict.fromkeys(COMPONENTS, 0)
        self._errors = dict.fromkeys(COMPONENTS, 0)
        return counted

    def active_people(self) -> int:
        """Distinct people served in the last :data:`ACTIVE_WINDOW_S` seconds."""
        since = self._clock() - ACTIVE_WINDOW_S
        while self._people:
            user_id, at = next(iter(self._people.items()))
            if at >= since:
                break
            del self._people[user_id]
        return len(self._people)
