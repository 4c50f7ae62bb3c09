"""A page parsed into a tree, to find elements as people do: by what they
are (the tag, standing for its role) and their accessible name — never by
CSS class (STYLE 17)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Node", "parse"]

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)

    def text(self) -> str:
        """The text inside, whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def all(self, tag: str) -> list[Node]:
        return [node for node in self.walk() if node.tag == tag]

    def root(self) -> Node:
        return self if self.parent is None else self.parent.root()

    def name(self) -> str:
        """Its accessible name from ``aria-label`` or ``aria-labelledby``."""
        if "aria-label" in self.attrs:
            return self.attrs["aria-label"]
        labelled = self.attrs.get("aria-labelledby")
        if labelled:
            found = [n for n in self.root().walk() if n.attrs.get("id") == labelled]
            return found[0].text() if found else ""
        return ""

    def named(self, tag: str, name: str) -> Node:
        """The one ``tag`` inside whose accessible name is ``name``."""
        [found] = [node for node in self.all(tag) if node.name() == name]
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.document = Node("#document", {})
        self._open = self.document

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self._open)
        self._open.children.append(node)
        if tag not in _VOID:
            self._open = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self._open
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self._open = node.parent

    def handle_data(self, data: str) -> None:
        self._open.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.document
