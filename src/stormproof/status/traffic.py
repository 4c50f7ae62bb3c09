"""People's requests as a prober reports them: how many this region served
per component since the last round, how many failed, how many writes were
acknowledged late (delayed), who was touched by either, and how many
distinct people it served in the last 15 minutes (ADR 020, 025).

The API's edge feeds a :class:`Traffic` (``api/traffic.py``); the prober
takes its figures once a round. Probes' own requests are never counted. Its
memory is bounded: six sets of counters, at most :data:`MAX_TOUCHED`
people touched per component a round (past that, counts of them are
floors), and at most ``max_people`` people remembered (past that the
active count is a floor).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable

from stormproof.events import COMPONENTS, MAX_TOUCHED, Component, RequestsCounted

__all__ = ["ACTIVE_WINDOW_S", "Traffic", "component_of"]

#: "active people" are those served within this many seconds
ACTIVE_WINDOW_S = 15 * 60

_PLAYBACK = re.compile(r"/v1/videos/[^/]+/file")
_COMMENT = re.compile(r"/v1/videos/[^/]+/comments")
_CONVERSATION = re.compile(r"/v1/conversations(/[^/]+/messages)?")
_TUS_UPLOAD = re.compile(r"/v1/uploads/[^/]+")


def component_of(method: str, path: str) -> Component | None:
    """The component a request exercises, if it is one a prober checks.
    Uploads are a single ``POST /v1/videos`` and a resumable (tus) upload's
    creation and chunks (``POST /v1/uploads``, ``PATCH /v1/uploads/{id}``):
    the writes a creator waits on. Asking where an upload stands (``HEAD``),
    its description and its end are not counted: a failed chunk already
    counted, and its client asks again."""
    path = path.rstrip("/")
    if method == "PATCH":
        return "uploads" if _TUS_UPLOAD.fullmatch(path) else None
    if method == "POST":
        if path == "/v1/sessions":
            return "sign_in"
        if path == "/v1/events" or _COMMENT.fullmatch(path):
            return "interactions"
        if path == "/v1/messages":
            return "messages"
        if path in ("/v1/videos", "/v1/uploads"):
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
        self._start_round()
        #: user id -> when last served, least recently served first
        self._people: OrderedDict[str, float] = OrderedDict()

    def _start_round(self) -> None:
        self._requests = dict.fromkeys(COMPONENTS, 0)
        self._errors = dict.fromkeys(COMPONENTS, 0)
        self._delayed = dict.fromkeys(COMPONENTS, 0)
        #: per component, the people whose requests failed or were delayed
        #: this round, in the order first touched (dict keys: an ordered set)
        self._touched: dict[Component, dict[str, None]] = {c: {} for c in COMPONENTS}

    def served(
        self,
        component: Component,
        *,
        failed: bool,
        delayed: bool = False,
        person: str | None = None,
    ) -> None:
        """A request of ``component`` was answered (``failed``: 5xx, or not
        at all; ``delayed``: a write acknowledged late), for ``person`` if
        the request said who."""
        self._requests[component] += 1
        if failed:
            self._errors[component] += 1
        elif delayed:
            self._delayed[component] += 1
        touched = self._touched[component]
        if (failed or delayed) and person is not None and len(touched) < MAX_TOUCHED:
            touched[person] = None

    def saw(self, user_id: str) -> None:
        """A signed-in person was served."""
        self._people[user_id] = self._clock()
        self._people.move_to_end(user_id)
        while len(self._people) > self.max_people:
            self._people.popitem(last=False)

    def take(self) -> tuple[RequestsCounted, ...]:
        """Every component's counts since the last call, which start again at 0."""
        counted = tuple(
            RequestsCounted(
                component=c,
                requests=self._requests[c],
                errors=self._errors[c],
                delayed=self._delayed[c],
                touched=tuple(self._touched[c]),
            )
            for c in COMPONENTS
        )
        self._start_round()
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
