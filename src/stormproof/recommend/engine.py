"""The For You engine's state: a view of the log, kept in memory.

Every region applies the same events, but partitions interleave differently
in each one, and a user's own events may come out of time order. So the
state is a function of the *set* of events applied, never of their order:

- per (user, video), a :class:`~stormproof.recommend.signals.Signal` that
  only adds, takes minimums and maximums, or keeps the latest like;
- per video, integer counters of users per flag (viewed, completed, liked…),
  changed by the difference of a signal's flags before and after an event;
- co-engagement: for each user, every two videos they engaged with add to
  the pair's weight — more the closer they sit in the user's timeline
  (engaged videos ordered by first contact, then id): :func:`pair_weight`.
  An event that puts a video into the timeline, takes it out or moves it
  shifts the distances of the pairs around it, and those are adjusted too,
  so the weights always equal what the final timelines give;
- trending: integer points per video and time bucket — a view, a
  completion and a share earn points once per person, video and counting
  window (the engagement view's rule, ``Signal.credited`` remembers which),
  at the window's start, so repeating them adds nothing; points for the last
  ``buckets`` buckets before the latest bucket any interaction fell in; a
  ring of slots holds them (bucket mod ``buckets``), and an event for a
  bucket already out of that window is dropped — the same result as storing
  it and letting the window pass over it, whatever the order;
- uploads, deletions (recorded before their video arrives, too), follows
  (latest by stamp) and For You resets (the latest time);
- blocks (latest by stamp, and the latest start, as the blocks view keeps
  them): a follow counts only while no block stands between the pair and
  none started after it — :meth:`Engine.followees`, the rule of
  :mod:`stormproof.views.blocks`.

System accounts (a region's prober, ADR 020) are left out by their ids
(:func:`~stormproof.events.is_system`): nothing they do is applied — no
signal, counter, pair, trending point or follow — and their uploads never
become live, so they are never candidates. The id alone decides, so it holds
whatever order their events arrive in, and a checkpoint needs to keep nothing
more.

No float is ever accumulated. Item indexes are local to this process (first
seen first); anything that leaves the engine — digests, checkpoints, rankings —
goes by ids. Ranking lives in :mod:`stormproof.recommend.ranker`.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import operator
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stormproof.events import (
    MAX_TIME_MS,
    BlockStarted,
    BlockStopped,
    CommentPosted,
    FollowStarted,
    FollowStopped,
    ForYouReset,
    InteractionsRecorded,
    VideoDeleted,
    VideoUploaded,
    is_system,
)
from stormproof.log import Entry, Position
from stormproof.recommend.deltas import OnDisk, Unsaved
from stormproof.recommend.pairs import PairCounts
from stormproof.recommend.signals import COMPLETION, FLAGS, SHARE, VIEW, Flags, Signal, Stamp
from stormproof.recommend.snapshot import FORMAT, Encoded, PairTable, Snapshot
from stormproof.recommend.users import Block, User, Users
from stormproof.views.engagement import WINDOW_MS

__all__ = [
    "PAIR_WINDOW",
    "Block",
    "Engine",
    "EngineConfig",
    "Owners",
    "Slots",
    "StateCopy",
    "User",
    "pair_weight",
]

Ints = npt.NDArray[np.int64]
#: trending slots (bucket numbers, points): 32 bits halve the two arrays of 48
#: slots a video, which a start allocates whole and whose pages it faults in
Slots = npt.NDArray[np.int32]
#: a user as copied under the lock (reset time, follows, signals, blocks, not
#: yet ordered), or as a checkpoint kept it, already encoded
UserRow = tuple[int, list[Any], list[list[Any]], list[list[Any]]] | Encoded
_NO_FLAGS = Flags(*([False] * len(FLAGS)))
_third = operator.itemgetter(2)
#: trending points an interaction earns its video
_POINTS = {"watch": 1, "like": 3, "unlike": 3, "share": 4, "comment": 3}
_COMPLETED_BONUS = 2
#: what each bit a window is credited with earns
_CREDIT_POINTS = (
    (VIEW, _POINTS["watch"]),
    (COMPLETION, _COMPLETED_BONUS),
    (SHARE, _POINTS["share"]),
)


#: pair weight by distance in a timeline: 7 for neighbours, down to 1 past 30 apart
_WEIGHTS = (0, 7, 5, 4, 4, 4, 3, 3, 3, 3, 3, *([2] * 20))
#: how far apart two videos in one timeline may sit and still make a pair
PAIR_WINDOW = 200


def pair_weight(distance: int, window: int = PAIR_WINDOW) -> int:
    """What two engaged videos ``distance`` apart in one user's timeline add to
    their pair: one for sharing a user, more for sitting close (found by a
    sweep on time-ordered MovieLens; see docs/adr/009), nothing past
    ``window`` — so a user's pairs grow with the videos they engage with, not
    with its square (a bot engaging with everything cannot fill the memory)."""
    if distance > window:
        return 0
    return _WEIGHTS[distance] if distance < len(_WEIGHTS) else 1


def _encoded(user_id: str, row: UserRow) -> Encoded:
    """A user's row of :meth:`Engine.state`, encoded (as it came, if it did)."""
    if isinstance(row, Encoded):
        return row
    reset_at, follows, signals, blocks = row
    follows_rows = [[w, *s, a] for w, (s, a) in sorted(follows)]
    return Encoded.of([user_id, reset_at, follows_rows, sorted(signals), sorted(blocks)])


def _narrowed(array: Ints) -> npt.NDArray[Any]:
    """``array`` as 32-bit integers if they hold it: most of a delta
    checkpoint is pair cells, and their indexes and weights are small."""
    limit = np.iinfo(np.int32)
    if len(array) and (int(array.min()) < limit.min or int(array.max()) > limit.max):
        return array
    return array.astype(np.int32)


def _trend_rows(held: Slots, points: Slots, items: Ints) -> Ints:
    """The trending slots with points of the videos ``items`` (one row of
    ``held`` and ``points`` each), as a checkpoint keeps them: rows of
    (item, slot, bucket, points). An empty slot is zeros, and a slot whose
    points were taken back counts for as little: neither is written."""
    at, slots = np.nonzero(points != 0)
    return np.stack((items[at], slots, held[at, slots], points[at, slots]), axis=1).astype(np.int64)


def _steps(window: int) -> tuple[int, ...]:
    """The distances d at which the weight changes from d to d + 1."""
    return tuple(
        d for d in range(1, window + 1) if pair_weight(d + 1, window) != pair_weight(d, window)
    )


@dataclass(frozen=True)
class EngineConfig:
    #: trending counts points per bucket of this length, for this many buckets
    bucket_ms: int = 30 * 60 * 1000
    buckets: int = 48
    #: co-engagement: the farthest apart two videos of a timeline still pair
    pair_window: int = PAIR_WINDOW
    #: views, completions and shares earn trending points once per person,
    #: video and window of this length (the engagement view's counting window)
    count_window_ms: int = WINDOW_MS

    def __post_init__(self) -> None:
        if self.bucket_ms <= 0 or MAX_TIME_MS // self.bucket_ms >= 2**31:
            raise ValueError("bucket_ms too short: the latest bucket must fit in 32 bits")


class Owners:
    """Each creator's live videos, as item indexes. After a checkpoint is
    loaded (:meth:`saved`), a creator's list is made the first time it is
    asked for: making them all took seconds at a million log entries (most
    creators there have one video). Thread-safe: a list is made once."""

    def __init__(self) -> None:
        self._lists: dict[str, list[int]] = {}
        self._creator_index: dict[str, int] = {}
        self._bounds: list[int] = []
        self._order: Ints = np.zeros(0, dtype=np.int64)
        self._lock = threading.Lock()

    @classmethod
    def saved(
        cls, creator_index: dict[str, int], creator: Ints, live: npt.NDArray[np.bool_]
    ) -> Owners:
        """The lists of an engine whose videos' creators (numbers, per
        ``creator_index``) are ``creator`` and which are ``live``."""
        owners = cls()
        items = np.flatnonzero(live)
        owners._order = items[np.argsort(creator[items], kind="stable")]
        numbers = np.arange(len(creator_index) + 1)
        owners._bounds = np.searchsorted(creator[owners._order], numbers).tolist()
        owners._creator_index = creator_index
        return owners

    def videos_of(self, owner: str) -> list[int]:
        """The creator's live videos (do not change the list)."""
        found = self._lists.get(owner)
        if found is not None:
            return found
        with self._lock:
            found = self._lists.get(owner)
            if found is None:
                found = []
                number = self._creator_index.get(owner)
                if number is not None and number + 1 < len(self._bounds):
                    found = self._order[self._bounds[number] : self._bounds[number + 1]].tolist()
                self._lists[owner] = found
            return found

    def add(self, owner: str, item: int) -> None:
        self.videos_of(owner).append(item)

    def remove(self, owner: str, item: int) -> None:
        self.videos_of(owner).remove(item)


@dataclass(frozen=True)
class StateCopy:
    """The engine's state at ``position`` as copied under its lock, before
    ordering (:meth:`Engine.copy_state`)."""

    position: Position
    ids: list[str]
    item_rows: list[list[Any]]
    users: list[tuple[str, UserRow]]
    held: Slots
    points: Slots
    last_bucket: int
    #: a copy of the pair counts, to read without the lock
    pairs: PairCounts


class Engine:
    """For You state after a set of events; thread-safe through ``lock``.

    A :class:`~stormproof.views.store.Follower` of the view store."""

    name = "foryou"

    def __init__(self, config: EngineConfig | None = None, *, partitions: int = 1) -> None:
        self.config = config or EngineConfig()
        self._steps = _steps(self.config.pair_window)
        self.lock = threading.RLock()
        self.position: Position = (0,) * partitions
        #: bumped on every change: rankings cached against it stay exact
        self.version = 0
        self.item_ids: list[str] = []
        self._index: dict[str, int] = {}
        self.owner: list[str | None] = []
        self.duration_ms: list[int] = []
        #: per video: uploaded and not deleted; upload time; creator (index into
        #: ``creators``, -1 before the upload arrives) — arrays for the ranker
        self.live: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.born: Ints = np.zeros(0, dtype=np.int64)
        self.creator: Ints = np.zeros(0, dtype=np.int64)
        self.creators: list[str] = []
        self.creator_index: dict[str, int] = {}
        self._deletions: dict[int, set[str]] = {}
        self.by_owner = Owners()
        #: live videos as (upload time, video id, index), oldest first
        self.catalog: list[tuple[int, str, int]] = []
        self.counters: Ints = np.zeros((0, len(FLAGS)), dtype=np.int64)
        #: the counters summed over every video
        self.totals: Ints = np.zeros(len(FLAGS), dtype=np.int64)
        #: per video, a number from its id alone: breaks score ties the same everywhere
        self.tie: Ints = np.zeros(0, dtype=np.int64)
        self.users = Users()
        #: user -> who blocks them now (derived from ``User.blocks``, not state)
        self.blocked_by: dict[str, set[str]] = {}
        self.pairs = PairCounts()
        self.trend_bucket: Slots = np.zeros((0, self.config.buckets), dtype=np.int32)
        self.trend_points: Slots = np.zeros((0, self.config.buckets), dtype=np.int32)
        #: the latest bucket any interaction fell in: the window ends there
        self.last_bucket = -1
        #: how often each bucket changed — a cache key, not state
        self.bucket_versions: dict[int, int] = {}
        #: videos whose trending slots changed since trending last looked (not state)
        self.trend_changed: set[int] = set()
        #: results derived from the state, each stored with the key it is valid for
        self.cache: dict[str, tuple[Any, Any]] = {}
        #: rows of :meth:`state` as last taken, and what changed since: a
        #: snapshot re-copies only those, so it holds the lock briefly
        self._rows_users: dict[str, UserRow] = {}
        self._rows_items: dict[int, list[Any]] = {}
        self._dirty_users: set[str] = set()
        self._dirty_items: set[int] = set()
        #: the checkpoint on disk (a base and its deltas) that holds all but
        #: what changed since: the users ``_unsaved``, the videos
        #: ``_unsaved_items``, the people whose blockers changed
        #: ``_unsaved_blocked`` and the pair rows the pair table marks — a
        #: save encodes only those (:meth:`take_unsaved`)
        self.checkpoint_base: OnDisk | None = None
        self._unsaved: set[str] = set()
        self._unsaved_items: set[int] = set()
        self._unsaved_blocked: set[str] = set()

    # -- items and users ----------------------------------------------------

    def index(self, video_id: str) -> int:
        """The local index of a video, registering it on first sight."""
        found = self._index.get(video_id)
        if found is not None:
            return found
        n = len(self.item_ids)
        self._index[video_id] = n
        self._dirty_items.add(n)
        self._unsaved_items.add(n)
        self.item_ids.append(video_id)
        self.owner.append(None)
        self.duration_ms.append(0)
        if n >= len(self.counters):
            grow = max(64, n)
            self.counters = np.vstack((self.counters, np.zeros((grow, len(FLAGS)), np.int64)))
            empty = np.zeros((grow, self.config.buckets), dtype=np.int32)
            self.trend_bucket = np.vstack((self.trend_bucket, empty))
            self.trend_points = np.vstack((self.trend_points, empty))
            self.tie = np.concatenate((self.tie, np.zeros(grow, dtype=np.int64)))
            self.live = np.concatenate((self.live, np.zeros(grow, dtype=bool)))
            self.born = np.concatenate((self.born, np.zeros(grow, dtype=np.int64)))
            self.creator = np.concatenate((self.creator, np.full(grow, -1, dtype=np.int64)))
        digest = hashlib.blake2b(video_id.encode(), digest_size=8).digest()
        self.tie[n] = int.from_bytes(digest, "big") >> 1
        return n

    def find(self, video_id: str) -> int | None:
        return self._index.get(video_id)

    def user(self, user_id: str) -> User:
        """A user's state, to change: marks it for the next snapshot and
        the next checkpoint."""
        self._dirty_users.add(user_id)
        self._unsaved.add(user_id)
        found = self.users.get(user_id)
        if found is None:
            found = self.users[user_id] = User()
        return found

    # -- applying the log ---------------------------------------------------

    def apply(self, entries: Sequence[Entry], position: Position) -> None:
        """Apply entries the views found new (not a second copy of a write),
        then stand at ``position``. Entries at or below the engine's own
        position were applied before (a checkpoint holds them) and are skipped."""
        with self.lock:
            for entry in entries:
                if entry.seq <= self.position[entry.partition]:
                    continue
                self.apply_event(entry)
            self.position = tuple(max(a, b) for a, b in zip(self.position, position, strict=True))

    def apply_event(self, entry: Entry) -> None:
        event, p = entry.event, entry.event.data
        actor, at = event.actor, event.at
        if is_system(actor):
            return  # a prober's doing counts nowhere (its uploads included)
        if isinstance(p, InteractionsRecorded):
            for n, item in enumerate(p.items):
                stamp = (at, event.id, n)
                kind = item.type
                self.interact(actor, item.video_id, kind, stamp, item.watched_ms, item.completed)
        elif isinstance(p, VideoUploaded):
            if not is_system(p.owner_id):
                self.upload(p.video_id, p.owner_id, at, p.duration_ms)
        elif isinstance(p, VideoDeleted):
            self.delete(p.video_id, actor)
        elif isinstance(p, CommentPosted):
            self.interact(actor, p.video_id, "comment", (at, event.id, 0))
        elif isinstance(p, FollowStarted | FollowStopped):
            if is_system(p.followee_id):
                return
            active = isinstance(p, FollowStarted)
            self.follow(actor, p.followee_id, (at, event.id, 0), active)
        elif isinstance(p, ForYouReset):
            self.reset(actor, at)
        elif isinstance(p, BlockStarted | BlockStopped):
            active = isinstance(p, BlockStarted)
            self.block(actor, p.blocked_id, (at, event.id, 0), active)

    def upload(
        self, video_id: str, owner: str, at: int, duration_ms: int, *, in_order: bool = True
    ) -> None:
        """A video is live. ``in_order=False`` appends it to the catalog
        unsorted: whoever does that (:meth:`from_state`) sorts it once after."""
        item = self.index(video_id)
        if self.owner[item] is not None:
            return
        self._dirty_items.add(item)
        self._unsaved_items.add(item)
        self.owner[item], self.duration_ms[item] = owner, duration_ms
        self.born[item] = at
        self.creator[item] = self.creator_index.setdefault(owner, len(self.creators))
        if self.creator[item] == len(self.creators):
            self.creators.append(owner)
        if owner in self._deletions.get(item, ()):
            return
        self.live[item] = True
        self.by_owner.add(owner, item)
        if in_order:
            bisect.insort(self.catalog, (at, video_id, item))
        else:
            self.catalog.append((at, video_id, item))
        self.version += 1

    def delete(self, video_id: str, actor: str) -> None:
        item = self.index(video_id)
        self._dirty_items.add(item)
        self._unsaved_items.add(item)
        self._deletions.setdefault(item, set()).add(actor)
        if self.live[item] and self.owner[item] == actor:
            self.live[item] = False
            self.by_owner.remove(actor, item)
            self.catalog.remove((int(self.born[item]), video_id, item))
            self.version += 1

    def follow(self, user_id: str, followee: str, stamp: Stamp, active: bool) -> None:
        follows = self.user(user_id).follows
        if followee not in follows or stamp > follows[followee][0]:
            follows[followee] = (stamp, active)
            self.version += 1

    def block(self, user_id: str, other: str, stamp: Stamp, active: bool) -> None:
        if user_id == other:
            return
        blocks = self.user(user_id).blocks
        found = blocks.get(other)
        block = (
            found.merged(stamp, active)
            if found
            else Block(stamp, active, stamp if active else None)
        )
        blocks[other] = block
        self._blocked_by(user_id, other, block.active)
        self.version += 1

    def _blocked_by(self, user_id: str, other: str, active: bool) -> None:
        self._unsaved_blocked.add(other)
        if active:
            self.blocked_by.setdefault(other, set()).add(user_id)
        else:
            self.blocked_by.get(other, set()).discard(user_id)

    def hidden_creators(self, user_id: str) -> set[str]:
        """Whose videos a user never gets: those they block and those who block them."""
        u = self.users.get(user_id)
        mine = {who for who, block in u.blocks.items() if block.active} if u else set()
        return mine | self.blocked_by.get(user_id, set())

    def followees(self, user_id: str) -> set[str]:
        """Whom a user follows: an active follow no block ended (either way)."""
        u = self.users.get(user_id)
        if u is None:
            return set()
        found = set()
        for who, (stamp, active) in u.follows.items():
            theirs = self.users.get(who)
            blocks = (u.blocks.get(who), theirs.blocks.get(user_id) if theirs else None)
            if active and not any(b is not None and b.ends(stamp) for b in blocks):
                found.add(who)
        return found

    def reset(self, user_id: str, at: int) -> None:
        state = self.user(user_id)
        state.reset_at = max(state.reset_at, at)
        self.version += 1

    def interact(
        self,
        user_id: str,
        video_id: str,
        kind: str,
        stamp: Stamp,
        watched_ms: int = 0,
        completed: bool = False,
    ) -> None:
        """One interaction: watch, like, unlike, share, skip, not_interested, comment."""
        item, at = self.index(video_id), stamp[0]
        self._unsaved_items.add(item)  # its counters or trending slots may change
        self.last_bucket = max(self.last_bucket, at // self.config.bucket_ms)
        state = self.user(user_id)
        signal = state.signals.get(item)
        before, first_before = (signal.flags(), signal.first_at) if signal else (_NO_FLAGS, at)
        if signal is None:
            signal = state.signals[item] = Signal(at, at)
        signal.touch(at)
        like_before = signal.like
        if kind == "watch":
            signal.watches += 1
            signal.watched_ms += watched_ms
            signal.completions += completed
        elif kind in ("like", "unlike"):
            signal.set_like(stamp, kind == "like")
        elif kind == "share":
            signal.shares += 1
        elif kind == "comment":
            signal.comments += 1
        elif kind == "skip":
            signal.skips += 1
        elif kind == "not_interested":
            signal.hidden = True
        after = signal.flags()
        if after != before:
            delta = np.array(after, dtype=np.int64) - np.array(before, dtype=np.int64)
            self.counters[item] += delta
            self.totals += delta
        if (before.engaged, first_before) != (after.engaged, signal.first_at):
            self._pair(state, item, before.engaged, first_before, after.engaged, signal.first_at)
        points = _POINTS.get(kind, 0)
        if kind in ("watch", "share"):
            # Once per window: its first view, completion or share earns the
            # points, placed at the window's start whichever event came first.
            window = at // self.config.count_window_ms
            bits = SHARE if kind == "share" else VIEW | (COMPLETION if completed else 0)
            new = signal.credit(window, bits)
            points = sum(value for bit, value in _CREDIT_POINTS if new & bit)
            at = window * self.config.count_window_ms
        elif kind in ("like", "unlike"):
            # A like counts where the latest like stamp puts it, and only while it
            # stands — so an unlike takes it back, in any arrival order.
            if like_before is not None and like_before[1]:
                self._trend(item, like_before[0][0] // self.config.bucket_ms, -points)
            points = points if signal.liked else 0
            at = signal.like[0][0] if signal.like is not None else at
        if points:
            self._trend(item, at // self.config.bucket_ms, points)
        self.version += 1

    def _pair(self, state: User, item: int, was: bool, t0: int, now: bool, t1: int) -> None:
        """Move ``item`` in the user's timeline: out of (t0) if ``was``, into
        (t1) if ``now`` — keeping every pair weight exact."""
        video_id = self.item_ids[item]
        if was:
            at = bisect.bisect_left(state.timeline, (t0, video_id, item))
            del state.timeline[at]
            del state.engaged[item]
            self._link(state.timeline, at, item, -1)
        if now:
            at = bisect.bisect_left(state.timeline, (t1, video_id, item))
            self._link(state.timeline, at, item, +1)
            state.timeline.insert(at, (t1, video_id, item))
            state.engaged[item] = t1

    def _link(self, timeline: list[tuple[int, str, int]], at: int, item: int, sign: int) -> None:
        """Add (sign +1) or take back (-1) the pairs ``item`` makes at position
        ``at`` of ``timeline`` (which does not hold it), and the change of the
        pairs that straddle it, one step further apart with it there."""
        add = self.pairs.add
        size, window = len(timeline), self.config.pair_window
        # Every pair below lies within ``window`` of ``at``: those rows change.
        self.pairs.mark((item,))
        self.pairs.mark(map(_third, timeline[max(0, at - window) : min(size, at + window)]))
        for distance in self._steps:
            step = sign * (pair_weight(distance + 1, window) - pair_weight(distance, window))
            for a in range(max(0, at - distance), min(at, size - distance)):
                add(timeline[a][2], timeline[a + distance][2], step)
        # Only the positions within the window of ``at``: O(window), not O(timeline).
        for position in range(max(0, at - window), min(size, at + window)):
            distance = at - position if position < at else position + 1 - at
            add(item, timeline[position][2], sign * pair_weight(distance, window))

    def _trend(self, item: int, bucket: int, points: int) -> None:
        if bucket <= self.last_bucket - self.config.buckets:
            return  # the window has passed this bucket
        slot = bucket % self.config.buckets
        if self.trend_bucket[item, slot] != bucket:  # empty, or a bucket the window passed
            self.trend_bucket[item, slot] = bucket
            self.trend_points[item, slot] = 0
        self.trend_points[item, slot] += points
        self.bucket_versions[bucket] = self.bucket_versions.get(bucket, 0) + 1
        self.trend_changed.add(item)

    # -- state as data: digest and checkpoints --------------------------------

    def state(self) -> Snapshot:
        """The whole state as data ordered by ids: equal engines give equal
        snapshots, whatever order they applied events in."""
        return self.state_at()[0]

    def state_at(self) -> tuple[Snapshot, Position]:
        """:meth:`state` and the position it stands at. Only copying happens
        under the lock (tens of milliseconds once the first snapshot is
        cached); ordering, which takes longer, happens after: a caller must
        not hold the lock around this, or every write waits for it."""
        copied = self.copy_state()
        return self.order_state(copied), copied.position

    def _user_row(self, user_id: str) -> UserRow:
        """A user's row of :meth:`state`, not yet ordered or encoded."""
        u, ids = self.users[user_id], self.item_ids
        signals = [[ids[i], *sig.as_list()] for i, sig in u.signals.items()]
        blocks = [[who, *block.as_list()] for who, block in u.blocks.items()]
        return (u.reset_at, list(u.follows.items()), signals, blocks)

    def copy_state(self, *, items: bool = True, users: Collection[str] | None = None) -> StateCopy:
        """What :meth:`order_state` needs, copied under the lock: rows of
        users and videos changed since the last copy are rebuilt, the rest
        reused. ``items=False`` leaves the videos' rows out (a checkpoint
        keeps videos as arrays): after a load every video's row is still to
        be made, seconds at a million entries. ``users`` copies only those
        users' rows, made afresh, and leaves what the next copy reuses as it
        is (a checkpoint that takes the other users from the last one)."""
        with self.lock:
            position = self.position
            ids = list(self.item_ids)
            if items:
                for i in self._dirty_items:
                    self._rows_items[i] = [
                        ids[i], self.owner[i], int(self.born[i]), self.duration_ms[i],
                        sorted(self._deletions.get(i, ())),
                    ]  # fmt: skip
                self._dirty_items.clear()
            item_rows = list(self._rows_items.values()) if items else []
            found: dict[str, UserRow] = {}
            if users is None:
                for user_id in self._dirty_users:
                    self._rows_users[user_id] = self._user_row(user_id)
                self._dirty_users.clear()
                # Users a checkpoint held and nothing changed since: their rows as read.
                found.update(self.users.saved_rows())
                found.update(self._rows_users)  # rows are never changed, only replaced
            else:
                found.update((user_id, self._user_row(user_id)) for user_id in users)
            n = len(ids)
            held = self.trend_bucket[:n].copy()
            points = self.trend_points[:n].copy()
            last_bucket = self.last_bucket
            rows = self.pairs.copied()
        copied = list(found.items())
        return StateCopy(position, ids, item_rows, copied, held, points, last_bucket, rows)

    def order_state(self, copied: StateCopy) -> Snapshot:
        """The snapshot of a :meth:`copy_state`, ordered by id; reads nothing
        else of the engine but its configuration, so it runs without the lock."""
        ids, held, points, last_bucket = copied.ids, copied.held, copied.points, copied.last_bucket
        n = len(ids)
        by_id = sorted(range(n), key=ids.__getitem__)
        items = sorted(copied.item_rows, key=lambda row: str(row[0]))
        ordered = sorted(copied.users, key=lambda c: c[0])
        users = [_encoded(user_id, row) for user_id, row in ordered]
        kept = (held > last_bucket - self.config.buckets) & (points != 0)
        trend = []
        has = kept.any(axis=1).tolist()
        for i in by_id:
            if has[i]:
                mine = kept[i]
                slots = zip(held[i][mine].tolist(), points[i][mine].tolist(), strict=True)
                trend.append([ids[i], [list(slot) for slot in sorted(slots)]])
        data = {"format": FORMAT, "items": items, "users": users,
                "last_bucket": last_bucket, "trend": trend}  # fmt: skip
        return Snapshot(data, PairTable.of(ids, by_id, list(copied.pairs.rows())))

    def digest(self) -> str:
        """SHA-256 of :meth:`state`: equal in every region at equal positions."""
        return self.state().digest()

    @classmethod
    def from_state(
        cls,
        snapshot: Snapshot,
        position: Position,
        config: EngineConfig | None = None,
    ) -> Engine:
        """An engine holding ``snapshot`` (from :meth:`state`) at ``position``."""
        state = snapshot.data
        if state.get("format") != FORMAT:
            raise ValueError(f"engine state format {state.get('format')!r}, expected {FORMAT}")
        engine = cls(config, partitions=len(position))
        engine.position = tuple(position)
        for video_id, owner, created_at, duration_ms, deleted_by in state["items"]:
            item = engine.index(video_id)
            if deleted_by:
                engine._deletions[item] = set(deleted_by)
            if owner is not None:
                # One sort at the end: inserting each in order moved half the
                # catalog per video (quadratic: seconds at 100,000 videos).
                engine.upload(video_id, owner, created_at, duration_ms, in_order=False)
        engine.catalog.sort()
        signal_items: list[int] = []
        signal_flags: list[Flags] = []
        for saved in state["users"]:
            row = json.loads(saved) if isinstance(saved, Encoded) else saved
            user_id = row[0]
            engine._dirty_users.add(user_id)
            u = engine.users[user_id] = User.from_row(row, engine.index)
            for who, block in u.blocks.items():
                engine._blocked_by(user_id, who, block.active)
            for item, signal in u.signals.items():
                signal_items.append(item)
                signal_flags.append(signal.flags())
        if signal_items:  # every signal's flags counted at once, not one array each
            flags_by_signal = np.array(signal_flags, dtype=np.int64)
            np.add.at(engine.counters, np.array(signal_items, dtype=np.int64), flags_by_signal)
            engine.totals += flags_by_signal.sum(axis=0)
        engine.last_bucket = state["last_bucket"]
        for video_id, slots in state["trend"]:
            item = engine.index(video_id)
            for bucket, points in slots:
                slot = bucket % engine.config.buckets
                engine.trend_bucket[item, slot] = bucket
                engine.trend_points[item, slot] = points
        table = snapshot.pairs
        local = np.array([engine.index(video_id) for video_id in table.ids], dtype=np.int64)
        rows, cols, vals = local[table.rows], local[table.cols], table.vals
        bounds = np.flatnonzero(np.diff(rows)) + 1
        for start, stop in zip([0, *bounds.tolist()], [*bounds.tolist(), len(rows)], strict=True):
            if stop > start:
                order = np.argsort(cols[start:stop])
                cells = cols[start:stop][order], vals[start:stop][order]
                engine.pairs.set_row(int(rows[start]), *cells)
        engine.version = 1
        return engine

    # -- checkpoints: the state as arrays ---------------------------------------

    def take_unsaved(self) -> Unsaved:
        """What changed since the checkpoint on disk, marked as saved from
        now on (call under the lock, as the save's copy is taken); give it
        back with :meth:`unsaved` if that save fails."""
        taken = Unsaved(
            self._unsaved, self._unsaved_items, self.pairs.take_unsaved(), self._unsaved_blocked
        )
        self._unsaved, self._unsaved_items, self._unsaved_blocked = set(), set(), set()
        return taken

    def saved(self, on_disk: OnDisk | None) -> None:
        """The checkpoint ``on_disk`` now holds the state at its position:
        all but what changed since it was copied (None: none can be relied
        on, the next save is a whole one)."""
        with self.lock:
            self.checkpoint_base = on_disk

    def unsaved(self, taken: Unsaved) -> None:
        """What a failed save took: the next save writes it again."""
        with self.lock:
            self._unsaved.update(taken.users)
            self._unsaved_items.update(taken.items)
            self._unsaved_blocked.update(taken.blocked)
            self.pairs.unsaved(taken.pair_rows)

    def delta_parts(
        self, taken: Unsaved, since: OnDisk
    ) -> tuple[Position, dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """What changed since the checkpoint ``since`` (``taken``), as a
        delta checkpoint keeps it (:mod:`~stormproof.recommend.deltas`):
        whole replacements of the videos', users' and pair rows changed, and
        the ids added. Costs what changed, not what exists (ADR 032)."""
        with self.lock:
            position = self.position
            n = len(self.item_ids)
            items = np.array(sorted(taken.items), dtype=np.int64)
            arrays: dict[str, npt.NDArray[Any]] = {
                "items": items,
                "creator": self.creator[items],
                "born": self.born[items],
                "duration_ms": np.array(self.duration_ms, dtype=np.int64)[items],
                "live": self.live[items],
                "tie": self.tie[items],
                "counters": self.counters[items],
            }
            held, points = self.trend_bucket[items], self.trend_points[items]
            deletions = self._deletions
            data: dict[str, Any] = {
                "items_from": since.items,
                "new_item_ids": self.item_ids[since.items : n],
                "creators_from": since.creators,
                "new_creators": self.creators[since.creators :],
                "deletions": {
                    str(i): sorted(deletions[i]) for i in items.tolist() if deletions.get(i)
                },
                "blocked_by": {
                    who: sorted(self.blocked_by.get(who, ())) for who in sorted(taken.blocked)
                },
                "last_bucket": self.last_bucket,
            }
            users = sorted(taken.users)
            rows = [self._user_row(user_id) for user_id in users]
            pairs = self.pairs.copied(taken.pair_rows)
        arrays["trend"] = _trend_rows(held, points, items)
        changed_rows = np.array(sorted(taken.pair_rows), dtype=np.int64)
        laid = pairs.arrays(changed_rows)
        for name, array in zip(("items", "bounds", "cols", "vals"), laid, strict=True):
            arrays[f"pair_{name}"] = _narrowed(array) if name in ("cols", "vals") else array
        encoded = [_encoded(user_id, row) for user_id, row in zip(users, rows, strict=True)]
        data["user_ids"] = users
        arrays["user_bounds"] = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
        arrays["user_rows"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return position, data, arrays

    def parts(
        self, unchanged: Mapping[str, Encoded] | None = None, changed: Collection[str] = ()
    ) -> tuple[Position, dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """The state as a checkpoint keeps it: the position, plain data, and
        arrays by name — what :meth:`from_parts` loads without a Python object
        per signal or per cell. Users are their encoded rows of :meth:`state`
        (decoded on first use after loading, :class:`Users`).

        Given ``unchanged`` — every user's row in an earlier checkpoint — and
        ``changed``, the users changed since it, only those are encoded; the
        others are taken as ``unchanged`` has them. So a save costs what
        changed since the last one, not what changed since the engine was
        loaded (the serving process never learns what a forked save encoded)."""
        with self.lock:
            copied = self.copy_state(items=False, users=None if unchanged is None else changed)
            n = len(copied.ids)
            arrays: dict[str, npt.NDArray[Any]] = {
                "creator": self.creator[:n].copy(),
                "born": self.born[:n].copy(),
                "duration_ms": np.array(self.duration_ms, dtype=np.int64),
                "live": self.live[:n].copy(),
                "tie": self.tie[:n].copy(),
                "counters": self.counters[:n].copy(),
                "catalog": np.array([item for _, _, item in self.catalog], dtype=np.int64),
            }
            data = {
                "item_ids": copied.ids,
                "creators": list(self.creators),
                "deletions": {str(i): sorted(who) for i, who in self._deletions.items()},
                "blocked_by": {who: sorted(by) for who, by in self.blocked_by.items() if by},
                "last_bucket": self.last_bucket,
            }
        arrays["trend"] = _trend_rows(copied.held, copied.points, np.arange(n, dtype=np.int64))
        pairs = copied.pairs.arrays()
        for name, array in zip(("items", "bounds", "cols", "vals"), pairs, strict=True):
            arrays[f"pair_{name}"] = array
        if unchanged is None:
            users = sorted(copied.users, key=lambda c: c[0])
            user_ids = [user_id for user_id, _ in users]
            encoded = [_encoded(user_id, row) for user_id, row in users]
        else:
            fresh = dict(copied.users)
            user_ids = sorted(unchanged.keys() | fresh.keys())
            encoded = [
                _encoded(user_id, fresh[user_id]) if user_id in fresh else unchanged[user_id]
                for user_id in user_ids
            ]
        data["user_ids"] = user_ids
        arrays["user_bounds"] = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
        arrays["user_rows"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return copied.position, data, arrays

    @classmethod
    def from_parts(
        cls,
        position: Position,
        data: dict[str, Any],
        arrays: dict[str, npt.NDArray[Any]],
        config: EngineConfig | None = None,
        later_users: dict[str, Encoded] | None = None,
        later_pairs: Sequence[Mapping[str, npt.NDArray[Any]]] = (),
    ) -> Engine:
        """The engine :meth:`parts` gave — with, after a base, the users and
        pair rows its delta checkpoints replace, in order
        (:func:`~stormproof.recommend.deltas.merged`). Damaged parts raise
        ``ValueError``, ``KeyError``, ``TypeError`` or ``IndexError``."""
        engine = cls(config, partitions=len(position))
        engine.position = tuple(position)
        ids: list[str] = [str(video_id) for video_id in data["item_ids"]]
        n = len(ids)
        engine.item_ids = ids
        engine._index = dict(zip(ids, range(n), strict=True))
        engine.creators = [str(who) for who in data["creators"]]
        engine.creator_index = dict(zip(engine.creators, range(len(engine.creators)), strict=True))

        def column(name: str, dtype: type, shape: tuple[int, ...] = ()) -> npt.NDArray[Any]:
            found = np.asarray(arrays[name])
            if found.shape != (n, *shape):
                raise ValueError(f"checkpoint array {name} has shape {found.shape}")
            return found.astype(dtype, copy=False)

        engine.creator = column("creator", np.int64)
        if n and (engine.creator.max() >= len(engine.creators) or engine.creator.min() < -1):
            raise ValueError("checkpoint names a creator it does not hold")
        engine.owner = [engine.creators[c] if c >= 0 else None for c in engine.creator.tolist()]
        engine.born = column("born", np.int64)
        engine.duration_ms = column("duration_ms", np.int64).tolist()
        engine.live = column("live", np.bool_)
        engine.tie = column("tie", np.int64)
        engine.counters = column("counters", np.int64, (len(FLAGS),))
        engine.totals = engine.counters.sum(axis=0)
        engine._deletions = {int(i): set(who) for i, who in data["deletions"].items()}
        engine.by_owner = Owners.saved(engine.creator_index, engine.creator, engine.live)
        born = engine.born.tolist()
        engine.catalog = [(born[i], ids[i], i) for i in arrays["catalog"].tolist()]
        engine.blocked_by = {who: set(by) for who, by in data["blocked_by"].items()}
        engine.last_bucket = int(data["last_bucket"])
        buckets = engine.config.buckets
        # Zeros, not a marker: the pages of videos without points are never
        # touched (each array holds 48 int32 slots per video), and an empty
        # slot reads as bucket 0 with no points, which counts for nothing.
        engine.trend_bucket = np.zeros((n, buckets), dtype=np.int32)
        engine.trend_points = np.zeros((n, buckets), dtype=np.int32)
        trend = np.asarray(arrays["trend"], dtype=np.int64).reshape(-1, 4)
        slots = trend[:, 0] * buckets + trend[:, 1]  # flat: far faster than (row, column) pairs
        engine.trend_bucket.ravel()[slots] = trend[:, 2]
        engine.trend_points.ravel()[slots] = trend[:, 3]
        engine.pairs.load(
            arrays["pair_items"], arrays["pair_bounds"], arrays["pair_cols"], arrays["pair_vals"]
        )
        for rows in later_pairs:
            if len(rows["pair_items"]) and int(np.max(rows["pair_items"])) >= n:
                raise ValueError("a delta checkpoint's pair row names a video it does not hold")
            engine.pairs.replace(
                rows["pair_items"], rows["pair_bounds"], rows["pair_cols"], rows["pair_vals"]
            )
        engine.users = Users.saved(
            [str(user_id) for user_id in data["user_ids"]],
            arrays["user_bounds"],
            arrays["user_rows"],
            engine._index.__getitem__,
            later_users,
        )
        engine._dirty_items = set(range(n))  # item rows are made on the first copy
        engine.version = 1
        return engine
