"""For You ranking: candidate sources, a blended score, a diversity cap.

Read-only over an :class:`~stormproof.recommend.engine.Engine`, and a pure
function of its state, the user, the excluded ids and ``now`` — so two
regions at the same log position give the same page.

Sources:

- **collaborative** — the user's most recent engaged videos (since their
  last reset), weighted by recency and strength, each lending its
  co-engagement row: ``weight(h, j) / (n_h^a · n_j^(1-a))``, n being how
  many users engaged with a video;
- **followed** — live videos of creators the user follows;
- **trending** — points per time bucket with exponential decay, over
  completed buckets;
- **fresh** — the exposure ladder (:func:`ladder_levels`);
- **popular** — the most engaged-with videos of all time, a weak prior
  (and what a user with no history starts from, with trending);
- **catalog** — newest first, only to fill a page: the feed is never empty
  while an unseen video exists.

The score multiplies relevance (the sources plus the user's affinity to the
creator) by predicted engagement: smoothed completion, like, share and skip
rates of the video blended by ``_BLEND``, completion weighing most.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stormproof.recommend.engine import Engine, Slots, User
from stormproof.recommend.signals import FLAGS

__all__ = ["Pick", "RankerConfig", "rank", "trending"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_COL = {name: n for n, name in enumerate(FLAGS)}
_EMPTY_USER = User()
#: predicted engagement = this blend of completion, like, share and skip rates
_BLEND = np.array([0.5, 0.2, 0.2, -0.3])


@dataclass(frozen=True)
class RankerConfig:
    #: how many recent engaged videos speak for the user, and how fast their voice fades
    profile: int = 10
    decay: float = 0.75
    #: similarity damping: count / (n_h^a * n_j^(1-a))
    alpha: float = 0.5
    collab_weight: float = 1.0
    trend_weight: float = 0.05
    popular_weight: float = 0.05
    follow_weight: float = 0.6
    affinity_weight: float = 0.4
    fresh_weight: float = 0.25
    #: trending: half-life in buckets, and how many of the top videos are candidates
    trend_half_life: float = 8.0
    trend_top: int = 200
    popular_top: int = 200
    #: fresh videos on the ladder offered per page: half the newest, half per user
    fresh_top: int = 200
    collab_top: int = 300
    #: exposure ladder: viewers a fresh video may reach at each level
    ladder_pools: tuple[int, ...] = (20, 100, 500, 2500)
    fresh_ms: int = 7 * 24 * 3600 * 1000
    #: rates are smoothed toward the catalog's mean with this many pseudo-viewers
    prior_viewers: float = 20.0


@dataclass(frozen=True)
class Pick:
    video_id: str
    score: float
    sources: tuple[str, ...]
    signals: dict[str, float] = field(default_factory=dict)
    #: the user's videos that made this one collaborative, strongest first
    because: tuple[str, ...] = ()


def trending(engine: Engine, now: int, half_life: float) -> Floats:
    """Decayed points of every video: the bucket ``now`` falls in counts fully,
    completed ones fade with ``half_life`` (in buckets).

    The sum over completed buckets is kept between calls: only the rows of
    videos whose slots changed since are summed again (row by row, as the
    whole is, so the same state gives the same numbers bit for bit however
    it was reached), and all of them only when the window moves."""
    buckets, size = engine.config.buckets, engine.config.bucket_ms
    current = now // size
    n = len(engine.item_ids)
    oldest = engine.last_bucket - buckets  # the state holds only buckets after this one
    key = (current, half_life, engine.last_bucket)
    cached = engine.cache.get("trending")
    changed = engine.trend_changed
    if cached is None or cached[0] != key:  # the window moved: every row again
        sums = _completed(
            engine.trend_bucket[:n], engine.trend_points[:n], current, oldest, half_life, buckets
        )
        cached = engine.cache["trending"] = (key, sums)
    elif len(cached[1]) < n or changed:
        # a new array, so what is cached on the old one is stale; videos
        # added since start at zero, and any points they got marked them
        sums = np.concatenate((cached[1], np.zeros(n - len(cached[1]))))
        rows = np.fromiter(changed, dtype=np.int64, count=len(changed))
        held, points = engine.trend_bucket[rows], engine.trend_points[rows]
        sums[rows] = _completed(held, points, current, oldest, half_life, buckets)
        cached = engine.cache["trending"] = (key, sums)
    changed.clear()
    total = engine.cache.get("trending_now")
    now_key = (cached[1], engine.bucket_versions.get(current, 0))
    if total is None or total[0][0] is not now_key[0] or total[0][1] != now_key[1]:
        slot = current % buckets
        held = engine.trend_bucket[:n]
        live = (held[:, slot] == current) & (current > oldest)
        total = engine.cache["trending_now"] = (
            now_key,
            cached[1] + np.where(live, engine.trend_points[:n, slot], 0),
        )
    value: Floats = total[1]
    return value


def _completed(
    held: Slots, points: Slots, current: int, oldest: int, half_life: float, buckets: int
) -> Floats:
    """Per row, the points of completed buckets still in the window, each
    faded by its age."""
    age = current - held
    valid = (held > oldest) & (age >= 1) & (age < buckets)
    weight = np.where(valid, 0.5 ** ((age - 1) / half_life), 0.0)
    sums: Floats = (points * weight).sum(axis=1)
    return sums


def ladder_levels(engine: Engine, items: npt.NDArray[np.int64], pools: tuple[int, ...]) -> Floats:
    """The exposure level of each fresh video, or -1 once it stopped climbing
    or filled its last pool.

    A video at level L may reach ``pools[L]`` viewers. Once it has, it climbs
    to L + 1 only if its engagement rate — (completions + likes + 2 shares -
    skips) per viewer — beats the rate of all the fresh videos that reached
    that pool taken together; otherwise the ladder stops offering it (other
    sources still may). Integer arithmetic: the same answer in every region.
    """
    c = engine.counters[items]
    viewed = c[:, _COL["viewed"]]
    good = c[:, _COL["completed"]] + c[:, _COL["liked"]] + 2 * c[:, _COL["shared"]]
    net = good - c[:, _COL["skipped"]]
    level = np.zeros(len(items))
    climbing = np.ones(len(items), dtype=bool)
    for n, pool in enumerate(pools):
        reached = climbing & (viewed >= pool)
        if not reached.any():
            break
        peers = viewed >= pool
        beats = net * int(viewed[peers].sum()) > int(net[peers].sum()) * viewed
        level[reached & beats] = n + 1
        climbing &= ~(reached & ~beats)
    open_pool = np.array([*pools, 0])[level.astype(np.int64)]
    return np.where(climbing & (viewed < open_pool), level, -1.0)


def _profile(engine: Engine, u: User, size: int, decay: float) -> list[tuple[int, float]]:
    """(item, weight) of the user's latest engaged videos since their reset:
    ``decay`` to the power of how recent (0 for the newest; videos first
    touched at the same moment share their mean place), times strength / 3."""
    recent: list[tuple[int, int]] = []
    for t, _, item in reversed(u.timeline):
        if len(recent) == size:
            break
        if u.signals[item].last_at > u.reset_at:
            recent.append((t, item))
    profile = []
    start = 0
    while start < len(recent):
        end = start
        while end < len(recent) and recent[end][0] == recent[start][0]:
            end += 1
        place = (start + end - 1) / 2
        for _, item in recent[start:end]:
            strength = u.signals[item].strength(engine.duration_ms[item])
            profile.append((item, decay**place * strength / 3.0))
        start = end
    return profile


def _affinity(engine: Engine, u: User) -> dict[str, float]:
    """Per creator: taste shown for their videos since the reset, squashed to (-1, 1)."""
    raw: dict[str, int] = {}
    for item, signal in u.signals.items():
        owner = engine.owner[item]
        if owner is None or signal.last_at <= u.reset_at:
            continue
        taste = signal.strength(engine.duration_ms[item]) - 2 * signal.dislike()
        raw[owner] = raw.get(owner, 0) + taste
    return {owner: float(np.tanh(v / 6.0)) for owner, v in raw.items() if v}


def rank(
    engine: Engine,
    user_id: str,
    *,
    limit: int,
    now: int,
    exclude: Collection[str] = (),
    exclude_prefix: int | None = None,
    per_creator: int = 2,
    config: RankerConfig | None = None,
) -> list[Pick]:
    """The user's next page, best first.

    Never a video the user watched, skipped, hid, liked, shared or commented,
    nor one in ``exclude`` (compared on the first ``exclude_prefix``
    characters when given); at most ``per_creator`` videos per creator unless
    nothing else is left; the user's own videos only when nothing else is.

    Only what is the user's own costs work per request: their profile's
    co-engagement rows, their followed creators' videos, the candidates.
    What every user shares (trending, popular, ladder levels, and the best
    of each in order) is computed once per engine version.
    """
    cfg = config or RankerConfig()
    with engine.lock:
        n = len(engine.item_ids)
        if n == 0 or limit <= 0:
            return []
        u = engine.users.get(user_id, _EMPTY_USER)
        ids = engine.item_ids
        own = engine.by_owner.videos_of(user_id)
        # Besides deleted videos, the user never gets these (except their own
        # videos when nothing else is left, see _page), nor any video of
        # someone they block or who blocks them:
        hidden = [
            i for who in engine.hidden_creators(user_id) for i in engine.by_owner.videos_of(who)
        ]
        barred = {*u.signals, *own, *hidden}
        mine = np.array(sorted(barred), dtype=np.int64)

        def allowed(items: Ints) -> npt.NDArray[np.bool_]:
            keep: npt.NDArray[np.bool_] = engine.live[items]
            if len(mine) and len(items):
                keep &= ~_isin(items, mine)
            return keep

        def blocked(item: int) -> bool:
            return not engine.live[item] or item in barred

        collab = _collaborative(engine, _profile(engine, u, cfg.profile, cfg.decay), cfg.alpha)
        trend_norm = _trend_norm(engine, now, cfg.trend_half_life)
        popular, level_of, ladder = _shared(engine, now, cfg)

        followed = np.unique(
            np.array(
                [
                    i
                    for w in sorted(engine.followees(user_id))
                    for i in engine.by_owner.videos_of(w)
                ],
                dtype=np.int64,
            )
        )
        followed = followed[allowed(followed)]
        # A few hundred fresh ones per page: the newest, and a share that differs per user.
        climbing = ladder[allowed(ladder)]
        tie = engine.tie[climbing]
        newest = (engine.born[climbing] - (now - cfg.fresh_ms)).astype(np.float64) + 1.0
        hashed = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
        shuffle = (tie ^ (int.from_bytes(hashed, "big") >> 1)).astype(np.float64) + 1.0
        half = cfg.fresh_top // 2
        sources = {
            "collaborative": collab.head(engine, allowed, cfg.collab_top),
            "trending": _best(engine, "trending", trend_norm, cfg.trend_top, mine),
            "popular": _best(engine, "popular", popular, cfg.popular_top, mine),
            "followed": followed,
            "fresh": np.union1d(
                climbing[_head(newest, half, tie)], climbing[_head(shuffle, half, tie)]
            ),
        }
        candidates = np.unique(np.concatenate(list(sources.values())))
        offered = {name: _isin(candidates, items) for name, items in sources.items()}

        affinity = _affinity(engine, u)
        creator_of = engine.creator[candidates]
        is_followed = offered["followed"]
        liking = np.zeros(len(candidates))
        for owner, value in affinity.items():
            liking[creator_of == engine.creator_index[owner]] = value
        level = level_of[candidates]
        collab_of, because_of = collab.at(candidates)
        relevance = (
            cfg.collab_weight * collab_of
            + cfg.trend_weight * trend_norm[candidates]
            + cfg.popular_weight * popular[candidates]
            + cfg.follow_weight * is_followed
            + cfg.affinity_weight * liking
            + cfg.fresh_weight * offered["fresh"]
        )
        rates = _rates(engine, candidates, cfg.prior_viewers)
        engagement = rates.T @ _BLEND
        score = np.round(relevance * (0.1 + np.maximum(engagement, 0.0)), 9)
        order = np.lexsort((engine.tie[candidates], -score))

        def pick(k: int) -> Pick:
            item = int(candidates[k])
            signals = {
                "collaborative": collab_of[k],
                "trending": trend_norm[item],
                "popular": popular[item],
                "followed": float(is_followed[k]),
                "creator_affinity": liking[k],
                "ladder_level": level[k],
                "p_complete": rates[0, k],
                "p_like": rates[1, k],
                "p_share": rates[2, k],
                "p_skip": rates[3, k],
                "relevance": relevance[k],
                "predicted_engagement": engagement[k],
            }
            sources = sorted(name for name, mask in offered.items() if mask[k])
            because = (ids[int(because_of[k])],) if because_of[k] >= 0 else ()
            return Pick(
                ids[item],
                float(score[k]),
                tuple(sources),
                {name: round(float(v), 6) for name, v in signals.items()},
                because,
            )

        ranked = list(zip(candidates[order].tolist(), order.tolist(), strict=True))
        own_unseen = [i for i in own if i not in u.signals]
        return _page(
            engine, ranked, pick, own_unseen, blocked, limit, exclude, exclude_prefix, per_creator
        )


@dataclass(frozen=True)
class _Collaborative:
    """The user's collaborative scores, over only the videos their profile's
    co-engagement rows reach (``items``, ascending)."""

    items: Ints
    scores: Floats
    #: per item, the profile video that lent it the most (-1: none)
    strongest: Ints

    def head(
        self, engine: Engine, allowed: Callable[[Ints], npt.NDArray[np.bool_]], count: int
    ) -> Ints:
        keep = allowed(self.items)
        top: Ints = self.items[
            _head(np.where(keep, self.scores, 0.0), count, engine.tie[self.items])
        ]
        return top

    def at(self, items: Ints) -> tuple[Floats, Ints]:
        """Scores and strongest sources of ``items`` (0 and -1 where none)."""
        if not len(self.items):
            return np.zeros(len(items)), np.full(len(items), -1, dtype=np.int64)
        where = np.minimum(np.searchsorted(self.items, items), len(self.items) - 1)
        found = self.items[where] == items
        return np.where(found, self.scores[where], 0.0), np.where(found, self.strongest[where], -1)


def _collaborative(
    engine: Engine, profile: list[tuple[int, float]], alpha: float
) -> _Collaborative:
    """Each profile video h lends its co-engagement row: ``w · weight(h, j) /
    (n_h^a · n_j^(1-a))``, summed in profile order and divided by the
    profile's total weight."""
    engaged = _COL["engaged"]
    rows, total_weight = [], 0.0
    for h, w in profile:
        cols, vals = engine.pairs.row(h)
        if not len(cols):
            continue
        total_weight += w
        n_h = engine.counters[h, engaged].astype(np.float64)
        n_j = engine.counters[cols, engaged].astype(np.float64)
        norm = n_h**alpha * np.maximum(n_j, 1.0) ** (1 - alpha)
        rows.append((h, cols, w * vals / np.maximum(norm, 1.0)))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return _Collaborative(empty, np.zeros(0), empty)
    items, where = np.unique(np.concatenate([cols for _, cols, _ in rows]), return_inverse=True)
    contributions = np.concatenate([c for _, _, c in rows])
    scores: Floats = np.bincount(where, weights=contributions, minlength=len(items)).astype(
        np.float64
    )
    if total_weight:
        scores /= total_weight
    best, strongest = np.zeros(len(items)), np.full(len(items), -1, dtype=np.int64)
    start = 0
    for h, cols, contribution in rows:
        at = where[start : start + len(cols)]
        start += len(cols)
        stronger = contribution > best[at]
        best[at[stronger]] = contribution[stronger]
        strongest[at[stronger]] = h
    return _Collaborative(items, scores, strongest)


def _trend_norm(engine: Engine, now: int, half_life: float) -> Floats:
    """:func:`trending` scaled so its largest is 1, cached with it."""
    raw = trending(engine, now, half_life)
    cached = engine.cache.get("trend_norm")
    if cached is None or cached[0] is not raw:
        cached = engine.cache["trend_norm"] = (raw, _unit(raw))
    norm: Floats = cached[1]
    return norm


#: how many more than asked a cached head of a shared score holds, so that
#: a user's own blocked videos can be skipped without looking at the rest
_SLACK = 512


def _best(engine: Engine, name: str, scores: Floats, count: int, mine: Ints) -> Ints:
    """The ``count`` best positive ``scores`` of live videos not in ``mine``,
    ties by the engine's tie-break: exactly :func:`_head` over the whole
    catalog, from a head of ``count + _SLACK`` cached while ``scores`` is."""
    n = len(engine.item_ids)
    if len(mine) > _SLACK:  # could skip past a cached head: rank the whole catalog
        live = np.where(engine.live[:n], scores, 0.0)
        live[mine] = 0.0
        whole: Ints = _head(live, count, engine.tie[:n])
        return whole
    cached = engine.cache.get(f"best_{name}")
    if cached is None or cached[0][0] is not scores or cached[0][1:] != (count, n):
        live = np.where(engine.live[:n], scores, 0.0)
        top = _head(live, count + _SLACK, engine.tie[:n])
        top = top[np.lexsort((engine.tie[top], -live[top]))]
        cached = engine.cache[f"best_{name}"] = ((scores, count, n), top)
    ordered: Ints = cached[1]
    kept: Ints = ordered[~_isin(ordered, mine)][:count] if len(mine) else ordered[:count]
    return kept


def _isin(items: Ints, among: Ints) -> npt.NDArray[np.bool_]:
    """``np.isin`` for video indexes: a lookup table over their range, which
    beats sorting for the small arrays of one request."""
    if not len(items) or not len(among):
        return np.zeros(len(items), dtype=bool)
    found: npt.NDArray[np.bool_] = np.isin(items, among, kind="table")
    return found


def _shared(engine: Engine, now: int, cfg: RankerConfig) -> tuple[Floats, Floats, Ints]:
    """What every user's page starts from — popularity, each video's ladder
    level (-1: not on it), and the videos on the ladder — cached until the
    engine changes. The fresh window moves by whole minutes, so pages within
    a minute share it."""
    minute = now // 60_000
    key = (engine.version, minute, cfg.fresh_ms, cfg.ladder_pools)
    cached = engine.cache.get("shared")
    if cached is None or cached[0] != key:
        n = len(engine.item_ids)
        engaged = engine.counters[:n, _COL["engaged"]].astype(np.float64)
        popular = _unit(np.log1p(engaged))
        fresh = np.flatnonzero(
            engine.live[:n] & (engine.born[:n] >= minute * 60_000 - cfg.fresh_ms)
        )
        level_of = np.full(n, -1.0)
        level_of[fresh] = ladder_levels(engine, fresh, cfg.ladder_pools)
        cached = engine.cache["shared"] = (key, (popular, level_of, np.flatnonzero(level_of >= 0)))
    shared: tuple[Floats, Floats, Ints] = cached[1]
    return shared


def _head(scores: Floats, count: int, tie: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The ``count`` best positive scores; ties at the cut go by ``tie``, so the
    same state picks the same videos whatever their local indexes."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > count:
        cut = np.partition(scores[positive], len(positive) - count)[len(positive) - count]
        above = positive[scores[positive] > cut]
        at_cut = positive[scores[positive] == cut]
        wanted = count - len(above)
        if wanted < len(at_cut):  # often thousands tie at the cut: no need to sort them all
            at_cut = at_cut[np.argpartition(tie[at_cut], wanted - 1)[:wanted]]
        positive = np.concatenate((above, at_cut))
    return positive


def _unit(values: Floats) -> Floats:
    """Scaled so the largest is 1 (all zeros stay zeros)."""
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else values


def _rates(engine: Engine, items: npt.NDArray[np.int64], prior: float) -> Floats:
    """Smoothed completion, like, share and skip rates per item (4 x len(items))."""
    totals = engine.totals.astype(np.float64)
    viewers = max(totals[_COL["viewed"]], 1.0)
    c = engine.counters[items].astype(np.float64)
    rows = []
    for name in ("completed", "liked", "shared", "skipped"):
        mean = totals[_COL[name]] / viewers
        rows.append((c[:, _COL[name]] + prior * mean) / (c[:, _COL["viewed"]] + prior))
    rates: Floats = np.clip(np.array(rows).reshape(4, len(items)), 0.0, 1.0)
    return rates


def _page(
    engine: Engine,
    ranked: list[tuple[int, int]],
    pick: Callable[[int], Pick],
    own: list[int],
    blocked: Callable[[int], bool],
    limit: int,
    exclude: Collection[str],
    prefix: int | None,
    per_creator: int,
) -> list[Pick]:
    """Fill a page: ranked candidates under the creator cap, then the catalog
    newest first, then whatever the cap held back, then the user's own."""
    ids = engine.item_ids
    excluded = set(exclude)

    def cut(video_id: str) -> str:
        return video_id[:prefix] if prefix else video_id

    page: list[Pick] = []
    taken: set[int] = set()
    per_owner: dict[str | None, int] = {}
    held: list[tuple[int, Callable[[], Pick]]] = []

    def offer(item: int, make: Callable[[], Pick]) -> None:
        if item in taken or cut(ids[item]) in excluded:
            return
        owner = engine.owner[item]
        if per_owner.get(owner, 0) >= per_creator:
            held.append((item, make))
            return
        per_owner[owner] = per_owner.get(owner, 0) + 1
        taken.add(item)
        page.append(make())

    for item, k in ranked:
        if len(page) == limit:
            return page
        offer(item, functools.partial(pick, k))
    for _, video_id, item in reversed(engine.catalog):
        if len(page) == limit:
            return page
        if not blocked(item):
            offer(item, functools.partial(Pick, video_id, 0.0, ("catalog",)))
    for item, make in held:
        if len(page) == limit:
            return page
        if item not in taken:
            taken.add(item)
            page.append(make())
    for item in sorted(own, key=lambda i: (-int(engine.born[i]), ids[i])):
        if len(page) == limit:
            break
        if engine.live[item] and cut(ids[item]) not in excluded:
            page.append(Pick(ids[item], 0.0, ("own",)))
    return page
