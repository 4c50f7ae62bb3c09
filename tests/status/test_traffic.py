"""People's requests per component, and the people served lately, in bounded memory."""

from __future__ import annotations

import pytest

from stormproof.events import COMPONENTS
from stormproof.status.traffic import ACTIVE_WINDOW_S, Traffic, component_of


@pytest.mark.parametrize(
    ("method", "path", "component"),
    [
        ("POST", "/v1/sessions", "sign_in"),
        ("GET", "/v1/feed/for-you", "for_you"),
        ("GET", "/v1/videos/v_1/file", "playback"),
        ("POST", "/v1/events", "interactions"),
        ("POST", "/v1/videos/v_1/comments", "interactions"),
        ("POST", "/v1/messages", "messages"),
        ("GET", "/v1/messages/stream", "messages"),
        ("GET", "/v1/conversations/bob/messages", "messages"),
        ("POST", "/v1/videos", "uploads"),
        ("POST", "/v1/videos/", "uploads"),
        ("POST", "/v1/uploads", "uploads"),
        ("PATCH", "/v1/uploads/up_1", "uploads"),
        ("PATCH", "/v1/uploads/up_1/", "uploads"),
        ("HEAD", "/v1/uploads/up_1", None),
        ("DELETE", "/v1/uploads/up_1", None),
        ("GET", "/v1/uploads/up_1", None),
        ("OPTIONS", "/v1/uploads", None),
        ("PATCH", "/v1/uploads/a/b", None),
        ("PATCH", "/v1/videos/v_1", None),
        ("GET", "/v1/videos/v_1", None),
        ("GET", "/v1/health", None),
        ("DELETE", "/v1/sessions", None),
        ("GET", "/v1/videos/a/b/file", None),
    ],
)
def test_a_request_belongs_to_the_component_it_exercises(
    method: str, path: str, component: str | None
) -> None:
    assert component_of(method, path) == component


def test_counts_start_again_after_each_take() -> None:
    traffic = Traffic()
    traffic.served("for_you", failed=False)
    traffic.served("for_you", failed=True)
    traffic.served("uploads", failed=False)
    counted = {c.component: (c.requests, c.errors) for c in traffic.take()}
    assert set(counted) == set(COMPONENTS)
    assert counted["for_you"] == (2, 1) and counted["uploads"] == (1, 0)
    assert counted["sign_in"] == (0, 0)
    assert all((c.requests, c.errors) == (0, 0) for c in traffic.take())


def test_active_people_are_those_served_in_the_window_each_once() -> None:
    now = [1000.0]
    traffic = Traffic(clock=lambda: now[0])
    traffic.saw("u_ann")
    traffic.saw("u_bob")
    traffic.saw("u_ann")
    assert traffic.active_people() == 2
    now[0] += ACTIVE_WINDOW_S - 1
    traffic.saw("u_cat")
    assert traffic.active_people() == 3
    now[0] += 2  # ann and bob were last served more than the window ago
    assert traffic.active_people() == 1


def test_people_remembered_are_bounded() -> None:
    # Guards: a region serving millions of people keeps a bounded set, and
    # forgets the least recently served first.
    traffic = Traffic(max_people=3)
    for n in range(10):
        traffic.saw(f"u_{n}")
    traffic.saw("u_8")
    assert traffic.active_people() == 3
    assert list(traffic._people) == ["u_7", "u_9", "u_8"]
