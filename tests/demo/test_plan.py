"""The demo plan: deterministic, and shaped so For You has something to find."""

from __future__ import annotations

from stormproof.demo.plan import DEMO_USERS, TOPICS, make_plan


def test_the_same_seed_gives_the_same_plan() -> None:
    assert make_plan(10) == make_plan(10)
    assert make_plan(10) != make_plan(11)


def test_everyone_has_a_history_and_leaves_half_their_tastes_unseen() -> None:
    plan = make_plan()
    assert [p.name for p in plan.people] == list(DEMO_USERS)
    topic_of = {u.key: u.key.split("-")[0] for u in plan.uploads}
    assert len(plan.uploads) == sum(len(captions) for _, captions in TOPICS.values())
    for person in plan.people:
        watched = {str(e["video_id"]) for act in person.acts for e in act.events}
        for topic in person.tastes:
            theirs = {k for k, t in topic_of.items() if t == topic}
            assert 0 < len(watched & theirs) < len(theirs), (person.name, topic)
        assert len(person.acts) == 3
        assert any(e["type"] == "like" for act in person.acts for e in act.events)
        assert person.acts[-1].messages
    owners = {u.owner for u in plan.uploads}
    assert len(owners) >= 20  # many creators: a page is not two people's videos
