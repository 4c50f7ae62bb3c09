"""``stormproof drill`` end to end: a real cluster, real faults, real people.

Each test runs a whole quick drill (about a minute) through the command line,
as an operator or a CI pipeline would, and judges it by its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _drill_processes() -> list[str]:
    """Every process whose command line names a drill's cluster folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "stormproof-drill-" in line or "stormproof.drill.proxy" in line:
                found.append(f"{entry.name}: {line}")
    return found


def _drill(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "stormproof.cli", "drill", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert (out / "report.json").exists(), done.stdout + done.stderr
    return done.returncode, json.loads((out / "report.json").read_text()), done.stdout


@pytest.mark.timeout(300)
def test_a_quick_snowstorm_passes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    code, report, stdout = _drill(tmp_path, "snowstorm", "--quick")
    assert report["verdict"] == "passed", (report["reasons"], stdout)
    assert code == 0
    writes = report["writes"]
    assert writes["acknowledged"] > 0
    assert (writes["lost"], writes["duplicated"]) == (0, 0), writes
    assert report["converged"]
    assert len(report["region_digests"]) == 3
    for_you = report["for_you"]
    assert for_you["continuity_overlap_at_20"] > for_you["cold_start_overlap_at_20"]
    # Every fault of the timeline happened, and the cut was a real SIGKILL.
    assert all(e["actual_s"] is not None for e in report["timeline"]), report["timeline"]
    cut = next(e for e in report["timeline"] if e["kind"] == "power_cut")
    assert cut["killed"] and all(status == -9 for status in cut["killed"].values()), cut
    assert report["recovery_s"] and report["recovery_s"][0]["seconds"] is not None
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("<svg") >= 4
    assert "power cut" in html
    assert not _drill_processes()


@pytest.mark.timeout(300)
def test_two_regions_down_is_degraded_as_designed_and_loses_nothing(tmp_path: Path) -> None:
    code, report, stdout = _drill(tmp_path, "two_regions", "--quick")
    assert report["verdict"] == "degraded as designed", (report["reasons"], stdout)
    assert code == 0
    writes = report["writes"]
    assert (writes["lost"], writes["duplicated"]) == (0, 0), writes
    assert report["converged"]
    # While no quorum stood, writes were refused with a code that says why.
    refused = report["refused_codes"]
    assert refused, report["ops"]
    assert set(refused) <= {"log_unavailable", "no_quorum", "regions_unavailable"}
    assert not _drill_processes()
