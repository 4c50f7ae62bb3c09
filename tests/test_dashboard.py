"""The Grafana dashboard in docs/grafana cannot rot: every series it queries,
and every label it selects or groups by, is in a real region's scrape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from stormproof.status import Prober
from tests.conftest import LiveServer, make_settings, sign_up

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "stormproof.json"
_SERIES = re.compile(r"\b(stormproof_[A-Za-z0-9_]+)\b(?:\{([^}]*)\})?")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")


def _queries(node: Any) -> Iterator[str]:
    """Every PromQL query in the dashboard: panels' and variables'."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries(item)


def _scrape(tmp_path: Path) -> dict[str, set[str]]:
    """Each sample name of a real scrape, with the labels its samples carry,
    after what the dashboard shows happened: requests, a write, a probe round."""
    live = LiveServer(make_settings(tmp_path / "region", probe_every_s=3600)).start()
    try:
        prober: Prober = live.app.state.prober
        assert live.call(prober.round(3_600_000 * 490_000)) is not None
        with httpx.Client(base_url=live.url, timeout=30) as client:
            sign_up(client, "ann")
            client.get("/v1/videos/v_nope")
            text = client.get("/metrics", headers=live.operator).text
    finally:
        live.stop()
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def test_every_series_and_label_the_dashboard_reads_is_scraped(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = list(_queries(dashboard))
    assert len(queries) >= 20, "the dashboard lost its panels"
    scraped = _scrape(tmp_path)
    missing: list[str] = []
    for query in queries:
        used = _SERIES.findall(query)
        assert used, f"a query that reads no stormproof series: {query}"
        known: set[str] = set()
        for name, matchers in used:
            if name not in scraped:
                missing.append(f"{name} (in {query})")
                continue
            known |= scraped[name]
            missing += [
                f"label {label} of {name}"
                for label in _MATCHER.findall(matchers)
                if label not in scraped[name]
            ]
        for grouping in _GROUPING.findall(query):
            for label in filter(None, (part.strip() for part in grouping.split(","))):
                if label not in known:
                    missing.append(f"label {label} grouped by in {query}")
    assert not missing, "\n".join(missing)


def test_every_panel_reads_the_chosen_data_source_and_has_a_unique_id() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "region", "route"} <= variables
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for used in re.findall(r"\$(\w+)", json.dumps(panel["targets"])):
            assert used in variables or used.startswith("__"), (panel["title"], used)
