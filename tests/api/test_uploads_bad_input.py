"""Every hostile tus request is a 4xx with a machine-readable code, and
stores nothing: the log does not move (ADR 027)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from stormproof.settings import Settings
from tests.api.test_uploads import TUS, chunk_headers
from tests.conftest import LiveServer, make_settings, sign_up


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "region",
        max_upload_bytes=100_000,
        upload_chunk_max_bytes=10_000,
        uploads_open_per_user=2,
    )


def _position(server: LiveServer, client: httpx.Client) -> list[int]:
    position: list[int] = client.get("/v1/digest", headers=server.operator).json()["position"]
    return position


def _create(client: httpx.Client, auth: dict[str, str], length: int = 5000) -> str:
    created = client.post("/v1/uploads", headers={**auth, **TUS, "Upload-Length": str(length)})
    assert created.status_code == 201, created.text
    location: str = created.headers["location"]
    return location


def _refused(
    server: LiveServer,
    client: httpx.Client,
    send: Callable[[], httpx.Response],
    status: int,
    code: str,
) -> httpx.Response:
    """``send`` is answered ``status`` with ``code``, and the log did not move."""
    before = _position(server, client)
    answer = send()
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert _position(server, client) == before
    return answer


def test_a_chunk_at_the_wrong_offset_is_409_and_the_offset_stays(
    server: LiveServer, client: httpx.Client
) -> None:
    auth = sign_up(client, "offsetter")
    url = _create(client, auth)
    assert client.patch(url, headers=chunk_headers(auth, 0), content=b"a" * 100).status_code == 204
    answer = _refused(
        server,
        client,
        lambda: client.patch(url, headers=chunk_headers(auth, 50), content=b"b" * 100),
        409,
        "offset_mismatch",
    )
    assert answer.json()["offset"] == 100
    assert client.head(url, headers={**auth, **TUS}).headers["upload-offset"] == "100"


def test_a_chunk_past_the_declared_length_is_refused_whole(
    server: LiveServer, client: httpx.Client
) -> None:
    auth = sign_up(client, "overflow")
    url = _create(client, auth, length=1000)
    send = lambda: client.patch(url, headers=chunk_headers(auth, 0), content=b"x" * 1001)  # noqa: E731
    _refused(server, client, send, 400, "past_upload_length")

    def chunked() -> httpx.Response:  # no Content-Length: counted as it arrives
        return client.patch(url, headers=chunk_headers(auth, 0), content=iter([b"x" * 600] * 2))

    _refused(server, client, chunked, 400, "past_upload_length")
    assert client.head(url, headers={**auth, **TUS}).headers["upload-offset"] == "0"


def test_unknown_and_other_peoples_uploads_are_not_found(
    server: LiveServer, client: httpx.Client
) -> None:
    owner = sign_up(client, "owner")
    stranger = sign_up(client, "stranger")
    url = _create(client, owner)
    for target in (url, "/v1/uploads/up_nothing_here"):
        for method, headers in (
            ("HEAD", {**stranger, **TUS}),
            ("PATCH", chunk_headers(stranger, 0)),
            ("DELETE", {**stranger, **TUS}),
        ):
            answer = client.request(method, target, headers=headers, content=b"x" * 10)
            assert answer.status_code == 404, (method, target)
            if method != "HEAD":  # a HEAD answer has no body
                _refused(
                    server,
                    client,
                    lambda m=method, t=target, h=headers: client.request(
                        m, t, headers=h, content=b"x"
                    ),
                    404,
                    "upload_not_found",
                )
    assert client.head(url, headers={**owner, **TUS}).status_code == 200


@pytest.mark.parametrize(
    "authorization", [None, "Bearer s_forged.0000", "Bearer " + "x" * 40, "Basic Zm9vOmJhcg=="]
)
def test_a_missing_or_forged_token_is_401_before_the_body_is_read(
    server: LiveServer, client: httpx.Client, authorization: str | None
) -> None:
    auth = sign_up(client, "tokenholder")
    url = _create(client, auth)
    bad = {} if authorization is None else {"Authorization": authorization}
    for send in (
        lambda: client.patch(url, headers=chunk_headers(bad, 0), content=b"x" * 100),
        lambda: client.post("/v1/uploads", headers={**bad, **TUS, "Upload-Length": "10"}),
    ):
        answer = send()
        assert answer.status_code == 401 and answer.json()["code"], answer.text
    assert client.head(url, headers={**auth, **TUS}).headers["upload-offset"] == "0"


@pytest.mark.parametrize(
    "metadata",
    [
        "filename not-base64!",
        "filename " + base64.b64encode(b"\xff\xfe").decode(),  # base64, but not UTF-8
        "filename YQ==,filename Yg==",  # a key twice
        "file name YQ==",  # a space in a key
        "caption YQ== extra",
    ],
)
def test_metadata_that_is_not_valid_base64_creates_nothing(
    server: LiveServer, client: httpx.Client, metadata: str
) -> None:
    auth = sign_up(client, "metadata")
    headers = {**auth, **TUS, "Upload-Length": "100", "Upload-Metadata": metadata}
    _refused(
        server,
        client,
        lambda: client.post("/v1/uploads", headers=headers),
        400,
        "invalid_metadata",
    )


def test_protocol_headers_are_checked(server: LiveServer, client: httpx.Client) -> None:
    auth = sign_up(client, "protocol")
    url = _create(client, auth)
    no_version = {k: v for k, v in chunk_headers(auth, 0).items() if k != "Tus-Resumable"}
    answer = _refused(
        server,
        client,
        lambda: client.patch(url, headers=no_version, content=b"x"),
        412,
        "tus_version_unsupported",
    )
    assert answer.headers["tus-version"] == "1.0.0"
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"Content-Type": "application/octet-stream"}, 415, "bad_content_type"),
        ({"Upload-Offset": "-1"}, 400, "invalid_upload_offset"),
        ({"Upload-Offset": "1e3"}, 400, "invalid_upload_offset"),
        ({"Upload-Checksum": "md5 AAAA"}, 400, "checksum_algorithm_unsupported"),
        ({"Upload-Checksum": "sha1 ???"}, 400, "invalid_checksum"),
        ({"Tus-Resumable": "0.2.2"}, 412, "tus_version_unsupported"),
    ]
    for override, status, code in cases:
        headers = {**chunk_headers(auth, 0), **override}
        _refused(
            server,
            client,
            lambda h=headers: client.patch(url, headers=h, content=b"x"),  # type: ignore[misc]
            status,
            code,
        )
    missing = {k: v for k, v in chunk_headers(auth, 0).items() if k != "Upload-Offset"}
    _refused(
        server,
        client,
        lambda: client.patch(url, headers=missing, content=b"x"),
        400,
        "invalid_upload_offset",
    )


def test_limits_on_length_chunks_and_uploads_under_way(
    server: LiveServer, client: httpx.Client
) -> None:
    auth = sign_up(client, "limited")
    too_long = {**auth, **TUS, "Upload-Length": "100001"}
    _refused(
        server,
        client,
        lambda: client.post("/v1/uploads", headers=too_long),
        413,
        "file_too_large",
    )
    no_length = {**auth, **TUS}
    _refused(
        server,
        client,
        lambda: client.post("/v1/uploads", headers=no_length),
        400,
        "invalid_upload_length",
    )
    url = _create(client, auth, length=50_000)
    _refused(
        server,
        client,
        lambda: client.patch(url, headers=chunk_headers(auth, 0), content=b"x" * 10_001),
        413,
        "payload_too_large",
    )
    _create(client, auth)
    _refused(
        server,
        client,
        lambda: client.post("/v1/uploads", headers={**auth, **TUS, "Upload-Length": "10"}),
        429,
        "too_many_uploads",
    )
