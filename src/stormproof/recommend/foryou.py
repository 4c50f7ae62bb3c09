"""For You, version 0: followed + trending + fresh, over every unseen video.

Guarantees the API relies on:

- never returns a video the user watched, skipped or marked not interested,
  nor one already served in the same cursor chain (``exclude`` holds the first
  14 characters of served ids; the API remembers the last 300);
- never returns an empty page while an unseen video exists (the user's own
  videos come last, but they do come);
- at most ``per_creator`` videos of one creator in a page, unless nothing else
  is left to fill it.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field

__all__ = ["Pick", "for_you"]

_HOUR_MS = 3_600_000
_CANDIDATES = """
SELECT v.video_id, v.owner_id, v.created_at,
       COALESCE(e.views, 0), COALESCE(e.completions, 0), COALESCE(e.shares, 0),
       (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.video_id AND l.active = 1),
       f.followee_id IS NOT NULL
FROM videos v
LEFT JOIN engagement e ON e.video_id = v.video_id
LEFT JOIN follows f ON f.follower_id = :user AND f.followee_id = v.owner_id AND f.active = 1
WHERE v.deleted = 0
  AND NOT EXISTS (SELECT 1 FROM history h WHERE h.user_id = :user AND h.video_id = v.video_id)
"""


@dataclass(frozen=True)
class Pick:
    video_id: str
    score: float
    sources: tuple[str, ...]
    signals: dict[str, float] = field(default_factory=dict)


def _score(row: tuple[str, str, int, int, int, int, int, int], user: str, now: int) -> Pick:
    video_id, owner, created_at, views, completions, shares, likes, followed = row
    age_h = max(0.0, (now - created_at) / _HOUR_MS)
    engagement = likes * 2.0 + shares * 3.0 + completions * 2.0 + views * 0.5
    trending = math.log1p(engagement) * math.exp(-age_h / 48.0)
    fresh = math.exp(-age_h / 24.0)
    completion_rate = completions / views if views else 0.0
    score = 3.0 * followed + trending + fresh + completion_rate
    sources = []
    if followed:
        sources.append("followed")
    if trending > 0:
        sources.append("trending")
    if age_h < 24:
        sources.append("fresh")
    if owner == user:
        score -= 1000.0  # your own videos only when nothing else is left
        sources.append("own")
    signals = {
        "followed": float(followed),
        "trending": round(trending, 4),
        "fresh": round(fresh, 4),
        "completion_rate": round(completion_rate, 4),
    }
    return Pick(video_id, round(score, 6), tuple(sources or ["catalog"]), signals)


def for_you(
    db: sqlite3.Connection,
    user_id: str,
    *,
    limit: int,
    exclude: set[str],
    now: int,
    per_creator: int = 2,
) -> list[Pick]:
    """The next page for a user, best first."""
    rows = db.execute(_CANDIDATES, {"user": user_id}).fetchall()
    owners = {row[0]: row[1] for row in rows}
    ranked = sorted(
        (_score(row, user_id, now) for row in rows if row[0][:14] not in exclude),
        key=lambda pick: (-pick.score, pick.video_id),
    )
    page: list[Pick] = []
    per_owner: dict[str, int] = {}
    held_back: list[Pick] = []
    for pick in ranked:
        if len(page) == limit:
            break
        owner = owners[pick.video_id]
        if per_owner.get(owner, 0) >= per_creator:
            held_back.append(pick)
            continue
        per_owner[owner] = per_owner.get(owner, 0) + 1
        page.append(pick)
    # Too few creators to honour the cap: fill up rather than show less.
    page.extend(held_back[: limit - len(page)])
    return page
