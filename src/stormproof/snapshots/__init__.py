"""Snapshots: a region that lost its disks restores from a healthy peer.

Rebuilding views from sequence 0 replays the whole log (~2,500 entries/s).
Instead, a healthy region ships a consistent copy of its views and its For
You engine checkpoint at a known log position, with a manifest of digests
(:mod:`~stormproof.snapshots.making`, served to operators by
``api/routers/snapshots.py``); the recovering region verifies it before
trusting it and replays only the tail (:mod:`~stormproof.snapshots.restoring`).
A snapshot that fails any check is dropped, and the region rebuilds from 0
as before. See ``docs/adr/017-recovery-from-peer-snapshots.md``.
"""

from __future__ import annotations

from stormproof.snapshots.making import Snapshots
from stormproof.snapshots.manifest import Manifest, SnapshotError
from stormproof.snapshots.restoring import Rejection, RestoreReport, restore_from_peers

__all__ = [
    "Manifest",
    "Rejection",
    "RestoreReport",
    "SnapshotError",
    "Snapshots",
    "restore_from_peers",
]
