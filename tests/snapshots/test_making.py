"""A snapshot is the views at one position, even while they keep changing:
its digests equal those of views rebuilt from the log up to that position."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from stormproof.log.sqlite import SqliteLog
from stormproof.snapshots import Snapshots
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from tests.conftest import make_settings
from tests.snapshots.history import append_history


async def test_a_snapshot_is_one_position_while_the_views_keep_changing(tmp_path: Path) -> None:
    # Guards how the views are copied: the live file's bytes (without its
    # WAL, or read across commits) would miss or mix commits; SQLite's backup
    # in one step reads one committed state.
    settings = make_settings(tmp_path / "region")
    await append_history(settings.log_path, range(1200))
    log = SqliteLog(settings.log_path)
    entries = await log.read(0, 0, 1200)
    await log.close()
    store = ViewStore(settings.views_path, all_views())
    store.apply(entries[:200])
    going = threading.Event()

    def write() -> None:  # the projector, applying the rest in small batches
        for start in range(200, len(entries), 5):
            store.apply(entries[start : start + 5])
            if start >= 300:
                going.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        await asyncio.to_thread(going.wait)
        manifest = await Snapshots(settings).make_or_reuse()
    finally:
        writer.join()
    store.close()
    (at,) = manifest.position
    assert 300 < at <= 1200

    rebuilt = ViewStore(tmp_path / "rebuilt.sqlite", all_views())
    rebuilt.apply(entries[:at])
    assert rebuilt.digests() == {"position": [at], "views": manifest.digests}
    rebuilt.close()
