"""``GET /metrics``: this region's state for Prometheus (operators only).

Made fresh on every scrape from what the region knows — no counters kept on
the side — so it can never disagree with ``/v1/health``. Prometheus sends the
operator token with ``authorization: {credentials: <token>}`` in its scrape
config.
"""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from stormproof.api.deps import Operator, RegionDep
from stormproof.api.routers.health import region_state

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(region: RegionDep, request: Request, _: Operator) -> Response:
    """Readiness, the log's last sequence and the views' position per
    partition, entries quarantined, entries left to catch up, live message
    streams."""
    state = await region_state(region)
    streams: Counter[str] = request.app.state.streams
    registry = CollectorRegistry()
    labels = {"region": region.name}
    ready = Gauge("stormproof_ready", "1 while the region serves", ["region"], registry=registry)
    ready.labels(**labels).set(int(state.ready))
    log_seq = Gauge(
        "stormproof_log_seq", "last sequence of each log partition", ["region", "partition"],
        registry=registry,
    )  # fmt: skip
    applied = Gauge(
        "stormproof_views_seq", "sequence the views applied, per partition",
        ["region", "partition"], registry=registry,
    )  # fmt: skip
    for partition, (last, seq) in enumerate(zip(state.log, state.position, strict=True)):
        log_seq.labels(partition=str(partition), **labels).set(last)
        applied.labels(partition=str(partition), **labels).set(seq)
    Gauge(
        "stormproof_quarantined_entries", "log entries no view could apply",
        ["region"], registry=registry,
    ).labels(**labels).set(state.quarantined)  # fmt: skip
    Gauge(
        "stormproof_catch_up_remaining_entries",
        "log entries left in the catch-up's current phase (0 once caught up)",
        ["region"], registry=registry,
    ).labels(**labels).set(state.catch_up.remaining if state.catch_up else 0)  # fmt: skip
    Gauge(
        "stormproof_message_streams", "live message streams held open",
        ["region"], registry=registry,
    ).labels(**labels).set(sum(streams.values()))  # fmt: skip
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
