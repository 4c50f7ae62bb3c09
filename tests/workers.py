"""Proof that every collected test ran, and how the suite would share two
pytest-xdist workers.

A run reports only the tests it ran: a test that never ran would go
unnoticed. So the tests collected (by this process, or by each xdist worker)
are compared, counted per node id, with the tests set up when the session
ends; a collected test that was never set up is named and the run fails. A
run stopped early on purpose (``-x``, ``--maxfail``, Ctrl-C) or that only
collects is not checked.

Each test gets a node id of its own: under pytest 9, schemathesis gives all
81 operation tests of tests/api/test_contract.py one id, and xdist, which
sends tests by id, then ran 1 of them and silently dropped 80.

``scripts/test`` runs ``-n 2 --dist loadfile`` (ADR 033: one process kept
less than one core busy, waiting on clusters, drills and browsers; two
workers finish the suite in about 12.5 minutes instead of 22).
:class:`FilesAndDrills` runs each file whole on one worker (its module
fixtures start once) and the files that run drills or WAN proxies on one
worker together: a drill checks that no drill's processes are left on the
machine, and two drills at once on two cores starve each other (ADR 015).
Each worker draws its clusters' ports from its own share of the range
(``STORMPROOF_PORT_SHARE``). (xdist's ``loadgroup`` cannot be used with
pytest 9: the group it appends to a node id is no longer read, so every test
became its own unit.)
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

#: files whose tests run drills or WAN proxies: one worker, one at a time
DRILLS = ("tests/drill/test_drill.py", "tests/drill/test_proxy.py", "tests/test_readme.py")


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or all the drills."""
    path = nodeid.split("::", 1)[0]
    return "drills" if path in DRILLS else path


@pytest.hookimpl(tryfirst=True)  # in each worker, before it tells the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test its own node id. Schemathesis names each API operation's
    test ``test_x[GET /v1/regions]``, but under pytest 9 every one of them has
    the node id ``...::test_x``: xdist, which sends tests by node id, then ran
    one of tests/api/test_contract.py's 81 and silently dropped 80. The id
    gets the operation back, as pytest 8 gave it."""
    shared = Counter(item.nodeid for item in items)
    for item in items:
        node_id = getattr(item, "_id", None)  # pytest 9's structured node id
        named = shared[item.nodeid] > 1 and item.name.endswith("]")
        if named and node_id is not None and node_id.params is None:
            item._id = node_id.with_params(item.name.partition("[")[2][:-1])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndDrills(LoadFileScheduling):
        """``loadfile``, with the drill files as one unit."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return FilesAndDrills(config, log)


class _Ledger:
    """The tests collected, and those run, in this (controlling) process: a
    count per node id (two tests with one id are still two), a test counted
    as run once it was set up (every test is, skipped ones too)."""

    def __init__(self) -> None:
        self.collected: Counter[str] = Counter()
        self.ran: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup":
            self.ran[report.nodeid] += 1


_LEDGER = pytest.StashKey[_Ledger]()


def _worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if not _worker(config):
        config.stash[_LEDGER] = ledger = _Ledger()
        config.pluginmanager.register(ledger, "stormproof-ledger-of-tests")
        return
    # Each worker starts its clusters on ports of its own (free_base_port):
    # else one worker's new cluster could take the ports of the other's
    # region while that one is down, and its restore would fail to bind.
    worker = config.workerinput  # type: ignore[attr-defined]
    number, count = int(worker["workerid"].removeprefix("gw")), worker["workercount"]
    os.environ["STORMPROOF_PORT_SHARE"] = f"{number}/{count}"


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if _LEDGER in session.config.stash:  # this process runs the tests itself
        session.config.stash[_LEDGER].collected = Counter(item.nodeid for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: Sequence[str]) -> None:
    """Each worker collects every test (xdist checks they agree)."""
    node.config.stash[_LEDGER].collected = Counter(ids)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _LEDGER not in config.stash or config.option.collectonly:
        return
    if session.shouldstop or session.shouldfail:
        return
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return
    ledger = config.stash[_LEDGER]
    missing = ledger.collected - ledger.ran
    if not missing:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "tests that never ran", red=True, bold=True)
        total, lost = ledger.collected.total(), missing.total()
        reporter.write_line(f"{lost} of the {total} tests collected never ran:")
        for nodeid, times in sorted(missing.items()):
            reporter.write_line(nodeid + (f" ({times} tests with this id)" if times > 1 else ""))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
