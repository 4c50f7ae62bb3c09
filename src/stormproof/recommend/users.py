"""Users of the For You engine: their state, and the users of an engine as a
mapping whose members from a checkpoint are decoded on first use.

A checkpoint keeps each user as the row :meth:`User.row` gives, encoded as
JSON. Decoding every row on load cost a Python object per signal before a
restarted region could answer (tens of seconds at a million log entries),
while a region serves few of its users in its first minutes: :class:`Users`
keeps the rows as they were read and decodes one when it is first asked for.
A user whose state never changed since is saved and digested from its row
as it was, byte for byte.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from stormproof.recommend.signals import Signal, Stamp
from stormproof.recommend.snapshot import Encoded

__all__ = ["Block", "User", "Users"]


@dataclass(frozen=True)
class Block:
    """A user's block of another: the latest block or unblock, and the
    latest block's stamp (kept after an unblock: it ended older follows)."""

    stamp: Stamp
    active: bool
    started: Stamp | None

    def merged(self, stamp: Stamp, active: bool) -> Block:
        latest = max(self, Block(stamp, active, None), key=lambda b: b.stamp)
        started = self.started
        if active and (started is None or stamp > started):
            started = stamp
        return Block(latest.stamp, latest.active, started)

    def ends(self, follow: Stamp) -> bool:
        """Whether this block hides a follow made at ``follow``."""
        return self.active or (self.started is not None and self.started[:2] > follow[:2])

    def as_list(self) -> list[Any]:
        started = None if self.started is None else list(self.started)
        return [*self.stamp, self.active, started]


@dataclass
class User:
    signals: dict[int, Signal] = field(default_factory=dict)
    #: engaged videos as (first contact, video id, index), in order
    timeline: list[tuple[int, str, int]] = field(default_factory=list)
    #: engaged video -> its first contact as placed in the timeline
    engaged: dict[int, int] = field(default_factory=dict)
    follows: dict[str, tuple[Stamp, bool]] = field(default_factory=dict)
    #: whom this user blocked (or unblocked)
    blocks: dict[str, Block] = field(default_factory=dict)
    reset_at: int = 0

    @classmethod
    def from_row(cls, row: list[Any], index: Callable[[str], int]) -> User:
        """The user a row of :meth:`~stormproof.recommend.engine.Engine.state`
        holds; ``index`` gives a video's index."""
        _, reset_at, follows, signals, blocks = row
        user = cls(reset_at=int(reset_at))
        for who, at, eid, idx, active in follows:
            user.follows[who] = ((at, eid, idx), active)
        for who, at, eid, idx, active, started in blocks:
            begun = None if started is None else (started[0], started[1], started[2])
            user.blocks[who] = Block((at, eid, idx), active, begun)
        for video_id, *saved in signals:
            item = index(video_id)
            signal = user.signals[item] = Signal.from_list(saved)
            if signal.flags().engaged:
                user.engaged[item] = signal.first_at
                user.timeline.append((signal.first_at, video_id, item))
        user.timeline.sort()
        return user


class Users:
    """Users by id. Those a checkpoint held stay encoded rows until first
    asked for (:meth:`saved`); :meth:`saved_rows` gives the rows as read.
    Decoding is locked, so two threads asking at once get the same user."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        #: users a checkpoint held -> their number among its rows
        self._saved: dict[str, int] = {}
        self._bounds: list[int] = [0]
        self._rows = memoryview(b"")
        #: users delta checkpoints saved after the base: their rows there
        self._later: dict[str, Encoded] = {}
        self._index: Callable[[str], int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def saved(
        cls,
        user_ids: list[str],
        bounds: npt.NDArray[np.int64],
        rows: npt.NDArray[np.uint8],
        index: Callable[[str], int],
        later: dict[str, Encoded] | None = None,
    ) -> Users:
        """Users whose rows, as :meth:`~stormproof.recommend.engine.Engine.state`
        encodes them, lie one after another in ``rows``: user ``k`` from
        ``bounds[k]`` to ``bounds[k + 1]``. ``index`` gives a video's index.
        ``later``: rows saved since (delta checkpoints), which take the place
        of those in ``rows``. Bounds that do not fit raise ``ValueError``."""
        if len(bounds) != len(user_ids) + 1 or bounds[0] != 0 or bounds[-1] != len(rows):
            raise ValueError("checkpoint users and their bounds do not fit")
        if (np.diff(bounds) < 0).any():
            raise ValueError("checkpoint user bounds go backwards")
        users = cls()
        users._saved = dict(zip(user_ids, range(len(user_ids)), strict=True))
        users._bounds = bounds.tolist()
        users._rows = rows.data
        users._index = index
        users._later = later or {}
        return users

    def _row(self, k: int) -> Encoded:
        return Encoded(self._rows[self._bounds[k] : self._bounds[k + 1]])

    def _saved_row(self, user_id: str) -> Encoded | None:
        later = self._later.get(user_id)
        if later is not None:
            return later
        k = self._saved.get(user_id)
        return None if k is None else self._row(k)

    @overload
    def get(self, user_id: str) -> User | None: ...
    @overload
    def get(self, user_id: str, default: User) -> User: ...
    def get(self, user_id: str, default: User | None = None) -> User | None:
        found = self._users.get(user_id)
        if found is not None:
            return found
        saved = self._saved_row(user_id)
        if saved is None:
            return default
        with self._lock:
            found = self._users.get(user_id)
            if found is None:
                assert self._index is not None
                row = json.loads(saved)
                found = self._users[user_id] = User.from_row(row, self._index)
            return found

    def __getitem__(self, user_id: str) -> User:
        found = self.get(user_id)
        if found is None:
            raise KeyError(user_id)
        return found

    def __setitem__(self, user_id: str, user: User) -> None:
        self._users[user_id] = user

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._users.keys() | self._saved.keys() | self._later.keys()))

    def values(self) -> Iterator[User]:
        """Every user, decoding those not decoded yet."""
        return (self[user_id] for user_id in self)

    def saved_rows(self) -> Iterator[tuple[str, Encoded]]:
        """(user id, encoded row) of every user a checkpoint held, as read
        (from the latest delta that saved the user, if one did)."""
        later = self._later
        for user_id, k in self._saved.items():
            if user_id not in later:
                yield user_id, self._row(k)
        yield from later.items()
