"""The drill's checker: every write read back and classified. It must report
a lost write and a duplicated one of every kind, and nothing on a clean run."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.client import Client
from stormproof.drill.checker import (
    RULES,
    Ident,
    Observed,
    check_regions,
    classify,
    classify_regions,
    ident_of,
)
from stormproof.drill.ops import WRITE_KINDS, Op, Outcome
from stormproof.testing import LiveServer
from tests.conftest import PASSWORD

CHECKED = ("message", "comment", "upload", "watch", "like", "share", "follow")
#: what finds a write again: a text, a caption, a followed name; else a video
KEYS = {"follow": "bob", "message": "m-17", "comment": "c-1", "upload": "u-1"}


def write(kind: str, outcome: Outcome = "ok", person: str = "ann", key: str = "") -> Op:
    """One write as the runner records it."""
    key = key or KEYS.get(kind, "v1")
    target = {"message": "bob", "comment": "v1"}.get(kind, "")
    return Op(kind, person, 0.0, 1.0, outcome, "us-east", "http_503", key, target)


def seen(ops: list[Op], count: int, *, but: tuple[list[Op], int] = ([], 0)) -> Observed:
    """A region showing ``count`` of every count ``ops`` are found in, but
    another count of those of ``but``."""
    counts = {ident_of(op): count for op in ops if op.kind in CHECKED}
    return Observed(counts=counts | {ident_of(op): but[1] for op in but[0]})


@pytest.mark.parametrize("kind", CHECKED)
def test_an_acknowledged_write_that_is_absent_is_lost(kind: str) -> None:
    ops = [write(kind)]
    verdict = classify(ops, seen(ops, 0))
    assert (verdict.acknowledged, verdict.lost, verdict.duplicated) == (1, 1, 0)
    assert verdict.by_kind[kind].lost == 1
    assert (
        verdict.details[0].startswith("lost ") and "acknowledged by us-east" in verdict.details[0]
    )


def test_a_lost_message_says_which_and_who() -> None:
    ops = [write("message")]
    detail = classify(ops, seen(ops, 0)).details[0]
    assert detail == "lost message 'm-17' (ann→bob, acknowledged by us-east; 0 present)"


@pytest.mark.parametrize("kind", CHECKED)
def test_a_write_present_twice_is_duplicated(kind: str) -> None:
    ops = [write(kind)]
    verdict = classify(ops, seen(ops, 2))
    assert (verdict.lost, verdict.duplicated) == (0, 1)
    assert verdict.details[0].startswith("duplicated ")


@pytest.mark.parametrize("kind", CHECKED)
def test_an_unanswered_write_is_found_or_absent(kind: str) -> None:
    for outcome in ("unknown", "pending"):
        ops = [write(kind, outcome)]
        found, absent = classify(ops, seen(ops, 1)), classify(ops, seen(ops, 0))
        assert (found.unknown_found, found.unknown_absent, found.lost) == (1, 0, 0)
        assert (absent.unknown_found, absent.unknown_absent, absent.lost) == (0, 1, 0)
        assert found.details == absent.details == []


@pytest.mark.parametrize("kind", CHECKED)
def test_a_failed_write_that_is_found_is_a_lie(kind: str) -> None:
    ops = [write(kind, "failed")]
    verdict = classify(ops, seen(ops, 1))
    assert (verdict.failed, verdict.failed_found, verdict.duplicated, verdict.lost) == (1, 1, 0, 0)
    assert verdict.details[0].startswith("failed write found ")
    assert "answered http_503" in verdict.details[0]
    assert classify(ops, seen(ops, 0)).failed_found == 0


def test_a_clean_history_reports_nothing() -> None:
    ops = [write(kind) for kind in CHECKED] + [write("watch", "failed", key="v2")]
    verdict = classify(ops, seen(ops, 1, but=(ops[-1:], 0)))
    assert verdict.acknowledged == len(CHECKED) and verdict.failed == 1
    counts = ("lost", "duplicated", "failed_found", "unknown_found", "unread", "unverifiable")
    assert [getattr(verdict, name) for name in counts] == [0] * len(counts)
    assert verdict.details == []


def test_not_interested_is_counted_as_unverifiable() -> None:
    ops = [write("not_interested"), write("not_interested", "unknown"), write("like")]
    verdict = classify(ops, seen(ops, 1))
    assert (verdict.acknowledged, verdict.unknown, verdict.unverifiable) == (2, 1, 2)
    assert (verdict.lost, verdict.unknown_absent, verdict.unknown_found) == (0, 0, 0)


def test_likes_and_follows_count_people_not_requests() -> None:
    # a second like (or follow) by the same person is a no-op in the views
    for kind in ("like", "follow"):
        ops = [write(kind), write(kind), write(kind, person="cat")]
        assert classify(ops, seen(ops, 2)).duplicated == 0
        assert classify(ops, seen(ops, 1)).lost == 1
        assert classify(ops, seen(ops, 3)).duplicated == 1


def test_shares_count_once_per_person_per_window() -> None:
    # two shares by one person may fall in one 10-minute window or two
    ops = [write("share"), write("share")]
    assert (classify(ops, seen(ops, 1)).lost, classify(ops, seen(ops, 2)).duplicated) == (0, 0)
    assert classify(ops, seen(ops, 0)).lost == 1
    assert classify(ops, seen(ops, 3)).duplicated == 1


def test_counts_before_the_drill_are_subtracted() -> None:
    ops = [write("like"), write("like", person="cat"), write("like", "unknown", person="dan")]
    observed = Observed(baselines={("like", "v1"): 3})
    for count, lost, found, duplicated in ((4, 1, 0, 0), (5, 0, 0, 0), (6, 0, 1, 0), (7, 0, 1, 1)):
        observed.counts = {Ident("like", "", "v1", ""): count}
        verdict = classify(ops, observed)
        assert (verdict.lost, verdict.unknown_found, verdict.duplicated) == (
            lost,
            found,
            duplicated,
        )


def test_a_count_that_could_not_be_read_is_unread_not_lost() -> None:
    ops = [write("message"), write("like")]
    verdict = classify(ops, Observed(notes=["messages ann→bob unread: 429 rate_limited"]))
    assert (verdict.lost, verdict.unread) == (0, 2)
    assert verdict.details == ["messages ann→bob unread: 429 rate_limited"]


def test_a_write_lost_in_any_region_is_lost() -> None:
    ops = [write("message"), write("upload", "unknown")]
    everywhere = classify_regions(
        ops,
        {"us-east": seen(ops, 1), "eu-west": seen(ops, 1, but=(ops[:1], 0))},
    )
    assert (everywhere.lost, everywhere.unknown_found, everywhere.diverged) == (1, 1, 1)
    assert everywhere.writes == {
        "acknowledged": 1, "lost": 1, "duplicated": 0, "unknown_found": 1, "unknown_absent": 0
    }  # fmt: skip
    assert "lost message 'm-17' (ann→bob, acknowledged by us-east; 0 in eu-west)" in (
        everywhere.details
    )
    assert "regions differ on message 'm-17' (ann→bob, 1 in us-east, 0 in eu-west)" in (
        everywhere.details
    )


# -- the property: the checker finds exactly the losses and duplicates put in


PEOPLE, VIDEOS = ["p0", "p1", "p2"], ["v0", "v1"]


@st.composite
def histories(draw: st.DrawFn) -> list[Op]:
    outcomes: tuple[Outcome, ...] = ("ok", "ok", "failed", "unknown", "pending")
    ops = []
    for n in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from((*CHECKED, "not_interested")))
        person, outcome = draw(st.sampled_from(PEOPLE)), draw(st.sampled_from(outcomes))
        key = draw(st.sampled_from(PEOPLE if kind == "follow" else VIDEOS))
        if kind in ("message", "comment", "upload"):
            key = f"{kind}-{n}"  # unique texts and captions; watches of a video add up
        ops.append(write(kind, outcome, person, key))
    return ops


def units(ops: list[Op]) -> tuple[int, int, int, int]:
    """What one count's writes must add, may add on top for acknowledged
    shares in another window, may add if unanswered, must not add (failed)."""
    ok = [op for op in ops if op.outcome == "ok"]
    unsure = [op for op in ops if op.outcome in ("unknown", "pending")]
    failed = [op for op in ops if op.outcome == "failed"]
    rule = RULES[ops[0].kind]
    if rule == "write":
        return len(ok), 0, len(unsure), len(failed)
    people = {op.person for op in ok}
    if rule == "window":
        return len(people), len(ok) - len(people), len(unsure), len(failed)
    unsure_people = {op.person for op in unsure} - people
    failed_people = {op.person for op in failed} - people - unsure_people
    return len(people), 0, len(unsure_people), len(failed_people)


def some_of(idents: list[Ident]) -> st.SearchStrategy[list[Ident]]:
    return st.lists(st.sampled_from(idents), unique=True) if idents else st.just([])


@settings(max_examples=300, deadline=None)
@given(ops=histories(), data=st.data())
def test_the_checker_finds_exactly_the_losses_and_duplicates_put_in(
    ops: list[Op], data: st.DataObject
) -> None:
    groups: dict[Ident, list[Op]] = {}
    for op in ops:
        if op.kind in CHECKED:
            groups.setdefault(ident_of(op), []).append(op)
    observed, found, absent = Observed(), 0, 0
    deletable, duplicable = [], []
    for ident, group in groups.items():
        must, spare, maybe, failed = units(group)
        baseline = data.draw(st.integers(0, 3)) if not ident.person else 0
        there = data.draw(st.integers(0, maybe))
        observed.baselines[ident.kind, ident.key] = baseline
        observed.counts[ident] = baseline + must + there
        found, absent = found + there, absent + maybe - there
        if must and not there:
            deletable.append(ident)
        if there == maybe and not (failed or spare):
            duplicable.append(ident)
    lost = data.draw(
        st.lists(st.sampled_from(deletable), unique=True) if deletable else st.just([])
    )
    extra = [ident for ident in duplicable if ident not in lost]
    doubled = data.draw(st.lists(st.sampled_from(extra), unique=True) if extra else st.just([]))
    for ident in lost:
        observed.counts[ident] -= 1
    for ident in doubled:
        observed.counts[ident] += 1

    verdict = classify(ops, observed)

    assert (verdict.lost, verdict.duplicated) == (len(lost), len(doubled)), verdict.details
    assert (verdict.unknown_found, verdict.unknown_absent) == (found, absent)
    assert (verdict.failed_found, verdict.unread) == (0, 0)
    assert verdict.acknowledged == sum(op.outcome == "ok" for op in ops)
    assert verdict.unverifiable == sum(op.kind == "not_interested" for op in ops)


# -- end to end: real people, real writes, a real server read over real HTTP


async def test_a_real_run_reads_back_clean_and_a_missing_write_is_lost(
    server: LiveServer, video_file: Path
) -> None:
    ops: list[Op] = []

    async def do(kind: str, person: str, key: str, target: str, send: Awaitable[object]) -> None:
        await send
        ops.append(Op(kind, person, 0.0, 0.0, "ok", "test", "", key, target))

    async with Client([server.url]) as ann, Client([server.url]) as bob:
        for who, name in ((ann, "ann_ck"), (bob, "bob_ck")):
            await who.sign_up(name, PASSWORD)
            await who.log_in(name, PASSWORD)
        video = (await bob.upload(video_file.read_bytes(), caption="clip-1"))["id"]
        ops.append(Op("upload", "bob_ck", 0.0, 0.0, "ok", "test", "", "clip-1"))
        message = ann.post("/v1/messages", json={"to": "bob_ck", "text": "hello-1"})
        await do("message", "ann_ck", "hello-1", "bob_ck", message)
        comment = ann.post(f"/v1/videos/{video}/comments", json={"text": "nice-1"})
        await do("comment", "ann_ck", "nice-1", video, comment)
        for kind in ("watch", "watch", "like", "share", "not_interested"):
            event = {"type": kind, "video_id": video, "watched_ms": 1500}
            await do(kind, "ann_ck", video, "", ann.post("/v1/events", json={"events": [event]}))
        await do("follow", "ann_ck", "bob_ck", "", ann.post("/v1/follows/bob_ck"))

        report = await check_regions({"test": server.url}, ops, PASSWORD)

        assert report["writes"] == {
            "acknowledged": 9, "lost": 0, "duplicated": 0, "unknown_found": 0, "unknown_absent": 0
        }, report["overall"]["details"]  # fmt: skip
        assert report["overall"]["unverifiable"] == 1
        assert report["regions"]["test"]["by_kind"]["watch"]["acknowledged"] == 2

        # Writes we claim were acknowledged but never made must be reported
        # lost: a message, a like, and a message of someone whose sign-up is
        # not there; and one made twice (as a bug would) is duplicated.
        ops.append(Op("message", "ann_ck", 0.0, 0.0, "ok", "test", "", "never-sent", "bob_ck"))
        ops.append(Op("like", "bob_ck", 0.0, 0.0, "ok", "test", "", video))
        ops.append(Op("message", "eve_ck", 0.0, 0.0, "ok", "test", "", "from-eve", "bob_ck"))
        for _ in range(2):
            await ann.post("/v1/messages", json={"to": "bob_ck", "text": "twice"})
        ops.append(Op("message", "ann_ck", 0.0, 0.0, "ok", "test", "", "twice", "bob_ck"))
        people = {"ann_ck": PASSWORD, "bob_ck": PASSWORD, "eve_ck": PASSWORD}

        report = await check_regions({"test": server.url}, ops, people)

    assert (report["writes"]["lost"], report["writes"]["duplicated"]) == (3, 1)
    assert report["regions"]["test"]["lost"] == 3
    assert sorted(report["overall"]["details"]) == [
        "duplicated message 'twice' (ann_ck→bob_ck, at most 1 expected; 2 in test)",
        f"lost likes of video {video} (acknowledged by test, at least 2 expected; 1 in test)",
        "lost message 'from-eve' (eve_ck→bob_ck, acknowledged by test; 0 in test)",
        "lost message 'never-sent' (ann_ck→bob_ck, acknowledged by test; 0 in test)",
        "test: messages eve_ck→bob_ck absent: invalid_credentials",
    ]


def test_every_write_kind_has_a_rule() -> None:
    assert set(RULES) == set(WRITE_KINDS)
