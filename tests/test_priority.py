"""Work for later runs below the work someone waits for (ADR 034, 037):
engine checkpoints and snapshots made ahead lower themselves, on the CPU and
on the disk; a snapshot a peer asked for and a restore's checks do not.
Each niceness is read from /proc, each I/O class from ioprio_get(2), as the
kernel schedules them."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Awaitable
from pathlib import Path

import pytest

from stormproof.log.sqlite import SqliteLog
from stormproof.priority import BACKGROUND, lower_this_thread, lowered_command
from stormproof.recommend import checkpoint
from stormproof.recommend.engine import Engine
from stormproof.snapshots import Manifest, Snapshots
from stormproof.snapshots.digests import view_digests
from stormproof.snapshots.manifest import VIEWS
from stormproof.snapshots.packing import packed_name, zstd
from stormproof.views import all_views
from stormproof.views.store import ViewStore
from tests.conftest import make_settings
from tests.snapshots.history import append_history

WORKER = "stormproof.snapshots.worker"


def _stat(path: Path) -> list[str]:
    """The fields of a /proc stat file after the command's name (which may
    hold spaces): index 0 is the state, 1 the parent's pid, 16 the niceness."""
    return path.read_text().rsplit(")", 1)[1].split()


def _nice(tid: int) -> int:
    return int(_stat(Path(f"/proc/self/task/{tid}/stat"))[16])


#: ioprio_get(2)'s number on this machine
IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine())
IDLE, NONE = 3, 0
needs_ioprio = pytest.mark.skipif(IOPRIO_GET is None, reason="ioprio_get(2) unknown here")


def _io_class(tid: int) -> int:
    """The I/O scheduling class of thread (or process) ``tid``: 0 none (the
    default: from its niceness), 1 real time, 2 best effort, 3 idle."""
    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(IOPRIO_GET, 1, tid)  # IOPRIO_WHO_PROCESS
    assert value >= 0, os.strerror(ctypes.get_errno())
    return int(value) >> 13


def _my_children() -> dict[int, tuple[list[str], int]]:
    """This process's children now: pid → (command line, niceness)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = _stat(proc / "stat")
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == os.getpid():
            found[int(proc.name)] = (argv, int(fields[16]))
    return found


async def _digest_workers_during(work: Awaitable[object]) -> list[tuple[int, int | None]]:
    """The niceness and I/O class (None where unknown, or the worker gone
    meanwhile) of every look at a digest worker this process started while
    ``work`` ran (one look every few milliseconds; a worker lives for an
    interpreter's start at least). A process that is still nice(1) or
    ionice(1), or not yet anything, does not count."""
    seen: list[tuple[int, int | None]] = []
    done = threading.Event()
    libc = ctypes.CDLL(None, use_errno=True)

    def watch() -> None:
        while not done.is_set():
            for pid, (argv, nice) in _my_children().items():
                if WORKER in argv and Path(argv[0]).name not in ("nice", "ionice"):
                    value = libc.syscall(IOPRIO_GET, 1, pid) if IOPRIO_GET else -1
                    seen.append((nice, value >> 13 if value >= 0 else None))
            done.wait(0.003)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        await work
    finally:
        done.set()
        watcher.join()
    return seen


def test_a_thread_that_lowers_itself_lowers_itself_and_what_it_starts_only() -> None:
    main = threading.get_native_id()
    before = _nice(main)
    found: dict[str, int] = {}

    def lowered() -> None:
        lower_this_thread()
        found["thread"] = _nice(threading.get_native_id())
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.nice(0))"],
            capture_output=True,
            check=True,
            text=True,
        )
        found["child"] = int(child.stdout)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND + 5)
        lower_this_thread()  # never raises a thread that runs lower already
        found["lower already"] = _nice(threading.get_native_id())

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert before < BACKGROUND
    assert found == {"thread": BACKGROUND, "child": BACKGROUND, "lower already": BACKGROUND + 5}
    assert _nice(main) == before


@needs_ioprio
def test_a_thread_that_lowers_itself_reads_the_disk_in_the_idle_class_and_so_do_its_children() -> (
    None
):
    main = threading.get_native_id()
    found: dict[str, int] = {}

    def lowered() -> None:
        lower_this_thread()
        found["thread"] = _io_class(threading.get_native_id())
        child = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
        found["child"] = _io_class(child.pid)
        child.communicate(b"\n")

    thread = threading.Thread(target=lowered)
    thread.start()
    thread.join()
    assert found == {"thread": IDLE, "child": IDLE}
    assert _io_class(main) == NONE


@needs_ioprio
def test_a_lowered_command_starts_at_the_background_niceness_and_in_the_idle_io_class() -> None:
    script = (
        "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
        f"print(os.nice(0), libc.syscall({IOPRIO_GET}, 1, 0) >> 13)"
    )
    ran = subprocess.run(
        lowered_command([sys.executable, "-c", script]), capture_output=True, check=True, text=True
    )
    assert ran.stdout.split() == [str(BACKGROUND), str(IDLE)]


def test_a_checkpoint_is_saved_by_a_child_at_the_background_priority(tmp_path: Path) -> None:
    engine = Engine()
    engine.upload("v0", "c", 0, 1000)
    engine.interact("u", "v0", "watch", (10, "e0", 0), 1000, True)
    engine.position = (2,)
    pid, _, _ = checkpoint.save_in_child(engine, tmp_path / "foryou.checkpoint")
    # Wait for it to exit but leave it unreaped: its /proc entry stays, with
    # the niceness it ended with.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    nice = int(_stat(Path(f"/proc/{pid}/stat"))[16])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert nice == BACKGROUND != _nice(threading.get_native_id())


async def test_a_snapshot_made_ahead_is_made_below_the_requests_one_asked_for_is_not(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "region", snapshot_reuse_s=0)
    await append_history(settings.log_path, range(60))
    log = SqliteLog(settings.log_path)
    store = ViewStore(settings.views_path, all_views())
    store.apply(await log.read(0, 0, 60))
    await log.close()
    store.close()
    threads_before = {int(t.name) for t in Path("/proc/self/task").iterdir()}
    snapshots = Snapshots(settings)

    made = await _digest_workers_during(snapshots.make_or_reuse(ahead=True))
    assert made and {nice for nice, _ in made} == {BACKGROUND}
    if IOPRIO_GET is not None:
        assert {io for _, io in made} - {None} == {IDLE}
    lowered = {
        int(t.name)
        for t in Path("/proc/self/task").iterdir()
        if int(t.name) not in threads_before and _nice(int(t.name)) == BACKGROUND
    }
    assert len(lowered) == 1  # the thread that copied and hashed, alone
    assert _nice(threading.get_native_id()) < BACKGROUND  # not the loop's

    # A peer that lost its disks waits for one made when it asks, and for
    # its own checks of it: neither is lowered.
    ours = _nice(threading.get_native_id())
    asked: list[Manifest] = []

    async def ask() -> None:
        asked.append(await snapshots.make_or_reuse())

    made_asked = await _digest_workers_during(ask())
    assert made_asked and {nice for nice, _ in made_asked} == {ours}
    assert {io for _, io in made_asked} - {None} <= {NONE}
    packed = settings.snapshots_dir / asked[0].id / packed_name(VIEWS)
    views = tmp_path / VIEWS  # expanded, as the peer that asked checks it
    views.write_bytes(zstd.decompress(packed.read_bytes()))
    checked = await _digest_workers_during(view_digests(views, workers=2))
    assert checked and {nice for nice, _ in checked} == {ours}
    assert {io for _, io in checked} - {None} <= {NONE}
