"""Which line of a TOML text holds a key.

tomllib parses to plain dicts and lists, without positions. To point at the
line of ``fault[1].region`` we let tomllib itself read ever longer prefixes of
the text: the shortest prefix that parses and holds the key ends on the key's
statement, and that statement starts right after the longest shorter prefix
that parses (no prefix ending inside a multi-line value parses). Using the
parser rather than a scanner of our own keeps every TOML spelling right —
inline tables, dotted and quoted keys, multi-line strings and arrays.

A binary search over the prefixes keeps it to a few dozen parses, on a text
already known to parse, and only when something is wrong with it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

__all__ = ["line_of"]

Path = Sequence[str | int]


def line_of(text: str, path: Path) -> int | None:
    """The line (from 1) where ``path`` — keys and list indices, as in the
    parsed document — is written: a key's first line, a table's header. Of a
    path the document does not hold all of, the longest part it holds is
    located (the table a key is missing from). ``None`` for the document itself
    or a text that does not parse."""
    prefixes = _Prefixes(text)
    document = prefixes.parsed(prefixes.count)
    if document is None:
        return None
    held = _held(document, path)
    if not held:
        return None
    low, high = 1, prefixes.count  # the shortest prefix holding it is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if _holds(prefixes.parsed(prefixes.parsing_at_most(middle)), held):
            high = middle
        else:
            low = middle + 1
    return prefixes.parsing_at_most(low - 1) + 1


class _Prefixes:
    def __init__(self, text: str) -> None:
        # tomllib counts lines by "\n" alone; str.splitlines would also split
        # on characters a TOML string may hold (U+2028, U+0085)
        self.lines = text.split("\n")
        self.count = len(self.lines)
        self._cache: dict[int, dict[str, Any] | None] = {0: {}}

    def parsed(self, lines: int) -> dict[str, Any] | None:
        """The document made of the first ``lines`` lines, or None if they do
        not parse on their own."""
        if lines not in self._cache:
            try:
                self._cache[lines] = tomllib.loads("\n".join(self.lines[:lines]))
            except tomllib.TOMLDecodeError:
                self._cache[lines] = None
        return self._cache[lines]

    def parsing_at_most(self, lines: int) -> int:
        """The longest prefix of at most ``lines`` lines that parses."""
        while self.parsed(lines) is None:
            lines -= 1
        return lines


def _held(document: Any, path: Path) -> list[str | int]:
    """The longest start of ``path`` that ``document`` holds."""
    held: list[str | int] = []
    node = document
    for step in path:
        in_table = isinstance(node, dict) and isinstance(step, str) and step in node
        in_array = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if not (in_table or in_array):
            break
        node = node[step]
        held.append(step)
    return held


def _holds(document: Any, path: Path) -> bool:
    return len(_held(document, path)) == len(path)
