"""benchmarks/failover.py's own logic (the benchmark itself runs a cluster)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from stormproof.loadgen import Op, Workload

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "failover.py"


def _failover() -> ModuleType:
    spec = importlib.util.spec_from_file_location("failover_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_failover_benchmark_picks_a_region_before_any_write_answered() -> None:
    # Guards issue 10: `_busiest()` crashed with "max() arg is an empty
    # sequence" when no write had been answered yet (3 runs in 4 on a loaded
    # machine, where log-ins outlasted the fixed warm-up).
    failover = _failover()
    urls = ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    workload = Workload(urls, users=2, video=b"")
    assert failover._busiest(workload, default=urls[0]) == urls[0]
    workload.ops.append(Op("message", "t", "u", 0.0, 1.0, "ok", urls[1]))
    assert failover._busiest(workload, default=urls[0]) == urls[1]
