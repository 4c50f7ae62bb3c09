"""What the idle I/O class (ADR 037) buys a cold start on this machine's disk.

A foreground reader makes random 4 KiB reads of a cold file — what a process
starting from a cold page cache does as it faults in its libraries and the
pages of its files — alone, then while a background process reads another
file from start to end over and over (what a snapshot made ahead does with
its copy of the views), once in the default I/O class and once in the idle
class it runs in since ADR 037 (`stormproof.priority.lowered_command`, the
same nice(1) and ionice(1) prefix). Each round begins with both files out of
the page cache (`POSIX_FADV_DONTNEED`; no root needed), and the background
drops what it read behind it, so every read goes to the disk. It prints the
foreground's reads a second in each case, and the background's MB/s.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/io_priority.py
       [--work DIR] [--size-mb N] [--reads N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stormproof.priority import lowered_command

#: the background reader: reads FILE in 1 MiB pieces, start to end, again
#: and again, dropping what it read, until stdin closes; prints MB/s
READER = """
import os, sys, threading
path, chunk = sys.argv[1], 1 << 20
fd = os.open(path, os.O_RDONLY)
size, done, stop = os.fstat(fd).st_size, 0, threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
print("reading", flush=True)
import time
began = time.monotonic()
while not stop.is_set():
    for at in range(0, size, chunk):
        done += len(os.pread(fd, chunk, at))
        if stop.is_set():
            break
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
print(round(done / (time.monotonic() - began) / 1e6, 1), flush=True)
"""


def make_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes of noise, written to the disk."""
    piece = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(size // len(piece)):
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())


def drop(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def random_reads(path: Path, reads: int, seed: int) -> float:
    """Reads a second: ``reads`` random 4 KiB reads of ``path``."""
    rng = random.Random(seed)
    fd = os.open(path, os.O_RDONLY)
    try:
        pages = os.fstat(fd).st_size // 4096
        began = time.monotonic()
        for _ in range(reads):
            os.pread(fd, 4096, rng.randrange(pages) * 4096)
        return reads / (time.monotonic() - began)
    finally:
        os.close(fd)


def round_(fore: Path, back: Path, reads: int, seed: int, background: str) -> tuple[float, str]:
    """The foreground's reads a second with ``background`` ("none",
    "default" or "idle"), and the background's MB/s ("" for none)."""
    drop(fore)
    drop(back)
    if background == "none":
        return random_reads(fore, reads, seed), ""
    command = [sys.executable, "-c", READER, str(back)]
    if background == "idle":
        command = lowered_command(command)
    reader = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None
    reader.stdout.readline()  # "reading"
    time.sleep(0.5)  # its reads fill the disk's queue
    rate = random_reads(fore, reads, seed)
    out, _ = reader.communicate("")
    return rate, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="a folder on the disk to measure")
    parser.add_argument("--size-mb", type=int, default=1024, help="each file's size")
    parser.add_argument("--reads", type=int, default=1500, help="foreground reads a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        fore, back = Path(folder) / "foreground", Path(folder) / "background"
        make_file(fore, args.size_mb << 20)
        make_file(back, args.size_mb << 20)
        print(f"files: 2 x {args.size_mb} MB in {folder}; {args.reads} reads a round", flush=True)
        found: dict[str, list[float]] = {"none": [], "default": [], "idle": []}
        for n in range(args.rounds):
            for background in found:
                rate, back_rate = round_(fore, back, args.reads, n, background)
                found[background].append(rate)
                also = f", background {back_rate} MB/s" if back_rate else ""
                print(f"round {n + 1}, background {background}: {rate:,.0f} reads/s{also}")
        for background, rates in found.items():
            print(f"{background}: {', '.join(f'{r:,.0f}' for r in rates)} reads/s")


if __name__ == "__main__":
    main()
