"""The Jinja2 environments the status page and postmortems are rendered in.

Made, and Jinja2 imported, at the first page or postmortem rendered rather
than at every region's start: a third of a second of imports from a cold
disk, which a region restarted after a power cut would spend before it
serves anything (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["environment"]


@functools.cache
def environment(*, html: bool) -> Environment:
    """The templates of ``stormproof/status/templates``: autoescaped for
    HTML; for Markdown as written, with a file's last newline kept."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("stormproof.status", "templates"),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=not html,
    )
