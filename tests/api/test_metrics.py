"""``GET /metrics`` scraped from a real region after real requests, parsed
with Prometheus's own parser: requests by route template and status, the
log append histogram, lag, the prober's checks and the status view's
verdicts; label values stay bounded whatever paths callers send; two regions
in one process count apart."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from stormproof.status import Prober
from tests.conftest import LiveServer, make_settings, sign_up

#: a probe round far from any the region would run by itself (3600 s period)
ROUND_AT = 3_600_000 * 490_000


def scrape(client: httpx.Client, server: LiveServer) -> list[Sample]:
    """Every sample of one scrape, parsed as Prometheus parses it."""
    answer = client.get("/metrics", headers=server.operator)
    assert answer.status_code == 200, answer.text
    families = list(text_string_to_metric_families(answer.text))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), "a family is rendered twice"
    return [sample for family in families for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample of ``name`` with these labels (0 when there is none)."""
    found = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) <= 1, found
    return found[0].value if found else 0.0


def requests(samples: list[Sample], route: str, status: str, method: str = "GET") -> float:
    return value(
        samples, "stormproof_http_requests_total", route=route, status=status, method=method
    )


def test_requests_are_counted_and_timed_by_route_template_and_status(
    server: LiveServer, client: httpx.Client
) -> None:
    auth = sign_up(client, "ann")
    for video in ("v_one", "v_two", "v_three"):  # three paths, one route
        assert client.get(f"/v1/videos/{video}").status_code == 404
    assert client.post("/v1/events", json={"events": "no"}, headers=auth).status_code == 422
    assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
    samples = scrape(client, server)

    assert requests(samples, "/v1/videos/{video_id}", "404") == 3
    assert requests(samples, "/v1/events", "422", method="POST") == 1
    assert requests(samples, "/v1/feed/for-you", "200") == 1
    assert requests(samples, "/v1/accounts", "201", method="POST") == 1
    assert not [s for s in samples if "v_one" in str(s.labels)]  # never a raw path
    histogram = "stormproof_http_request_duration_seconds"
    for route, status_class, count in (("/v1/videos/{video_id}", "4xx", 3), (
        "/v1/feed/for-you", "2xx", 1)):  # fmt: skip
        labels = {"route": route, "status_class": status_class, "method": "GET"}
        assert value(samples, f"{histogram}_count", **labels) == count
        assert value(samples, f"{histogram}_bucket", le="+Inf", **labels) == count
        assert value(samples, f"{histogram}_sum", **labels) > 0
    # This scrape is being served: it is in flight, counted once it is answered.
    assert value(samples, "stormproof_http_requests_in_flight") == 1
    assert requests(scrape(client, server), "/metrics", "200") == 1


def test_a_write_moves_the_append_histogram_and_positions(
    server: LiveServer, client: httpx.Client
) -> None:
    count = "stormproof_log_append_duration_seconds_count"
    before = scrape(client, server)
    assert value(before, count, partition="0") == 0
    sign_up(client, "ann")  # writes to the log
    after = scrape(client, server)
    appended = value(after, count, partition="0")
    assert appended >= 1
    assert value(after, "stormproof_log_seq", partition="0") == appended
    assert value(after, "stormproof_log_append_duration_seconds_bucket", le="+Inf") == appended
    assert value(after, "stormproof_views_lag_entries", partition="0") == 0
    assert value(after, "stormproof_engine_lag_entries", partition="0") == 0
    assert value(after, "stormproof_log_append_errors_total") == 0
    assert value(after, "stormproof_region_state", state="ready") == 1
    assert value(after, "stormproof_region_state", state="catching_up") == 0


def _random_path(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.~%"
    parts = ["".join(rng.choices(alphabet, k=rng.randint(1, 30))) for _ in range(rng.randint(1, 5))]
    return "/" + "/".join(parts)


def test_random_paths_and_methods_add_a_bounded_number_of_label_sets(
    server: LiveServer, client: httpx.Client
) -> None:
    rng = random.Random(13)

    def label_sets() -> set[tuple[tuple[str, str], ...]]:
        return {
            tuple(sorted(s.labels.items()))
            for s in scrape(client, server)
            if s.name.startswith("stormproof_http_")
        }

    client.get("/v1/nothing-here")
    client.request("PROPFIND", "/v1/nothing-here")
    client.get("/v1/videos/anything/file")
    before = label_sets()
    for _ in range(300):
        client.request(rng.choice(["GET", "POST", "PROPFIND", "DELETE"]), _random_path(rng))
        client.get(f"/v1/videos/{rng.randrange(10**9)}/file")
    after = label_sets()
    # Besides the scrape itself, 300 random paths and 300 videos added at most
    # the label sets their methods and statuses can make, nothing per path.
    grown = {dict(labels).get("route") for labels in after - before}
    assert grown <= {"unmatched", "/v1/videos/{video_id}/file", "/metrics"}, grown
    routes = {dict(labels).get("route") for labels in after}
    assert "unmatched" in routes
    methods = {dict(labels).get("method") for labels in after} - {None}
    assert methods <= {"GET", "POST", "DELETE", "other"}, methods
    assert "other" in methods  # PROPFIND


def test_an_edge_refusal_is_counted_under_the_route_it_was_for(
    server: LiveServer, client: httpx.Client
) -> None:
    big = b"x" * (server.settings.max_json_bytes + 1)
    refused = client.post("/v1/accounts", content=big, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    assert requests(scrape(client, server), "/v1/accounts", "413", method="POST") == 1


def test_the_probers_checks_and_the_status_views_verdicts(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path / "region", probe_every_s=3600)).start()
    try:
        prober: Prober = live.app.state.prober
        assert live.call(prober.round(ROUND_AT)) is not None
        with httpx.Client(base_url=live.url, timeout=30) as client:
            samples = scrape(client, live)
    finally:
        live.stop()
    for component in ("sign_in", "for_you", "playback", "interactions", "messages"):
        on = {"target": "test", "component": component}
        assert value(samples, "stormproof_probe_checks_total", result="ok", **on) == 1
        assert value(samples, "stormproof_probe_checks_total", result="failed", **on) == 0
        assert value(samples, "stormproof_probe_verdict_failing", **on) == 0
        assert value(samples, "stormproof_component_state", state="operational", **on) == 1
        assert value(samples, "stormproof_component_state", state="major_outage", **on) == 0
        assert (
            value(
                samples, "stormproof_component_overall_state", component=component,
                state="operational",
            )
            == 1
        )  # fmt: skip
    assert value(samples, "stormproof_platform_state", state="operational") == 1
    assert value(samples, "stormproof_probe_seen_ready", prober="test", target="test") == 1
    stamp = value(samples, "stormproof_probe_round_timestamp_seconds", prober="test")
    assert stamp == ROUND_AT / 1000
    # Rounds are counted by the prober's loop, which has not run one yet.
    assert value(samples, "stormproof_probe_rounds_total", outcome="recorded") == 0


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    east = LiveServer(make_settings(tmp_path / "east", region="east")).start()
    west = LiveServer(make_settings(tmp_path / "west", region="west")).start()
    try:
        yield east, west
    finally:
        east.stop()
        west.stop()


def test_two_regions_in_one_process_count_apart(two: tuple[LiveServer, LiveServer]) -> None:
    east, west = two
    with httpx.Client(base_url=east.url) as to_east, httpx.Client(base_url=west.url) as to_west:
        for _ in range(3):
            to_east.get("/v1/videos/v_x")
        to_west.get("/v1/videos/v_x")
        seen_east, seen_west = scrape(to_east, east), scrape(to_west, west)
    assert requests(seen_east, "/v1/videos/{video_id}", "404") == 3
    assert requests(seen_west, "/v1/videos/{video_id}", "404") == 1
    assert {s.labels.get("region") for s in seen_east} == {"east"}
    assert {s.labels.get("region") for s in seen_west} == {"west"}
