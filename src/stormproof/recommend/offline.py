"""The engine behind the offline :class:`~stormproof.recommend.baselines.Recommender`
protocol, so ``stormproof eval`` scores the very code that serves For You.

Every dataset interaction becomes a completed watch by that user at that
time; an item appears as an upload by a creator of its own the first time
anyone touches it (datasets have no upload events). Ranking goes through
:func:`~stormproof.recommend.ranker.rank` exactly as for the API, with the
creator cap off (one creator per item makes it moot anyway).
"""

from __future__ import annotations

from collections.abc import Collection

from stormproof.recommend.baselines import History
from stormproof.recommend.engine import Engine, EngineConfig
from stormproof.recommend.ranker import RankerConfig, rank

__all__ = ["EngineModel"]


class EngineModel:
    name = "stormproof"

    def __init__(
        self, engine: EngineConfig | None = None, ranker: RankerConfig | None = None
    ) -> None:
        self.engine = Engine(engine)
        self.ranker = ranker or RankerConfig()
        self._events = 0

    def refresh(self, history: History) -> None:
        """Nothing to retrain: the engine learned every event as it came."""

    def observe(self, user: int, item: int, at: int) -> None:
        video = f"i{item}"
        found = self.engine.find(video)
        if found is None or self.engine.owner[found] is None:
            self.engine.upload(video, f"c{item}", at, 0)
        stamp = (at, f"{self._events:012d}", 0)
        self.engine.interact(f"u{user}", video, "watch", stamp, completed=True)
        self._events += 1

    def top(self, user: int, k: int, exclude: Collection[int], at: int) -> list[int]:
        picks = rank(self.engine, f"u{user}", limit=k, now=at, per_creator=k, config=self.ranker)
        return [int(pick.video_id[1:]) for pick in picks]
