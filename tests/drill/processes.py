"""Finding what a drill may have left running."""

from __future__ import annotations

from pathlib import Path


def drill_processes(under: str = "stormproof-drill-") -> list[str]:
    """Every process whose command line names a drill's cluster folder
    (``under``: a drill's folder, or a folder its ``TMPDIR`` put it in) or a
    WAN proxy: after a drill, there must be none."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if under in line or "stormproof.drill.proxy" in line:
                found.append(f"{entry.name}: {line}")
    return found
