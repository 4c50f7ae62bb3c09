"""Direct messages, conversations and the live SSE stream."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import httpx

from tests.conftest import LiveServer, health, sign_up


def test_send_and_read_a_conversation(client: httpx.Client) -> None:
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    sent = client.post("/v1/messages", json={"to": "bob", "text": "hi bob"}, headers=alice)
    assert sent.status_code == 201
    assert sent.json()["sender"] == "alice" and sent.json()["recipient"] == "bob"
    client.post("/v1/messages", json={"to": "alice", "text": "hi alice"}, headers=bob)
    for reader, other in ((alice, "bob"), (bob, "alice")):
        texts = [m["text"] for m in client.get(
            f"/v1/conversations/{other}/messages", headers=reader
        ).json()]  # fmt: skip
        assert texts == ["hi bob", "hi alice"]
    (conversation,) = client.get("/v1/conversations", headers=bob).json()
    assert conversation["with_user"] == "alice" and conversation["messages"] == 2
    assert conversation["last"]["text"] == "hi alice"
    by_id = client.get(f"/v1/conversations/{conversation['id']}/messages", headers=alice)
    assert [m["text"] for m in by_id.json()] == ["hi bob", "hi alice"]


def test_a_third_party_cannot_read_a_conversation(client: httpx.Client) -> None:
    alice, _bob, carol = (sign_up(client, n) for n in ("alice", "bob", "carol"))
    client.post("/v1/messages", json={"to": "bob", "text": "secret"}, headers=alice)
    (conversation,) = client.get("/v1/conversations", headers=alice).json()
    response = client.get(f"/v1/conversations/{conversation['id']}/messages", headers=carol)
    assert (response.status_code, response.json()["code"]) == (404, "conversation_not_found")
    assert client.get("/v1/conversations", headers=carol).json() == []
    # Carol's own conversation with alice is empty: it is not alice's with bob.
    assert client.get("/v1/conversations/alice/messages", headers=carol).json() == []
    anonymous = client.get(f"/v1/conversations/{conversation['id']}/messages")
    assert anonymous.status_code == 401


def test_message_errors_store_nothing(client: httpx.Client) -> None:
    alice = sign_up(client, "alice")
    sign_up(client, "bob")
    before = health(client)["log_seq"]
    cases = [
        ({"to": "nobody", "text": "hi"}, 404, "user_not_found"),
        ({"to": "alice", "text": "hi"}, 422, "cannot_message_self"),
        ({"to": "bob", "text": ""}, 422, "empty_message"),
        ({"to": "bob", "text": "x" * 2001}, 422, "message_too_long"),
        ({"to": "bob"}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = client.post("/v1/messages", json=body, headers=alice)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert health(client)["log_seq"] == before


def test_a_retried_message_is_sent_once(client: httpx.Client) -> None:
    alice = {**sign_up(client, "alice"), "Idempotency-Key": "m-1"}
    sign_up(client, "bob")
    first = client.post("/v1/messages", json={"to": "bob", "text": "once"}, headers=alice)
    again = client.post("/v1/messages", json={"to": "bob", "text": "once"}, headers=alice)
    assert first.json() == again.json()
    assert len(client.get("/v1/conversations/bob/messages", headers=alice).json()) == 1


def _read_events(
    url: str,
    headers: dict[str, str],
    count: int,
    into: list[dict[str, Any]],
    ready: threading.Event,
) -> None:
    with (
        httpx.Client(timeout=20) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        event: dict[str, Any] = {}
        for line in response.iter_lines():
            if line == ": connected":
                ready.set()
            elif line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and event:
                into.append(event)
                event = {}
                if len(into) == count:
                    return


def test_live_stream_delivers_and_resumes_from_last_event_id(
    client: httpx.Client, server: LiveServer
) -> None:
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    got: list[dict[str, Any]] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_read_events, args=(f"{server.url}/v1/messages/stream", bob, 2, got, ready)
    )
    reader.start()
    assert ready.wait(10)
    for text in ("one", "two"):
        client.post("/v1/messages", json={"to": "bob", "text": text}, headers=alice)
    reader.join(20)
    assert [e["data"]["text"] for e in got] == ["one", "two"]

    # Disconnected after "one": two messages arrive meanwhile; resuming loses none.
    for text in ("three", "four"):
        client.post("/v1/messages", json={"to": "bob", "text": text}, headers=alice)
    resumed: list[dict[str, Any]] = []
    _read_events(
        f"{server.url}/v1/messages/stream",
        {**bob, "Last-Event-ID": str(got[0]["id"])},
        3,
        resumed,
        threading.Event(),
    )
    assert [e["data"]["text"] for e in resumed] == ["two", "three", "four"]
    assert [int(e["id"]) for e in resumed] == sorted(int(e["id"]) for e in resumed)


def test_bad_last_event_id_is_400(client: httpx.Client) -> None:
    bob = sign_up(client, "bob")
    response = client.get("/v1/messages/stream", headers={**bob, "Last-Event-ID": "abc"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_last_event_id")


def _cpu_while_streaming(url: str, headers: dict[str, str], seconds: float) -> float:
    """CPU seconds this process (the server runs in it) spends while a stream
    is held open for ``seconds``."""
    with httpx.Client(timeout=seconds + 10) as c, c.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        started = time.process_time()
        time.sleep(seconds)
        return time.process_time() - started


def test_a_stream_resumed_ahead_of_the_region_waits_instead_of_spinning(
    client: httpx.Client, server: LiveServer
) -> None:
    # Guards finding 3 of issue 9: a Last-Event-ID ahead of what this region
    # applied (a client that failed over from a region further on) spun a core.
    alice, bob = sign_up(client, "alice"), sign_up(client, "bob")
    url = f"{server.url}/v1/messages/stream"
    position = int(health(client)["log_seq"])
    idle = _cpu_while_streaming(url, {**bob, "Last-Event-ID": str(position)}, 1.5)
    ahead = _cpu_while_streaming(url, {**bob, "Last-Event-ID": str(position + 2)}, 1.5)
    assert ahead < idle + 0.5, (ahead, idle)  # spinning costs ~1.5 s of CPU here

    # Once the region reaches the client's position, what lies past it arrives.
    got: list[dict[str, Any]] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_read_events, args=(url, {**bob, "Last-Event-ID": str(position + 2)}, 1, got, ready)
    )
    reader.start()
    assert ready.wait(10)
    for text in ("skipped", "skipped too", "arrives"):
        client.post("/v1/messages", json={"to": "bob", "text": text}, headers=alice)
    reader.join(20)
    assert [e["data"]["text"] for e in got] == ["arrives"]


def test_one_person_holds_a_bounded_number_of_live_streams(
    client: httpx.Client, server: LiveServer
) -> None:
    bob = sign_up(client, "bob")
    url = f"{server.url}/v1/messages/stream"
    with contextlib.ExitStack() as held:
        for _ in range(server.settings.max_streams_per_user):
            c = held.enter_context(httpx.Client(timeout=30))
            assert held.enter_context(c.stream("GET", url, headers=bob)).status_code == 200
        refused = client.get(url, headers=bob)
        assert (refused.status_code, refused.json()["code"]) == (429, "too_many_streams")
        assert "Retry-After" in refused.headers
    # Closed streams give their places back.
    for _ in range(50):
        with httpx.Client(timeout=30) as c, c.stream("GET", url, headers=bob) as again:
            if again.status_code == 200:
                break
        time.sleep(0.1)
    assert again.status_code == 200
