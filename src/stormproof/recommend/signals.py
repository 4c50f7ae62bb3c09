"""What one user did with one video, merged so that arrival order does not matter.

A :class:`Signal` only adds (counts), takes minimums and maximums (times,
the hide flag) or keeps the latest by ``(at, event id, position in batch)``
(like / unlike) — every field reaches the same value whatever order the
events come in. Everything the engine derives from it (is it engaged? how
strong is it?) is a function of those fields alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["COMPLETION", "FLAGS", "SHARE", "VIEW", "Flags", "Signal"]

#: one order-free stamp: (at, event id, position in the batch)
Stamp = tuple[int, str, int]

#: what a counting window (see :mod:`stormproof.views.engagement`) already
#: earned its video's trending points for, as bits of ``Signal.credited``
VIEW, COMPLETION, SHARE = 1, 2, 4

#: the per-video counters, one per flag of :class:`Flags`, in this order
FLAGS = ("viewed", "completed", "liked", "shared", "commented", "skipped", "hidden", "engaged")


class Flags(NamedTuple):
    viewed: bool
    completed: bool
    liked: bool
    shared: bool
    commented: bool
    skipped: bool
    hidden: bool
    engaged: bool


@dataclass(slots=True)
class Signal:
    first_at: int
    last_at: int
    watches: int = 0
    watched_ms: int = 0
    completions: int = 0
    skips: int = 0
    shares: int = 0
    comments: int = 0
    hidden: bool = False
    #: the latest like or unlike: (stamp, active)
    like: tuple[Stamp, bool] | None = None
    #: counting window -> the bits (VIEW, COMPLETION, SHARE) credited in it:
    #: only ORed, so the same whatever the order
    credited: dict[int, int] = field(default_factory=dict)

    def touch(self, at: int) -> None:
        self.first_at = min(self.first_at, at)
        self.last_at = max(self.last_at, at)

    def credit(self, window: int, bits: int) -> int:
        """Mark ``bits`` credited in ``window``; return those that were not yet."""
        before = self.credited.get(window, 0)
        if bits & ~before:
            self.credited[window] = before | bits
        return bits & ~before

    def set_like(self, stamp: Stamp, active: bool) -> None:
        if self.like is None or stamp > self.like[0]:
            self.like = (stamp, active)

    @property
    def liked(self) -> bool:
        return self.like is not None and self.like[1]

    def flags(self) -> Flags:
        completed = self.completions > 0
        shared, commented = self.shares > 0, self.comments > 0
        engaged = not self.hidden and (completed or self.liked or shared or commented)
        return Flags(
            viewed=self.watches > 0 or self.skips > 0 or self.hidden,
            completed=completed,
            liked=self.liked,
            shared=shared,
            commented=commented,
            skipped=self.skips > 0,
            hidden=self.hidden,
            engaged=engaged,
        )

    def strength(self, duration_ms: int = 0) -> int:
        """How much this video says about the user's taste (0: nothing good);
        with the video's duration, watching at least half of it counts too."""
        if self.hidden:
            return 0
        watched_most = duration_ms > 0 and 2 * self.watched_ms >= duration_ms
        return (
            3 * (self.completions > 0)
            + 1 * (watched_most and self.completions == 0)
            + 1 * (self.watches > 1)  # a rewatch
            + 2 * self.liked
            + 3 * (self.shares > 0)
            + 1 * (self.comments > 0)
        )

    def dislike(self) -> int:
        """How much this video says the user does not want such things."""
        return 4 * self.hidden + (self.skips > 0 and self.completions == 0)

    def as_list(self) -> list[object]:
        like = None if self.like is None else [*self.like[0], self.like[1]]
        return [
            self.first_at, self.last_at, self.watches, self.watched_ms, self.completions,
            self.skips, self.shares, self.comments, self.hidden, like,
            sorted(self.credited.items()),
        ]  # fmt: skip

    @classmethod
    def from_list(cls, row: list[object]) -> Signal:
        like_row = row[9]
        like: tuple[Stamp, bool] | None = None
        if isinstance(like_row, list):
            at, eid, idx, active = like_row
            like = ((int(at), str(eid), int(idx)), bool(active))
        first_at, last_at, watches, watched_ms, completions, skips, shares, comments = (
            int(v)  # type: ignore[call-overload]
            for v in row[:8]
        )
        windows = row[10] if len(row) > 10 and isinstance(row[10], list) else []
        credited = {int(window): int(bits) for window, bits in windows}
        return cls(
            first_at, last_at, watches, watched_ms, completions, skips, shares, comments,
            hidden=bool(row[8]), like=like, credited=credited,
        )  # fmt: skip
