"""``/v1/snapshots``: for operators only; one snapshot made a moment ago is
handed out again, and its files are what its manifest says."""

from __future__ import annotations

import hashlib

import httpx

from stormproof.snapshots.packing import zstd
from stormproof.testing import LiveServer
from tests.conftest import sign_up


def test_snapshots_are_for_operators_only(server: LiveServer, client: httpx.Client) -> None:
    user = sign_up(client, "alice")
    file = "/v1/snapshots/0123456789abcdef/views.sqlite.zst"
    for headers in ({}, user, {"Authorization": "Bearer op_" + "0" * 64}):
        for answer in (
            client.post("/v1/snapshots", headers=headers),
            client.get(file, headers=headers),
        ):
            assert (answer.status_code, answer.json()["code"]) == (401, "operator_only")

    made = client.post("/v1/snapshots", headers=server.operator)
    assert made.status_code == 200, made.text
    manifest = made.json()
    assert (manifest["region"], manifest["position"]) == ("test", [2])  # account + session
    again = client.post("/v1/snapshots", headers=server.operator).json()
    assert again["id"] == manifest["id"]  # made a moment ago: handed out again
    views = client.get(f"/v1/snapshots/{manifest['id']}/views.sqlite.zst", headers=server.operator)
    listed = next(f for f in manifest["files"] if f["name"] == "views.sqlite.zst")
    assert len(views.content) == listed["size"]
    assert hashlib.sha256(views.content).hexdigest() == listed["sha256"]
    assert views.headers["content-type"] == "application/zstd"
    expanded = zstd.decompress(views.content)  # packed (ADR 035): the views file itself
    assert len(expanded) == listed["raw_size"] and expanded.startswith(b"SQLite format 3\x00")

    gone = client.get(file, headers=server.operator)
    assert (gone.status_code, gone.json()["code"]) == (404, "snapshot_not_found")
    for path in (
        "/v1/snapshots/../views.sqlite.zst",
        f"/v1/snapshots/{manifest['id']}/secret",
        f"/v1/snapshots/{manifest['id']}/views.sqlite",  # only the packed files are served
    ):
        assert client.get(path, headers=server.operator).status_code in (404, 422)
