"""``/v1/studio``: a creator's analytics over real HTTP — only theirs, bad
input refused with a code, and the CSV the JSON's days."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import sign_up, upload


def _days() -> dict[str, str]:
    """Yesterday to tomorrow (UTC): today's writes fall in it, even at midnight."""
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


def _events(client: httpx.Client, auth: dict[str, str], *events: dict[str, Any]) -> int:
    answer = client.post("/v1/events", json={"events": list(events)}, headers=auth)
    assert answer.status_code == 202, answer.text
    seq: int = answer.json()["seq"]
    return seq


def _get(client: httpx.Client, path: str, auth: dict[str, str], seq: int) -> httpx.Response:
    return client.get(path, params={**_days(), "min_seq": seq}, headers=auth)


def test_a_creator_sees_their_views_likes_comments_and_followers(
    client: httpx.Client, video_file: Path
) -> None:
    ann, bob, cat = (sign_up(client, name) for name in ("ann", "bob", "cat"))
    video = upload(client, ann, video_file).json()["id"]
    watch = {"type": "watch", "video_id": video}
    _events(client, bob, {**watch, "watched_ms": 6000, "completed": True, "source": "for_you"})
    _events(client, cat, {**watch, "watched_ms": 500}, {"type": "like", "video_id": video})
    client.post(f"/v1/videos/{video}/comments", json={"text": "nice"}, headers=bob)
    assert client.post("/v1/follows/ann", headers=cat).status_code == 201
    seq = _events(client, bob, {"type": "share", "video_id": video})

    overview = _get(client, "/v1/studio/overview", ann, seq)
    assert overview.status_code == 200, overview.text
    totals = overview.json()["totals"]
    assert overview.json()["videos"] == 1 and overview.json()["time_zone"] == "UTC"
    assert (totals["views"], totals["qualified_views"], totals["unique_viewers"]) == (2, 1, 2)
    assert (totals["watched_ms"], totals["watched_in_full_rate"]) == (6500, 0.5)
    assert (totals["likes"], totals["comments"], totals["shares"]) == (1, 1, 1)
    assert totals["sources"] == {
        "for_you": 1, "following": 0, "profile": 0, "shared_link": 0, "unknown": 1
    }  # fmt: skip
    assert [day["views"] for day in overview.json()["days"]].count(2) == 1
    assert totals["new_followers"] == 1

    report = _get(client, f"/v1/studio/videos/{video}", ann, seq).json()
    assert report["totals"]["views"] == 2 and report["totals"]["new_followers"] is None
    retention = report["retention"]
    assert len(retention) == 21 and retention[0] == 1.0 and retention[-1] == 0.5


def test_the_csv_export_is_the_days_of_the_json(client: httpx.Client, video_file: Path) -> None:
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    video = upload(client, ann, video_file).json()["id"]
    seq = _events(client, bob, {"type": "watch", "video_id": video, "watched_ms": 1200})
    for json_path, csv_path in [
        ("/v1/studio/overview", "/v1/studio/export.csv"),
        (f"/v1/studio/videos/{video}", f"/v1/studio/videos/{video}/export.csv"),
    ]:
        days = _get(client, json_path, ann, seq).json()["days"]
        exported = _get(client, csv_path, ann, seq)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [row["date"] for row in rows] == [day["date"] for day in days]
        for row, day in zip(rows, days, strict=True):
            assert int(row["views"]) == day["views"]
            assert int(row["watched_ms"]) == day["watched_ms"]
            assert int(row["source_unknown"]) == day["sources"]["unknown"]
            empty_or_same = "" if day["average_watched_ms"] is None else day["average_watched_ms"]
            assert row["average_watched_ms"] == str(empty_or_same)
        assert sum(int(row["views"]) for row in rows) == 1


def test_only_the_creator_sees_a_videos_analytics(client: httpx.Client, video_file: Path) -> None:
    ann, bob = sign_up(client, "ann"), sign_up(client, "bob")
    video = upload(client, ann, video_file).json()["id"]
    for path in (f"/v1/studio/videos/{video}", f"/v1/studio/videos/{video}/export.csv"):
        refused = client.get(path, headers=bob)
        assert refused.status_code == 403 and refused.json()["code"] == "not_your_video"
        assert client.get(path).status_code == 401
    # bob's own overview is bob's: none of ann's views
    assert client.get("/v1/studio/overview", headers=bob).json()["videos"] == 0
    missing = client.get("/v1/studio/videos/v_nope", headers=ann)
    assert missing.status_code == 404 and missing.json()["code"] == "video_not_found"


def test_bad_dates_are_refused_with_a_code(client: httpx.Client) -> None:
    ann = sign_up(client, "ann")
    for params, code in [
        ({"from": "yesterday"}, "invalid_date"),
        ({"from": "2024-02-30"}, "invalid_date"),
        ({"from": "2024-03-02", "to": "2024-03-01"}, "reversed_range"),
        ({"from": "2020-01-01", "to": "2024-01-01"}, "range_too_long"),
        ({"to": "0001-01-01"}, "date_out_of_range"),
    ]:
        for path in ("/v1/studio/overview", "/v1/studio/export.csv"):
            refused = client.get(path, params=params, headers=ann)
            assert refused.status_code == 422, (params, refused.text)
            assert refused.json()["code"] == code


def test_a_watch_from_an_unknown_place_is_refused_with_a_code(
    client: httpx.Client, video_file: Path
) -> None:
    ann = sign_up(client, "ann")
    video = upload(client, ann, video_file).json()["id"]
    watch = {"type": "watch", "video_id": video, "source": "elsewhere"}
    refused = client.post("/v1/events", json={"events": [watch]}, headers=ann)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_event"
