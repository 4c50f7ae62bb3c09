"""The view store: positions with the data, and a rebuild when views change shape."""

from __future__ import annotations

from pathlib import Path

from stormproof.events import FollowStarted, new_event
from stormproof.log import Entry
from stormproof.views import all_views
from stormproof.views.follows import FollowsView
from stormproof.views.store import ViewStore


class _WiderFollows(FollowsView):
    schema = FollowsView.schema + "CREATE TABLE IF NOT EXISTS follow_notes (note TEXT);"


def test_views_that_changed_shape_start_over_from_sequence_zero(tmp_path: Path) -> None:
    # Guards: a views file written by an older release (a table that since
    # gained a column) must be rebuilt from the log, not fail every entry.
    path = tmp_path / "views.sqlite"
    entry = Entry(0, 1, "k", new_event(FollowStarted(followee_id="u_b"), actor="u_a", id="e1"))
    store = ViewStore(path, all_views())
    assert store.apply([entry]) == (1,)
    store.close()

    same = ViewStore(path, all_views())
    assert same.position() == (1,)  # same shape: kept
    same.close()

    views = [_WiderFollows() if isinstance(v, FollowsView) else v for v in all_views()]
    reshaped = ViewStore(path, views)
    assert reshaped.position() == (0,)
    assert reshaped.reader().execute("SELECT COUNT(*) FROM follows").fetchone() == (0,)
    assert reshaped.apply([entry]) == (1,)
