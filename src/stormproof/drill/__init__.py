"""``stormproof drill``: cut a data center's power under real user load, and
prove what users saw.

:mod:`~stormproof.drill.scenario` reads the scenario files,
:mod:`~stormproof.drill.proxy` puts round-trip times and partitions between
regions, :mod:`~stormproof.drill.people` are the simulated users,
:mod:`~stormproof.drill.runner` runs it all, :mod:`~stormproof.drill.checker`
reads every write back and :mod:`~stormproof.drill.report` says what happened.
"""

from typing import TYPE_CHECKING, Any

from stormproof.drill.ops import Op
from stormproof.drill.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario

if TYPE_CHECKING:
    from stormproof.drill.runner import DrillResult, run_drill

__all__ = [
    "DrillResult",
    "Op",
    "Scenario",
    "ScenarioError",
    "builtin_scenarios",
    "load_scenario",
    "run_drill",
]


def __getattr__(name: str) -> Any:
    """The runner on first use: the WAN proxy's process (``python -m
    stormproof.drill.proxy``) imports this package and needs none of it."""
    if name in ("DrillResult", "run_drill"):
        from stormproof.drill.runner import DrillResult, run_drill

        return {"DrillResult": DrillResult, "run_drill": run_drill}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
