"""The line locator finds a key however the TOML spells it."""

from __future__ import annotations

import pytest

from stormproof.drill.toml_lines import line_of

TEXT = '''\
# a comment
title = """
a multi-line string with "quotes" and an odd\u2028separator
"""
load.viewers = 6
"quoted key" = [
  1,
  2,
]
point = { x = 1, y = 2 }

[[fault]]
at_s = 1

[[fault]]
# its region
region = "us-east"
'''


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (["title"], 2),
        (["load", "viewers"], 5),
        (["load"], 5),
        (["quoted key"], 6),
        (["quoted key", 1], 6),  # a value is named by its key's line
        (["point", "y"], 10),
        (["fault", 0], 12),
        (["fault", 0, "at_s"], 13),
        (["fault", 1, "region"], 17),
        (["fault", 1, "at_s"], 15),  # missing: its table's header
        (["fault", 7, "kind"], 12),  # no such table: the array's first one
    ],
)
def test_a_key_is_found_on_its_line(path: list[str | int], line: int) -> None:
    assert line_of(TEXT, path) == line


def test_nothing_to_point_at() -> None:
    assert line_of(TEXT, []) is None
    assert line_of(TEXT, ["absent"]) is None
    assert line_of("x = = 1", ["x"]) is None
