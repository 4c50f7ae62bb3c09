from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from stormproof.drill.plots import PLOTS
from stormproof.drill.report import software_version, summary, write_report
from stormproof.drill.series import aggregate
from tests.drill.report_fixture import DURATION_S, drill_ops, drill_report

Written = tuple[dict[str, Any], dict[str, Path], str]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """What the report expects in JSON, the paths written, the HTML page (drawn once)."""
    series = aggregate(drill_ops(), DURATION_S)
    report = drill_report(series)
    paths = write_report(report, series, tmp_path_factory.mktemp("drill") / "out")
    return {**report, "series": series.as_dict()}, paths, paths["html"].read_text()


def test_the_json_round_trips_with_the_series(written: Written) -> None:
    expected, paths, _ = written

    assert set(paths) == {"json", "html", "png"}
    assert [p.name for p in paths.values()] == ["report.json", "report.html", "plots.png"]
    assert paths["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    document = json.loads(paths["json"].read_text())
    assert document == expected
    assert len(document["series"]["successes_per_s"]) == DURATION_S
    assert document["ops"]["feed"]["attempted"] == 3 * DURATION_S - 2
    assert document["ops"]["feed"]["longest_wait_s"] == 3.22  # ana, from 20 s to 23.22 s


def test_the_html_fetches_nothing(written: Written) -> None:
    _, _, page = written

    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""url\(\s*["']?(?!#)""", page)  # only the SVGs' own #ids
    assert "@import" not in page


def test_the_html_inlines_one_svg_per_plot(written: Written) -> None:
    _, _, page = written

    assert page.count("<svg") == len(PLOTS) >= 5
    for caption, _, _ in PLOTS:
        assert f"<figcaption>{caption}</figcaption>" in page


def test_the_html_shows_the_verdict_timeline_and_figures(written: Written) -> None:
    _, _, page = written

    assert re.search(r'class="verdict"[^>]*>degraded as designed<', page)
    assert "<li>no acknowledged write was lost</li>" in page
    assert (
        "<tr><td>power_cut</td><td>eu</td><td>cut eu</td>"
        "<td class=n>20</td><td class=n>20.04</td></tr>"
    ) in page
    never_ran = "<td>partition</td><td>ap</td><td>cut ap off</td><td class=n>35</td><td>—</td>"
    assert never_ran in page
    assert "<td>unknown_absent</td>" not in page  # a header, not a row
    assert "<th>unknown_absent</th>" in page
    assert "<td>eu</td><td>ab12</td><td>cd34</td>" in page  # region digests
    assert "share_of_one_core" in page and "continuity_overlap_at_20" in page
    assert f"stormproof {software_version()}" in page


def test_the_html_escapes_what_the_report_says(written: Written) -> None:
    _, _, page = written

    assert "<b>" not in page
    assert "Cut the power to &lt;b&gt;eu&lt;/b&gt; &amp; watch what people see." in page
    # the scenario's TOML, verbatim and escaped
    assert "description = &quot;cut &lt;b&gt;eu&lt;/b&gt; &amp; see&quot;" in page
    assert "[[fault]]\nkind = &quot;power_cut&quot;" in page


def test_the_summary_shows_each_operation_and_the_verdict() -> None:
    report = drill_report()
    report["reasons"] = [*report["reasons"], "a [bold]reason[/bold] is printed as written"]
    console = Console(record=True, width=140)

    console.print(summary(report))

    text = console.export_text()
    assert re.search(r"feed\s+│\s+118\s+│\s+117\s+│\s+0\s+│\s+1\s+│", text)
    assert "Verdict: degraded as designed" in text
    assert "feeds slowed during the cut, as designed" in text
    assert "a [bold]reason[/bold] is printed as written" in text
    assert "0 lost, 0 duplicated" in text
    assert "eu ready in 8.5 s (start 1.5 s, engine 0.5 s, views 6.5 s)" in text


def test_the_report_says_what_the_status_page_said(written: Written) -> None:
    """Issue 13, item 7: the incident each blow opened (seconds after it),
    its updates, its resolution after the restore, whether the status page
    answered from every surviving region, and the postmortem draft."""
    _, _, page = written

    assert "What the status page said" in page
    assert "every surviving region throughout: <strong>yes</strong>" in page
    assert (
        "<td>power_cut</td><td>eu</td><td class=n>20.04</td><td>inc_1</td>"
        "<td class=n>6.5</td><td class=n>7</td><td class=n>12.2</td>"
        "<td>out/postmortem-inc_1.md</td>"
    ) in page
    assert "<h3>Sign-in down in &lt;b&gt;eu&lt;/b&gt;</h3>" in page
    assert "investigating: Sign-in stopped &lt;i&gt;working&lt;/i&gt;" in page
    console = Console(record=True, width=200)
    console.print(summary(drill_report()))
    text = console.export_text()
    assert "eu power_cut: incident opened 6.5 s after, 2 updates, resolved 12.2 s after" in text
    assert "status page reachable from every surviving region: yes" in text
    assert "out/postmortem-inc_1.md" in text


def test_the_report_lists_the_creators_the_outage_touched_and_their_credits(
    written: Written,
) -> None:
    """Issue 15, item 5: creators affected, and the credit the outage would
    earn each against the drill's short "month"."""
    _, _, page = written
    assert "<h3>Creators affected</h3>" in page
    assert (
        "<td>u_ann</td><td class=n>2</td><td>—</td><td class=n>10</td><td class=n>100</td>"
        "<td class=n>1500</td>"
    ) in page
    console = Console(record=True, width=200)
    console.print(summary(drill_report()))
    assert "1 affected, credits 1,500 millionths" in console.export_text()


def test_importing_the_report_does_not_import_matplotlib() -> None:
    # guards the CLI's start-up time: matplotlib is imported only to draw
    code = "import sys, stormproof.drill.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert result.stdout.strip() == b"False"
