"""Fixtures for the view tests that need a real nats-server cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stormproof.natsd import NatsCluster
from tests.natsd_fixtures import running_cluster


@pytest.fixture(scope="module")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    yield from running_cluster(tmp_path_factory.mktemp("nats"))
