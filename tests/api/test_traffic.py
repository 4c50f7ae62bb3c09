"""People's requests counted per component for the prober, the probes' own
never; failures are 5xx answers; people served are those a route signed in."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from stormproof.events import RequestsCounted
from stormproof.operators import load_secret
from stormproof.status import Traffic
from stormproof.status.identity import PROBE_HEADER, probe_token
from tests.conftest import LiveServer, sign_up, upload


def _counted(server: LiveServer, expected: dict[str, tuple[int, int]]) -> None:
    """The region's counts since the last take are ``expected`` (soon: a
    request counts once its answer starts)."""
    traffic: Traffic = server.app.state.traffic
    deadline = time.monotonic() + 5
    totals: dict[str, tuple[int, int]] = {}
    while True:
        for c in traffic.take():
            requests, errors = totals.get(c.component, (0, 0))
            totals[c.component] = (requests + c.requests, errors + c.errors)
        nonzero = {k: v for k, v in totals.items() if v != (0, 0)}
        if nonzero == expected or time.monotonic() > deadline:
            assert nonzero == expected
            return
        time.sleep(0.05)


def test_a_persons_requests_count_and_a_probes_do_not(
    server: LiveServer, client: httpx.Client
) -> None:
    auth = sign_up(client, "ann")  # one sign-in
    probe = {PROBE_HEADER: probe_token(load_secret(server.settings.secret_path))}
    assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
    assert client.get("/v1/feed/for-you", headers={**auth, **probe}).status_code == 200
    forged = {PROBE_HEADER: "pr_" + "0" * 64}
    assert client.get("/v1/feed/for-you", headers={**auth, **forged}).status_code == 200
    assert client.get("/v1/health").status_code == 200  # no component
    _counted(server, {"sign_in": (1, 0), "for_you": (2, 0)})


def test_a_5xx_answer_counts_as_failed(server: LiveServer, client: httpx.Client) -> None:
    auth = sign_up(client, "bob")
    _counted(server, {"sign_in": (1, 0)})
    # A write this region has not applied: 503 stale_view once min_seq_wait_s passed.
    stale = client.get("/v1/feed/for-you", params={"min_seq": 10**9}, headers=auth)
    assert stale.status_code == 503
    refused = client.get("/v1/feed/for-you")  # no token: a 4xx is no failure of ours
    assert refused.status_code == 401
    _counted(server, {"for_you": (2, 1)})


def test_people_served_are_counted_once_each_probes_never(
    server: LiveServer, client: httpx.Client
) -> None:
    traffic: Traffic = server.app.state.traffic
    probe = {PROBE_HEADER: probe_token(load_secret(server.settings.secret_path))}
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    carl = sign_up(client, "carl")
    for auth in (ann, bob, ann):
        assert client.get("/v1/feed/for-you", headers=auth).status_code == 200
    assert client.get("/v1/feed/for-you", headers={**carl, **probe}).status_code == 200
    deadline = time.monotonic() + 5
    while traffic.active_people() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert traffic.active_people() == 2


def test_an_upload_acknowledged_late_counts_as_delayed_and_names_its_creator(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    """Guards the uploads figures of ADR 025: a write whose client first sent
    it (its Stormproof-Write-At) seconds before this attempt arrived was
    delayed, and its person was touched; one sent now was not."""
    traffic: Traffic = server.app.state.traffic
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    traffic.take()
    now = int(time.time() * 1000)
    late = upload(client, ann, video_file, headers={"Stormproof-Write-At": str(now - 10_000)})
    fresh = upload(client, bob, video_file, headers={"Stormproof-Write-At": str(now)})
    assert (late.status_code, fresh.status_code) == (201, 201), late.text + fresh.text
    ann_id = late.json()["owner"]["id"]
    deadline = time.monotonic() + 5
    counted: list[RequestsCounted] = []
    while sum(c.requests for c in counted) < 2 and time.monotonic() < deadline:
        counted += [c for c in traffic.take() if c.component == "uploads"]
        time.sleep(0.05)
    assert sum(c.requests for c in counted) == 2
    assert sum(c.delayed or 0 for c in counted) == 1
    assert [who for c in counted for who in c.touched] == [ann_id]


def test_a_resumable_uploads_5xx_counts_against_its_creator_and_its_4xx_does_not(
    server: LiveServer, client: httpx.Client, video_file: Path
) -> None:
    """Guards issue 15's upload SLI for tus uploads: a creation and a chunk
    count as uploads; a chunk the region failed to store (its disk gave way
    under the blob store) is a failure naming its creator; a chunk sent at
    the wrong offset is the client's fault; asking where an upload stands is
    not counted."""
    traffic: Traffic = server.app.state.traffic
    ann = sign_up(client, "ann")
    tus = {**ann, "Tus-Resumable": "1.0.0"}
    chunk = {**tus, "Content-Type": "application/offset+octet-stream"}
    data = video_file.read_bytes()
    traffic.take()
    created = client.post("/v1/uploads", headers={**tus, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    where = created.headers["Location"]
    wrong = client.patch(where, content=data[:100], headers={**chunk, "Upload-Offset": "7"})
    assert 400 <= wrong.status_code < 500, wrong.text
    spool = server.settings.blobs_dir / "tmp"
    shutil.rmtree(spool, ignore_errors=True)
    spool.write_bytes(b"")  # where the blob store writes is no folder: it can no longer write
    try:
        failed = client.patch(where, content=data[:100], headers={**chunk, "Upload-Offset": "0"})
        assert failed.status_code >= 500, failed.text
    finally:
        spool.unlink()
    assert client.head(where, headers=tus).status_code == 200
    ann_id = client.get("/v1/studio/overview", headers=ann).json()["creator_id"]
    deadline = time.monotonic() + 5
    counted: list[RequestsCounted] = []
    while sum(c.requests for c in counted) < 3 and time.monotonic() < deadline:
        counted += [c for c in traffic.take() if c.component == "uploads"]
        time.sleep(0.05)
    assert (sum(c.requests for c in counted), sum(c.errors for c in counted)) == (3, 1)
    assert [who for c in counted for who in c.touched] == [ann_id]
