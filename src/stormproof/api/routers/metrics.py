"""``GET /metrics``: this region for Prometheus (operators only; ADR 022).

Two kinds of series. What happened since the region started — requests by
route template and status, log appends, the prober's checks and rounds — is
counted as it happens, in the region's own registry
(:class:`stormproof.metrics.Metrics`). What *is* — readiness, the log's and
the views' positions and how far the views and the For You engine are
behind, the status view's verdicts and states — is read fresh on every
scrape from what the region knows, so it can never disagree with
``/v1/health`` or ``/v1/status``. Prometheus sends the operator token with
``authorization: {credentials: <token>}`` in its scrape config.

Labels: ``region`` is the region scraped; ``target`` is a region judged or
checked. States are one series per state, the current one at 1
(``stormproof_component_state{state="major_outage"} 1``), so a dashboard
can colour them and an alert match one by name.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stormproof.api.deps import Operator, RegionDep
from stormproof.api.routers import api_router
from stormproof.api.routers.health import RegionState, region_state
from stormproof.region import Region
from stormproof.status import STATES, Page, read_page

router = api_router(tags=["health"])

#: what a region is doing, for ``stormproof_region_state``
REGION_STATES = ("catching_up", "ready", "views_stopped", "failed")


@router.get("/metrics", response_class=Response)
async def metrics(region: RegionDep, request: Request, _: Operator) -> Response:
    """Requests by route and status, log append latency, readiness, log
    positions and lag of the views and the For You engine, entries
    quarantined and left to catch up, live message streams, the prober's
    checks, and each component's verdict and state per region."""
    state = await region_state(region)
    streams: Counter[str] = request.app.state.streams
    page = await _page(region)
    fresh = [
        *_region_families(region, state, sum(streams.values())),
        *_status_families(region.name, page),
    ]
    body = generate_latest(region.metrics.registry) + generate_latest(_Snapshot.of(fresh))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Snapshot(Collector):
    """Families read for one scrape, rendered like any collector's."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)

    @classmethod
    def of(cls, families: list[Metric]) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(cls(families))
        return registry


async def _page(region: Region) -> Page:
    settings = region.settings

    def read(db: sqlite3.Connection) -> Page:
        db.execute("BEGIN")  # one position for every read
        try:
            return read_page(
                db, fail_rounds=settings.probe_fail_rounds, pass_rounds=settings.probe_pass_rounds
            )
        finally:
            db.execute("COMMIT")

    return await region.store.query(read)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _doing(region: Region, state: RegionState) -> str:
    if region.failure is not None:
        return "failed"
    if state.ready:
        return "ready"
    return "views_stopped" if region.ready else "catching_up"


def _region_families(region: Region, state: RegionState, streams: int) -> Iterator[Metric]:
    name = region.name
    ready = _gauge("stormproof_ready", "1 while the region serves", ["region"])
    ready.add_metric([name], int(state.ready))
    doing = _gauge(
        "stormproof_region_state",
        "what the region is doing: catching_up, ready, views_stopped (its views cannot "
        "follow the log for now) or failed (it will not serve); the current one is 1",
        ["region", "state"],
    )
    now = _doing(region, state)
    for each in REGION_STATES:
        doing.add_metric([name, each], int(each == now))
    yield from (ready, doing)
    yield from _positions(region, state)
    quarantined = _gauge(
        "stormproof_quarantined_entries", "log entries no view could apply", ["region"]
    )
    quarantined.add_metric([name], state.quarantined)
    remaining = _gauge(
        "stormproof_catch_up_remaining_entries",
        "log entries left in the catch-up's current phase (0 once caught up)",
        ["region"],
    )
    remaining.add_metric([name], state.catch_up.remaining if state.catch_up else 0)
    live = _gauge("stormproof_message_streams", "live message streams held open", ["region"])
    live.add_metric([name], streams)
    yield from (quarantined, remaining, live)


def _positions(region: Region, state: RegionState) -> Iterator[Metric]:
    """Per partition: the log's last sequence, the views' and how far the
    views and the engine are behind it. Every view applies the same
    transactions, so the views share one position; the engine has its own."""
    labels = ["region", "partition"]
    log_seq = _gauge("stormproof_log_seq", "last sequence of each log partition", labels)
    views_seq = _gauge("stormproof_views_seq", "sequence the views applied, per partition", labels)
    views_lag = _gauge(
        "stormproof_views_lag_entries", "log entries the views have still to apply", labels
    )
    engine_lag = _gauge(
        "stormproof_engine_lag_entries",
        "log entries the For You engine has still to apply",
        labels,
    )
    engine = region.engine.position
    for partition, (last, seq) in enumerate(zip(state.log, state.position, strict=True)):
        key = [region.name, str(partition)]
        log_seq.add_metric(key, last)
        views_seq.add_metric(key, seq)
        views_lag.add_metric(key, max(0, last - seq))
        behind = last - engine[partition] if partition < len(engine) else last
        engine_lag.add_metric(key, max(0, behind))
    yield from (log_seq, views_seq, views_lag, engine_lag)


def _status_families(name: str, page: Page) -> Iterator[Metric]:
    """The status view as this region holds it: the last round's verdict and
    the state (flap guard applied) of each component in each region judged,
    each component's overall state, the platform's, and what each prober's
    latest health checks saw of each region."""
    target = ["region", "target", "component"]
    failing = _gauge(
        "stormproof_probe_verdict_failing",
        "1 when most probers saw the component fail in the region in its latest round",
        target,
    )
    in_region = _gauge(
        "stormproof_component_state", "a component's state in a region", [*target, "state"]
    )
    overall = _gauge(
        "stormproof_component_overall_state",
        "a component's state across regions",
        ["region", "component", "state"],
    )
    platform = _gauge("stormproof_platform_state", "the platform's state", ["region", "state"])
    for component in page.components:
        for judged in component.regions:
            key = [name, judged.region, component.component]
            failing.add_metric(key, int(2 * judged.failing_probers > judged.probers))
            for state in STATES:
                in_region.add_metric([*key, state], int(state == judged.state))
        for state in STATES:
            overall.add_metric([name, component.component, state], int(state == component.state))
    for state in STATES:
        platform.add_metric([name, state], int(state == page.state))
    yield from (failing, in_region, overall, platform)
    yield from _probers(name, page)


def _probers(name: str, page: Page) -> Iterator[Metric]:
    labels = ["region", "prober", "target"]
    ready = _gauge(
        "stormproof_probe_seen_ready",
        "1 when the prober's latest health check found the region ready",
        labels,
    )
    reachable = _gauge(
        "stormproof_probe_seen_reachable",
        "1 when the prober's latest health check reached the region",
        labels,
    )
    newest = _gauge(
        "stormproof_probe_round_timestamp_seconds",
        "when each prober's latest round in the status view was (unix seconds)",
        ["region", "prober"],
    )
    for prober in page.probers:
        newest.add_metric([name, prober.prober], prober.round_at / 1000)
        for seen in prober.regions:
            ready.add_metric([name, prober.prober, seen.region], int(seen.ready))
            reachable.add_metric([name, prober.prober, seen.region], int(seen.reachable))
    yield from (ready, reachable, newest)
