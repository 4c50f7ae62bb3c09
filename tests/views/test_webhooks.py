"""The webhooks view: what a subscription is owed and what became of each
delivery is chosen by content — the earliest copy of a notice update, the
earliest outcome of a delivery — so every region holds the same rows and
owes the same updates whatever order the partitions arrive in (ADR 024)."""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import (
    IncidentOpened,
    IncidentUpdated,
    MaintenanceEnded,
    MaintenanceScheduled,
    WebhookAttempt,
    WebhookDelivered,
    WebhookFailed,
    WebhookRemoved,
    WebhookSubscribed,
)
from stormproof.log import Entry
from stormproof.views import webhooks
from stormproof.views.store import ViewStore
from tests.views.test_incidents import T0, _apply, _entry, _spread

SEALED = "v1.bm9uY2U.c2VhbGVk.dGFn"


def _attempts(*statuses: int, region: str = "east") -> tuple[WebhookAttempt, ...]:
    return tuple(
        WebhookAttempt(at=T0 + n, took_ms=5, region=region, status=s,
                       error="" if s < 300 else f"http_{s}")
        for n, s in enumerate(statuses)
    )  # fmt: skip


def _subscribed(webhook_id: str, at: int) -> Entry:
    payload = WebhookSubscribed(
        webhook_id=webhook_id, url=f"https://example.com/{webhook_id}", sealed_secret=SEALED
    )
    return _entry(f"sub:{webhook_id}", payload, at, actor="u_op")


def _opening(judge: str, at: int) -> Entry:
    payload = IncidentOpened(
        incident_id="inc_west", title="West down", regions=("west",), components=("sign_in",),
        impact="major", began_at=T0, text=f"seen by {judge}", automatic=True,
    )  # fmt: skip
    return _entry(f"open:{judge}", payload, at)


def _update(update_id: str, judge: str, at: int) -> Entry:
    payload = IncidentUpdated(
        incident_id="inc_west", update_id=update_id, status="monitoring", text=f"by {judge}"
    )
    return _entry(f"{update_id}:by:{judge}", payload, at)


HISTORY = [
    _subscribed("whk_early", T0),
    _subscribed("whk_late", T0 + 50_000),
    _subscribed("whk_gone", T0),
    _entry("rm", WebhookRemoved(webhook_id="whk_gone"), T0 + 1, actor="u_op"),
    _opening("north", T0 + 51_000),  # a lagging judge, after whk_late subscribed
    _opening("east", T0 + 40_000),  # the earliest copy: before whk_late
    _update("upd_mon", "east", T0 + 60_000),
    _update("upd_mon", "north", T0 + 60_500),
    _entry("mnt", MaintenanceScheduled(
        maintenance_id="mnt_1", title="disks", regions=("east",), components=("uploads",),
        starts_at=T0 + 200_000, ends_at=T0 + 800_000, text="new disks"), T0 + 70_000,
        actor="u_op"),
    _entry("mnt-end", MaintenanceEnded(maintenance_id="mnt_1", text="done"), T0 + 80_000,
           actor="u_op"),
    # east delivered the opening to whk_early and died before north knew:
    # north delivered it again; east's record is the earlier
    _entry("d1", WebhookDelivered(webhook_id="whk_early", update_id="inc_west",
                                  attempts=_attempts(500, 204)), T0 + 45_000, actor=""),
    _entry("d2", WebhookDelivered(webhook_id="whk_early", update_id="inc_west",
                                  attempts=_attempts(204, region="north")), T0 + 47_000,
           actor=""),
    _entry("f1", WebhookFailed(webhook_id="whk_late", update_id="upd_mon",
                               attempts=_attempts(410)), T0 + 61_000, actor=""),
]  # fmt: skip


def _seen(store: ViewStore) -> tuple[object, ...]:
    db = store.reader()
    return (
        store.digests()["views"]["webhooks"],
        webhooks.subscriptions(db, active_only=False),
        webhooks.owed(db, limit=100),
        [webhooks.deliveries(db, w, limit=100) for w in ("whk_early", "whk_late", "whk_gone")],
    )


def test_a_subscription_is_owed_what_came_after_it_until_an_outcome_is_recorded(
    tmp_path: Path,
) -> None:
    store = _apply(tmp_path / "v.sqlite", [[replace(e, seq=n + 1) for n, e in
                                           enumerate(HISTORY)]], 1)  # fmt: skip
    db = store.reader()
    assert [s.webhook_id for s in webhooks.subscriptions(db)] == ["whk_early", "whk_late"]
    owed = [(o.webhook_id, o.update_id, o.kind) for o in webhooks.owed(db, limit=100)]
    assert owed == [
        ("whk_early", "upd_mon", "incident.updated"),
        ("whk_early", "mnt_1:scheduled", "maintenance.scheduled"),
        ("whk_late", "mnt_1:scheduled", "maintenance.scheduled"),
        ("whk_early", "mnt_1:completed", "maintenance.completed"),
        ("whk_late", "mnt_1:completed", "maintenance.completed"),
    ]  # the opening came before whk_late; upd_mon failed for it; whk_gone is gone
    by_update = {d.update_id: d for d in webhooks.deliveries(db, "whk_early", limit=100)}
    opening = by_update["inc_west"]
    assert (opening.state, opening.recorded) == ("delivered", 2)
    assert [a.status for a in opening.attempts] == [500, 204]  # east's: the earliest
    assert by_update["upd_mon"].state == "pending"
    [failed] = [d for d in webhooks.deliveries(db, "whk_late", limit=100) if d.state == "failed"]
    assert failed.update_id == "upd_mon" and webhooks.outcome(db, "whk_late", "upd_mon") is False
    assert webhooks.deliveries(db, "whk_gone", limit=100) == []
    store.close()


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, len(HISTORY)))
def test_any_order_gives_the_same_rows_and_owes_the_same(rng: random.Random, cut: int) -> None:
    entries = HISTORY[:cut]
    with tempfile.TemporaryDirectory() as folder:
        one = _apply(Path(folder) / "one.sqlite", [[replace(e, seq=n + 1) for n, e in
                                                    enumerate(entries)]], 1)  # fmt: skip
        spread = _apply(Path(folder) / "spread.sqlite", _spread(entries, rng), 3)
        again = _apply(Path(folder) / "again.sqlite", _spread(entries, rng), 3)
        assert _seen(one) == _seen(spread) == _seen(again)
        for store in (one, spread, again):
            store.close()
