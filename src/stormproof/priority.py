"""The CPU priority of a region's work for later (ADR 034).

A region does two kinds of work: what someone waits for now — requests, the
catch-up that makes it ready, a peer's restore — and what only a later
moment needs: engine checkpoints, snapshots made ahead for a peer that may
one day lose its disks, transcoding. The second kind runs at niceness
:data:`BACKGROUND`, so whenever both want a core the first gets it: a save
or a snapshot takes longer on a busy machine, and a request or a restart
does not wait for it. Linux keeps a niceness per thread; a process's new
threads and children take the one of the thread that made them.

(``media/transcode.py`` runs as a script that imports nothing of the
server, and lowers itself the same way.)
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["BACKGROUND", "lower_this_thread"]

#: the niceness of work for later; 0 is everyone's default, 19 the lowest
BACKGROUND = 10


def lower_this_thread() -> None:
    """Run the calling thread (of a child process: the whole child) at
    :data:`BACKGROUND`, or lower if it runs lower already. Once lowered, a
    thread cannot come back up without privileges: call it only in a child
    or a thread that does nothing but work for later."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux or BSD: as it is
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, max(os.getpriority(os.PRIO_PROCESS, me), BACKGROUND))
