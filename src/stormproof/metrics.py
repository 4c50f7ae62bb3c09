"""A region's Prometheus instruments, in a registry of its own (ADR 022).

What happens between scrapes is counted here, as it happens: HTTP requests
(by method, route template and status), log appends (by partition), the
prober's checks and rounds. What *is* at the moment of a scrape — readiness,
positions and lag, the status view's verdicts — is read fresh by
``GET /metrics`` (:mod:`stormproof.api.routers.metrics`) and never kept here,
so it cannot disagree with ``/v1/health`` or ``/v1/status``.

Each region owns one :class:`Metrics` and its registry, never the process's
global one: several regions in one process (tests, benchmarks) count apart.
Every label value comes from a bounded set that our code names — route
templates, methods it knows, status codes, partitions, components, the
regions of the cluster — never from a request as sent.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from stormproof.events import Component

__all__ = [
    "APPEND_BUCKETS",
    "METHODS",
    "PROBE_ROUND_OUTCOMES",
    "REQUEST_BUCKETS",
    "Metrics",
    "RoundOutcome",
    "method_label",
    "status_class",
]

#: seconds; from a cached health answer (~1 ms) past For You's 50 ms target
#: and the drill's 0.25 s read target, to uploads and stalled failovers
REQUEST_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
#: seconds; an fsync of the embedded log is a millisecond or a few, a quorum
#: of a replicated one more, and an election stalls appends for seconds
APPEND_BUCKETS: Final = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip
#: methods counted under their own name; any other is "other"
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: how a probe round ended: written to the log, not set up yet (no probe
#: account), not written (the log refused), or a bug (logged)
RoundOutcome = Literal["recorded", "waiting", "not_recorded", "failed"]
PROBE_ROUND_OUTCOMES: Final[tuple[RoundOutcome, ...]] = get_args(RoundOutcome)


def method_label(method: str) -> str:
    """The method as a label: one of :data:`METHODS`, else ``other``."""
    return method if method in METHODS else "other"


def status_class(status: int) -> str:
    """``2xx``, ``4xx``… of a status code."""
    return f"{status // 100}xx"


class Metrics:
    """One region's counters and histograms; :attr:`registry` is what a
    scrape renders (with what it reads fresh)."""

    def __init__(self, region: str) -> None:
        # No ``_created`` series beside every counter and histogram: they
        # double what Prometheus stores and no query here reads them. (A
        # switch of the library's, for the whole process.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.region = region
        self.registry = registry = CollectorRegistry()
        self._requests = Counter(
            "stormproof_http_requests", "HTTP requests answered, by route template and status",
            ["region", "method", "route", "status"], registry=registry,
        )  # fmt: skip
        self._latency = Histogram(
            "stormproof_http_request_duration_seconds",
            "from a request's arrival to the end of its answer, by route template and "
            "status class",
            ["region", "method", "route", "status_class"], buckets=REQUEST_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self._in_flight = Gauge(
            "stormproof_http_requests_in_flight", "requests being served now", ["region"],
            registry=registry,
        )  # fmt: skip
        self._appends = Histogram(
            "stormproof_log_append_duration_seconds",
            "from an append to the log's acknowledgement (durable; a quorum's when "
            "replicated), by the partition that took it",
            ["region", "partition"], buckets=APPEND_BUCKETS, registry=registry,
        )  # fmt: skip
        self._append_errors = Counter(
            "stormproof_log_append_errors", "appends the log refused or could not acknowledge",
            ["region"], registry=registry,
        )  # fmt: skip
        self._checks = Counter(
            "stormproof_probe_checks",
            "this region's prober's checks, by region checked, component and result",
            ["region", "target", "component", "result"], registry=registry,
        )  # fmt: skip
        self._rounds = Counter(
            "stormproof_probe_rounds", "this region's probe rounds, by how each ended",
            ["region", "outcome"], registry=registry,
        )  # fmt: skip
        # Series that exist from the start, at 0, so that rates and alerts
        # see them before the first failure.
        self._serving = self._in_flight.labels(region)
        self._append_errors.labels(region)
        for outcome in PROBE_ROUND_OUTCOMES:
            self._rounds.labels(region, outcome)
        #: each request's series, found once: looking a labelled series up
        #: costs more than counting in it (bounded like the labels)
        self._answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request_started(self) -> None:
        self._serving.inc()

    def request_ended(self, method: str, route: str, status: int, seconds: float) -> None:
        """A request was answered (``status``; 499: the client went away first)."""
        self._serving.dec()
        key = (method, route, status)
        series = self._answered.get(key)
        if series is None:
            series = self._answered[key] = (
                self._requests.labels(self.region, method, route, str(status)),
                self._latency.labels(self.region, method, route, status_class(status)),
            )
        count, latency = series
        count.inc()
        latency.observe(seconds)

    def appended(self, partition: int, seconds: float) -> None:
        self._appends.labels(self.region, str(partition)).observe(seconds)

    def append_failed(self) -> None:
        self._append_errors.labels(self.region).inc()

    def probed(self, target: str, component: Component, *, ok: bool) -> None:
        """One check of this region's prober, of ``component`` in ``target``."""
        result = "ok" if ok else "failed"
        self._checks.labels(self.region, target, component, result).inc()

    def probe_round(self, outcome: RoundOutcome) -> None:
        self._rounds.labels(self.region, outcome).inc()
