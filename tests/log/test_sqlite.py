"""The embedded SQLite log: the shared contract, plus durability across reopen."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormproof.events import UNDECODABLE, FollowStarted, new_event
from stormproof.log import Log
from stormproof.log.sqlite import SqliteLog
from tests.log.contract import LogContract


class TestSqliteLog(LogContract):
    @pytest.fixture(autouse=True)
    async def _folder(self, tmp_path: Path) -> AsyncIterator[None]:
        self.folder = tmp_path
        self.logs: list[SqliteLog] = []
        yield
        for log in self.logs:
            await log.close()

    async def make_log(self) -> Log:
        log = SqliteLog(self.folder / f"log{len(self.logs)}.sqlite")
        self.logs.append(log)
        await log.start()
        return log


async def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    log = SqliteLog(path)
    appended = await log.append("k", new_event(FollowStarted(followee_id="u"), actor="a"))
    await log.close()
    reopened = SqliteLog(path)
    assert [e.event for e in await reopened.read(0, 0)] == [appended.event]
    assert (await reopened.append("k", appended.event)).duplicate


async def test_log_is_fsynced_on_commit(tmp_path: Path) -> None:
    log = SqliteLog(tmp_path / "log.sqlite")
    mode = log._db.execute("PRAGMA synchronous").fetchone()[0]
    assert mode == 2  # FULL


async def test_corrupt_bodies_read_as_undecodable_entries_not_sqlite_errors(
    tmp_path: Path,
) -> None:
    # Guards: one damaged entry must not stop every reader of the log; the
    # view store quarantines it (tests/views/test_quarantine.py).
    path = tmp_path / "log.sqlite"
    log = SqliteLog(path)
    await log.append("k", new_event(FollowStarted(followee_id="u"), actor="a"))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE log SET body = ?", (b"not json",))
    [entry] = await log.read(0, 0)
    assert (entry.seq, entry.key, entry.event.type) == (1, "k", UNDECODABLE)
