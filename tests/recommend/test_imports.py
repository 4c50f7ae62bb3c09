"""recommend/ depends one way: no module imports one that imports it back."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import stormproof.recommend

PACKAGE = Path(stormproof.recommend.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every recommend module ``path`` imports, at module level or inside a
    function alike: an import moved into a function to dodge a cycle is
    still a cycle."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n.rsplit(".", 1)[1] for n in names if n.startswith("stormproof.recommend.")}
    return found


def test_recommend_modules_import_each_other_one_way() -> None:
    # Guards the cycle baselines -> offline -> baselines, once dodged by an
    # import inside make_baseline.
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {m: _imports(PACKAGE / f"{m}.py") & modules for m in modules}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle
