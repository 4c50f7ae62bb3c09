"""Fixtures for the log tests: real nats-server clusters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stormproof.natsd import NatsCluster
from tests.natsd_fixtures import running_cluster


@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One cluster for a whole module: tests use their own streams, never kill it."""
    yield from running_cluster(tmp_path_factory.mktemp("nats"))


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A cluster for one test, which may kill, freeze and restart its servers."""
    yield from running_cluster(tmp_path_factory.mktemp("nats"))
