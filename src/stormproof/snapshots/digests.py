"""Each view's digest, computed from a views file in child processes.

A digest reads every row of a view into Python
(:meth:`~stormproof.views.base.View.digest`): about 7 s for a 462 MB views
file, 1.3M rows, on one core. Held in the serving process, that would take
the interpreter lock from its requests for as long, so the work runs in
fresh interpreters (:mod:`stormproof.snapshots.worker`): one beside a
serving region, one per core in a region that is restoring and serves
nothing yet, each given the largest views left first. The digests are
exactly ``ViewStore.digests()``'s, without the engine's. A snapshot made
ahead digests in the background (ADR 034); a restore, which someone waits
for, does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from pathlib import Path

from stormproof.priority import lowered_command
from stormproof.snapshots.manifest import SnapshotError, open_read_only
from stormproof.views import View, all_views

__all__ = ["view_digests"]


async def view_digests(path: Path, workers: int = 1, *, background: bool = False) -> dict[str, str]:
    """Every view's digest of the views file at ``path``, by ``workers``
    processes — at :data:`~stormproof.priority.BACKGROUND` with ``background``."""
    views = all_views()
    rows = await asyncio.to_thread(_row_counts, path, views)
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(views))))]
    loads = [0] * len(groups)
    for view in sorted(views, key=lambda v: -rows[v.name]):
        least = loads.index(min(loads))
        groups[least].append(view.name)
        loads[least] += rows[view.name]
    found: dict[str, str] = {}
    parts = [_digest_in_child(path, names, background) for names in groups]
    for part in await asyncio.gather(*parts):
        found.update(part)
    return {view.name: found[view.name] for view in views}


def _row_counts(path: Path, views: list[View]) -> dict[str, int]:
    try:
        db = open_read_only(path)
        try:
            return {
                view.name: sum(
                    db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in view.tables
                )
                for view in views
            }
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise SnapshotError(f"cannot read {path.name}: {exc}") from exc


async def _digest_in_child(path: Path, names: list[str], background: bool) -> dict[str, str]:
    if not names:
        return {}
    command = [sys.executable, "-m", "stormproof.snapshots.worker", str(path), *names]
    child = await asyncio.create_subprocess_exec(
        # lowered from its first instant: CPU and disk (ADR 034, 037)
        *(lowered_command(command) if background else command),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await child.communicate()
    finally:
        if child.returncode is None:  # cancelled: the work is no one's any more
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    if child.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise SnapshotError(f"digesting {path.name} failed: {tail[0]}")
    try:
        answer = json.loads(out)
    except ValueError as exc:
        raise SnapshotError(f"digesting {path.name} answered no JSON") from exc
    if not isinstance(answer, dict) or set(answer) != set(names):
        raise SnapshotError(f"digesting {path.name} answered other views than asked")
    return {str(name): str(digest) for name, digest in answer.items()}
