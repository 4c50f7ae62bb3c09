"""Each package depends one way inside: no module imports one that imports
it back (an import moved into a function to dodge a cycle counts too)."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

import stormproof

ROOT = Path(stormproof.__file__).parent
PACKAGES = [
    "recommend", "views", "actions", "api", "api/routers", "media", "log", "blobs", "drill",
    "snapshots", "status",
]  # fmt: skip


def _imports(path: Path, package: str) -> set[str]:
    """Every module of ``package`` that ``path`` imports, at module level or
    inside a function alike."""
    dotted = "stormproof." + package.replace("/", ".")
    prefix = dotted + "."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n[len(prefix) :].split(".")[0] for n in names if n.startswith(prefix)}
        if dotted in names:  # the package itself: its __init__
            found.add("__init__")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_of_a_package_import_each_other_one_way(package: str) -> None:
    # Guards the cycle recommend/baselines -> offline -> baselines (once dodged
    # by an import inside make_baseline) and views/<view> -> views (the
    # package) -> <view>, once dodged by imports inside all_views().
    folder = ROOT / package
    modules = {p.stem for p in folder.glob("*.py")}
    graph = {m: _imports(folder / f"{m}.py", package) & modules for m in modules}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle


def test_the_command_line_starts_without_the_servers_modules() -> None:
    """Guards the CLI's start: every command once imported the whole server
    (the views, the log, nats-py, PyAV, FastAPI) — about a second of CPU for
    `stormproof ledger balance` or `cluster status`, before doing anything.
    The commands that need them import them when they run."""
    heavy = [
        "stormproof.region", "stormproof.events", "stormproof.views", "stormproof.log",
        "nats", "av", "numpy", "uvicorn", "fastapi",
    ]  # fmt: skip
    probe = f"import sys, stormproof.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_region_starts_without_pyav_or_jinja2() -> None:
    """Guards a restart's imports (docs/benchmarks.md): PyAV (about 100 MB
    of FFmpeg libraries) and Jinja2 were imported by every region's API
    process at start — from a cold disk after a power cut — though only its
    media workers probe videos and only a status page or postmortem
    rendered needs templates. What `cluster region` and `serve` import
    before they serve, nothing of it."""
    start = (
        "import sys; from stormproof.region import Region; import uvicorn; "
        "from stormproof.api import create_app; from stormproof.api.serving import server_config; "
        "from stormproof.demo import seed_demo; from stormproof import media; "
        "print([m for m in ('av', 'jinja2') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", start], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
