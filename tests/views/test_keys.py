"""The keys view's record of applied writes: a short tail past a position is
read with a short read (whatever it returns is checked against the table by
the stateful test, tests/views/test_stateful.py)."""

from __future__ import annotations

import re
from pathlib import Path

from stormproof.log.sqlite import SqliteLog
from stormproof.views import all_views
from stormproof.views.keys import applied_after
from stormproof.views.store import ViewStore
from tests.snapshots.history import append_history

WINDOW = re.compile(r"FROM keys WHERE rowid > (\d+) AND rowid <= (\d+)")


async def test_a_short_tail_reads_about_its_own_rows_not_a_whole_chunk(tmp_path: Path) -> None:
    # Guards a restart's catch-up: a tail of 52 entries was read as a chunk
    # of 20,000 rows, backwards, 0.53 s from a cold file at 1M entries.
    await append_history(tmp_path / "log.sqlite", range(3_000))
    log = SqliteLog(tmp_path / "log.sqlite")
    store = ViewStore(tmp_path / "views.sqlite", all_views())
    try:
        store.apply(await log.read(0, 0, 3_000))
        db = store.reader()
        target = store.position(db)
        assert target == (3_000,)
        statements: list[str] = []
        db.set_trace_callback(statements.append)

        tail = applied_after(db, (2_990,), target)
        read = [(int(low), int(top)) for s in statements for low, top in WINDOW.findall(s)]
        assert [e.seq for e in tail] == list(range(2_991, 3_001))
        assert sum(top - low for low, top in read) <= 2 * (10 + 16), read

        statements.clear()  # a longer one still comes whole, in growing reads
        tail = applied_after(db, (1_000,), target, chunk=700)
        read = [(int(low), int(top)) for s in statements for low, top in WINDOW.findall(s)]
        assert [e.seq for e in tail] == list(range(1_001, 3_001))
        assert max(top - low for low, top in read) == 700
    finally:
        store.close()
        await log.close()
