"""What the drill's simulated people did, one record per operation.

Every action a simulated person takes is one :class:`Op`: what it was, who did
it, when it started and ended (seconds since the drill began), how it came
out, and — for writes — the key that finds it again when every region is read
back at the end. The runner records them, the report aggregates them per
second and per kind, the checker classifies the writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KINDS", "WRITE_KINDS", "Op", "Outcome"]

#: every kind of operation, in the order the report lists them
KINDS = (
    "feed",  # GET a For You page
    "watch",  # POST a watch report (POST /v1/events, type watch)
    "like",
    "share",
    "not_interested",
    "comment",
    "follow",
    "message",  # POST /v1/messages
    "delivery",  # a sent message arriving on the recipient's live stream
    "upload",
    "playback",  # GET a video's bytes
)
#: the kinds that write to the log, and so are checked for loss
WRITE_KINDS = ("watch", "like", "share", "not_interested", "comment", "follow", "message", "upload")

#: ``ok``: answered with success; ``failed``: a definite 4xx/5xx answer;
#: ``unknown``: no answer (it may or may not have happened); ``pending``: not over
Outcome = Literal["ok", "failed", "unknown", "pending"]


@dataclass
class Op:
    kind: str
    person: str
    #: seconds since the drill's clock started
    started: float
    ended: float = 0.0
    outcome: Outcome = "pending"
    #: the region that answered (its name), "" if none did
    region: str = ""
    #: the error code of a failed answer (``no_quorum``, ``http_503``...)
    code: str = ""
    #: for writes: what finds it again — the message or comment text, the
    #: upload's caption, ``"<video_id>"`` for a like / share / watch /
    #: not interested, the followed username for a follow
    key: str = ""
    #: for writes whose key is not unique on its own: the target, e.g. the
    #: recipient of a message, the video a comment is on
    target: str = ""

    @property
    def latency(self) -> float:
        return self.ended - self.started
