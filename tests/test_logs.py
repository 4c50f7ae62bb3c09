"""Structured logs: one JSON object per line (or plain text for people),
every line naming its region and request; ``stormproof serve`` writes
nothing else to stderr, and uvicorn's access log does not repeat ours."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormproof.logs import (
    REGION,
    REQUEST_ID,
    JsonFormatter,
    PlainFormatter,
    configure_logs,
    fields_of,
    log_event,
)
from tests.conftest import TEST_PASSWORD_COST, JsonLines, free_port


def _record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    (record,) = [r for r in caplog.records if r.name == "stormproof.events"]
    return record


def test_an_event_carries_its_kind_fields_and_context(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.events")

    def in_a_request() -> None:
        REGION.set("us-east")
        REQUEST_ID.set("r-1")
        log_event("incident.opened", level=logging.WARNING, incident="i_1", regions=["us-east"])

    contextvars.copy_context().run(in_a_request)
    record = _record(caplog)
    assert record.levelno == logging.WARNING and record.getMessage() == "incident.opened"
    assert fields_of(record) == {
        "region": "us-east",
        "request_id": "r-1",
        "event": "incident.opened",
        "incident": "i_1",
        "regions": ["us-east"],
    }
    assert REGION.get() is None  # the context it ran in kept it


def test_a_json_line_is_one_object_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.events")
    log_event("region.state", state="ready", at=Path("/x"), msg="a field cannot replace msg")
    line = JsonFormatter().format(_record(caplog))
    assert "\n" not in line
    assert list(json.loads(line)) == ["ts", "level", "logger", "msg", "event", "state", "at"]
    parsed = json.loads(line)
    assert (parsed["level"], parsed["logger"], parsed["msg"]) == (
        "info", "stormproof.events", "region.state"
    )  # fmt: skip
    assert parsed["at"] == "/x"  # not JSON-able: written as its str


def test_a_traceback_stays_on_the_line_and_only_where_there_was_one() -> None:
    logger = logging.getLogger("stormproof.test")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logger.makeRecord(
            logger.name, logging.ERROR, "f", 1, "it broke", (), sys.exc_info()
        )
    line = JsonFormatter().format(failed)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["error"]
    plain = logger.makeRecord(logger.name, logging.INFO, "f", 1, "a 404 %s", ("here",), None)
    assert "error" not in json.loads(JsonFormatter().format(plain))
    assert json.loads(JsonFormatter().format(plain))["msg"] == "a 404 here"


def test_plain_lines_read_as_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stormproof.events")
    log_event("views.stopped", level=logging.WARNING, partition=2, reason="no quorum")
    text = PlainFormatter().format(_record(caplog))
    assert text.endswith(' WARNING stormproof.events views.stopped partition=2 reason="no quorum"')


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)


def test_configuring_again_replaces_and_auto_is_plain_on_a_terminal_only(
    root_restored: None,
) -> None:
    to_file = io.StringIO()
    configure_logs("auto", "warning", stream=to_file)
    primary, replica = os.openpty()
    with os.fdopen(primary, "rb") as screen, os.fdopen(replica, "w") as terminal:
        configure_logs("auto", "info", stream=terminal)
        log_event("region.state", state="ready")
        terminal.flush()
        shown = screen.read1(4096).decode()
    assert ' INFO    stormproof.events region.state state="ready"' in shown
    assert to_file.getvalue() == ""  # the first handler is gone
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_Ours"]
    assert len(ours) == 1
    configure_logs("auto", "info", stream=to_file)
    log_event("region.state", state="ready")
    assert json.loads(to_file.getvalue())["state"] == "ready"


def test_a_warning_is_a_log_line_too(json_logs: JsonLines) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("something to look at", UserWarning, stacklevel=1)
    (line,) = json_logs.lines()
    assert line["logger"] == "py.warnings" and "something to look at" in line["msg"]


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``stormproof serve`` as an operator runs it under a supervisor: stderr
    to a file, nothing set about logs (so: JSON, at info). Stopped (Ctrl-C)
    when the block ends."""
    data, port, err = tmp_path / "var", free_port(), tmp_path / "serve.err"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STORMPROOF_")},
        "STORMPROOF_PASSWORD_COST": str(TEST_PASSWORD_COST),
        "STORMPROOF_PROBE_EVERY_S": "0",
    }
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "stormproof.cli", "serve", "--port", str(port),
             "--data", str(data), "--no-demo"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.1)
        yield url, err
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/v1/health", timeout=1).json()["ready"])
    except httpx.TransportError:
        return False


def test_serve_writes_only_json_lines_one_per_request(tmp_path: Path) -> None:
    with _serving(tmp_path) as (url, err), httpx.Client(base_url=url) as client:
        ids = [
            client.get("/v1/videos/v_nope").headers["x-request-id"],
            client.get("/nowhere", headers={"X-Request-Id": "a b"}).headers["x-request-id"],
            client.post("/v1/accounts", json={"username": "x"}).headers["x-request-id"],
        ]
    lines: list[dict[str, Any]] = [json.loads(line) for line in err.read_text().splitlines()]
    requests = [line for line in lines if line.get("event") == "request"]
    mine = [line for line in requests if line["request_id"] in ids]
    assert [(line["route"], line["status"]) for line in mine] == [
        ("/v1/videos/{video_id}", 404),
        ("unmatched", 404),
        ("/v1/accounts", 422),
    ]
    assert all(line["region"] == "local" and line["level"] == "info" for line in mine)
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert not [line for line in lines if "error" in line], "a traceback where none belongs"
    states = [line["state"] for line in lines if line.get("event") == "region.state"]
    assert states[:2] == ["starting", "catching_up"], states
    # where a start's seconds go: the process before the region opened, and the open
    (opened,) = [line for line in lines if line.get("event") == "region.opened"]
    assert opened["process_s"] > 0 and opened["open_s"] >= 0, opened
    (streams,) = [line for line in lines if line.get("event") == "region.streams"]
    assert streams["took_s"] >= 0, streams  # the log's and blobs' set up, and how long
    assert states[-2:] == ["ready", "stopping"], states
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own, as JSON
