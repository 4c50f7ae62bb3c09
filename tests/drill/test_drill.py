"""``stormproof drill`` end to end: a real cluster, real faults, real people.

Each test runs a whole quick drill (about a minute) through the command line,
as an operator or a CI pipeline would, and judges it by its report. (The
snowstorm's is the README's own block: ``tests/test_readme.py::test_drill``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.drill.processes import drill_processes


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
    assert not drill_processes()
