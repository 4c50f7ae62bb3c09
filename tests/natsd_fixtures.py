"""A real 3-server JetStream cluster on loopback, for the log and blob tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from stormproof.natsd import NatsCluster

__all__ = ["running_cluster", "unique_prefix"]


def running_cluster(folder: Path) -> Iterator[NatsCluster]:
    """Start three servers (us-east, us-central, us-west); SIGKILL them after."""
    cluster = NatsCluster.local(folder).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def unique_prefix(kind: str) -> str:
    """A stream-name prefix no other test uses, so one cluster serves many tests."""
    return f"{kind}{uuid.uuid4().hex[:10].upper()}"
