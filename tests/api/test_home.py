"""``GET /``: a page that says what this is, instead of a JSON 404 (issue 10)."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx


class _Page(HTMLParser):
    """The links, the elements and the text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.text += data


def test_the_root_says_what_this_is_and_links_to_the_docs(client: httpx.Client) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(answer.text)
    assert "short-video platform" in page.text
    assert "/docs" in page.links
    assert "/status" in page.links and "web app" in page.text  # the web app: said to come later
    # Every link points at this server: the docs answer, and nothing is fetched elsewhere.
    assert all(link.startswith("/") for link in page.links), page.links
    assert client.get("/docs").status_code == 200
    assert client.get("/status").status_code == 200


def test_the_root_page_needs_nothing_the_edge_policy_refuses(client: httpx.Client) -> None:
    answer = client.get("/")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "style-src 'self' 'unsafe-inline'" in policy
    page = _Page()
    page.feed(answer.text)
    # No script (not even inline), no external stylesheet, font, image or frame.
    assert not {"script", "link", "img", "iframe", "object"} & set(page.tags), page.tags
    assert "url(" not in answer.text and "@import" not in answer.text


def test_the_root_page_is_not_in_the_api_contract(client: httpx.Client) -> None:
    assert "/" not in client.get("/openapi.json").json()["paths"]
