"""The CPU and disk priority of a region's work for later (ADR 034, 037).

A region does two kinds of work: what someone waits for now — requests, the
catch-up that makes it ready, a peer's restore — and what only a later
moment needs: engine checkpoints, snapshots made ahead for a peer that may
one day lose its disks, transcoding. The second kind runs at niceness
:data:`BACKGROUND`, so whenever both want a core the first gets it: a save
or a snapshot takes longer on a busy machine, and a request or a restart
does not wait for it. Its reads of the disk are in Linux's idle I/O class
(ADR 037): schedulers with I/O classes (mq-deadline, BFQ) serve them when
nothing else waits for the disk, or after ``prio_aging_expire`` (10 s by
default), so that a restart reading its checkpoint and libraries from a
cold disk need not queue behind a peer's snapshot (not shown to help on
this project's benchmark machine, a virtual disk: docs/benchmarks.md). Linux keeps a
niceness and an I/O priority per thread; a process's new threads and
children take those of the thread that made them.

(``media/transcode.py`` runs as a script that imports nothing of the
server, and lowers its niceness the same way; not its I/O class: it reads
one upload's source.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import threading

__all__ = ["BACKGROUND", "lower_this_thread", "lowered_command"]

#: the niceness of work for later; 0 is everyone's default, 19 the lowest
BACKGROUND = 10

#: ioprio_set(2)'s number, where we know it (the C library has no wrapper)
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30}.get(platform.machine())
#: ioprio_set(2): the "who" of one thread (a process's tid), and the idle class's value
_IOPRIO_WHO_PROCESS, _IOPRIO_IDLE = 1, 3 << 13


def lower_this_thread() -> None:
    """Run the calling thread (of a child process: the whole child) at
    :data:`BACKGROUND`, or lower if it runs lower already. Once lowered, a
    thread cannot come back up without privileges: call it only in a child
    or a thread that does nothing but work for later."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux or BSD: as it is
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, max(os.getpriority(os.PRIO_PROCESS, me), BACKGROUND))
    _idle_io()


def lowered_command(command: list[str]) -> list[str]:
    """``command`` run as work for later from its first instant: through
    nice(1), and ionice(1) where there is one (util-linux)."""
    idle = ["ionice", "-c", "3"] if shutil.which("ionice") else []
    return ["nice", "-n", str(BACKGROUND), *idle, *command]


def _idle_io() -> None:
    """Put the calling thread's disk reads in the idle I/O class (Linux on
    x86-64 and ARM64; elsewhere nothing changes)."""
    if _IOPRIO_SET is None or platform.system() != "Linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(_IOPRIO_SET, _IOPRIO_WHO_PROCESS, 0, _IOPRIO_IDLE)  # 0: this thread
