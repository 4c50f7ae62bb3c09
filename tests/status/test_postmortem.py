"""Postmortem drafts are a function of the log (ADR 025): the same draft
whatever order the partitions arrive in; a timeline from the first failing
round to the resolution, with a drill's power cut and restore; impact
figures the platform recorded; writes lost only ever as measured — "none
known" otherwise; operators' words escaped in Markdown and HTML."""

from __future__ import annotations

import random
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stormproof.events import (
    DrillFault,
    DrillReported,
    DrillWrites,
    IncidentOpened,
    IncidentUpdated,
    Payload,
    PostmortemEdited,
    ProbesRecorded,
    RegionSeen,
    RequestsCounted,
    new_event,
)
from stormproof.log import Entry, event_id_for
from stormproof.status.postmortem import Postmortem, draft
from stormproof.status.postmortem_render import md, render_html, render_markdown
from stormproof.views import incidents
from stormproof.views.store import ViewStore
from tests.status.probes import entry, probes, round_at
from tests.views.test_incidents import _apply, _spread

INCIDENT = "inc_west"


def _event(key: str, payload: Payload, at: int, actor: str = "sys_east") -> Entry:
    return Entry(0, 0, key, new_event(payload, actor=actor, at=at, id=event_id_for(key)))


def _uploads(p: ProbesRecorded, delayed: int, touched: tuple[str, ...]) -> ProbesRecorded:
    counted = RequestsCounted(
        component="uploads", requests=5, errors=1, delayed=delayed, touched=touched
    )
    return p.model_copy(update={"requests": (*p.requests, counted)})


def _catching_up(p: ProbesRecorded) -> ProbesRecorded:
    """west answers its health check again, still catching up (its probes fail)."""
    seen = tuple(
        RegionSeen(region="west", reachable=True, ready=False, remaining=40, eta_s=3)
        if s.region == "west"
        else s
        for s in p.regions
    )
    return p.model_copy(update={"regions": seen})


def _rounds() -> list[Entry]:
    """west is up for rounds 0-2, dead for 3-8 (east and north cannot reach
    it; its own prober is silent), catching up in 9, back from 10."""
    rounds = []
    for n in range(15):
        for prober in ("east", "north", "west"):
            if 3 <= n <= 9 and prober == "west":
                continue
            if 3 <= n <= 8:
                p = probes(prober, n, unreached=("west",))
            elif n == 9:
                p = _catching_up(probes(prober, n, failing=("west",)))
            else:
                p = probes(prober, n)
            if prober == "east" and n in (4, 5):
                p = _uploads(p, delayed=2, touched=("u_ana", "u_ben") if n == 4 else ("u_ana",))
            rounds.append(entry(0, 0, p))
    return rounds


def _incident() -> list[Entry]:
    def update(update_id: str, status: str, at: int) -> Entry:
        payload = IncidentUpdated(
            incident_id=INCIDENT, update_id=update_id, status=status,
            text=f"{status} <i>now</i>", automatic=True,
        )  # fmt: skip
        return _event(f"{update_id}:by:east", payload, at)

    opened = IncidentOpened(
        incident_id=INCIDENT,
        title="Sign-in and For You down in west",
        regions=("west",),
        components=("sign_in", "for_you"),
        impact="major",
        began_at=round_at(3),
        text="Sign-in and For You stopped working in west.",
        automatic=True,
    )
    return [
        _event(f"incident:west:{round_at(3)}:opened-by:east", opened, round_at(5) + 5_000),
        update("upd_monitoring", "monitoring", round_at(12) + 5_000),
        update("upd_resolved", "resolved", round_at(14) + 5_000),
    ]


DRILL = DrillReported(
    drill_id="drl_1",
    scenario="snowstorm",
    faults=(
        DrillFault(kind="power_cut", region="west", at=round_at(3) - 2_000),
        DrillFault(kind="power_restore", region="west", at=round_at(8) + 4_000),
    ),
    writes=DrillWrites(acknowledged=120, lost=0, duplicated=0),
    continuity_permille=950,
    cold_start_permille=300,
)
EDITS = [
    _event("pm-1", PostmortemEdited(incident_id=INCIDENT, root_cause="a <script>x</script>",
                                    lessons="old"), round_at(15), actor="u_op"),
    _event("pm-2", PostmortemEdited(incident_id=INCIDENT, lessons="# *new* [l](x)",
                                    published=True), round_at(16), actor="u_op"),
]  # fmt: skip


def _drafted(store: ViewStore) -> Postmortem | None:
    db = store.reader()
    found = incidents.incident(db, INCIDENT)
    assert found is not None
    return draft(db, found)


def _one_partition(path: Path, entries: list[Entry]) -> ViewStore:
    return _apply(path, [[replace(e, seq=n + 1) for n, e in enumerate(entries)]], 1)


def test_the_draft_tells_the_outage_from_the_log(tmp_path: Path) -> None:
    history = [*_rounds(), *_incident(), _event("drill", DRILL, round_at(20), actor="u_op")]
    pm = _drafted(_one_partition(tmp_path / "v.sqlite", history))
    assert pm is not None
    kinds = [m.kind for m in pm.timeline]
    assert kinds == [
        "drill_power_cut", "unreachable", "first_failing_round", "opened", "drill_power_restore",
        "answering", "ready", "probes_pass", "update", "resolved",
    ]  # fmt: skip
    at = {m.kind: m.at for m in pm.timeline}
    assert at["first_failing_round"] == round_at(3) and at["ready"] == round_at(10)
    assert at["answering"] == round_at(9) and at["probes_pass"] == round_at(10)
    assert pm.detection_ms == round_at(5) + 5_000 - round_at(3)
    impact = pm.impact
    assert impact.duration_ms == round_at(14) + 5_000 - round_at(3)
    assert impact.writes_lost.lost == 0 and impact.writes_lost.acknowledged == 120
    assert "checker of drill snowstorm" in impact.writes_lost.how
    assert impact.continuity is not None and impact.continuity.overlap_at_20 == 0.95
    assert (impact.uploads_refused, impact.uploads_delayed, impact.creators_touched) == (2, 4, 2)
    [west] = impact.figures
    assert west.active_people == 7 and west.probes_failed > 0
    assert "snowstorm" in pm.trigger and "power cut in west" in pm.trigger
    assert "west is ready again" in pm.resolution
    assert (pm.root_cause, pm.lessons, pm.published) == ("", "", False)


def test_without_a_drill_writes_lost_are_none_known_not_zero(tmp_path: Path) -> None:
    pm = _drafted(_one_partition(tmp_path / "v.sqlite", [*_rounds(), *_incident()]))
    assert pm is not None
    lost = pm.impact.writes_lost
    assert lost.lost is None and lost.how.startswith("None known")
    assert "none known" in render_markdown(pm) and pm.impact.continuity is None
    assert not any(m.kind.startswith("drill_") for m in pm.timeline)


def test_an_open_incident_has_no_draft(tmp_path: Path) -> None:
    store = _one_partition(tmp_path / "v.sqlite", [*_rounds(), *_incident()[:2]])
    assert _drafted(store) is None


def test_operators_words_are_escaped_in_markdown_and_html(tmp_path: Path) -> None:
    history = [*_rounds(), *_incident(), *EDITS]
    pm = _drafted(_one_partition(tmp_path / "v.sqlite", history))
    assert pm is not None and pm.published
    assert pm.root_cause == "a <script>x</script>" and pm.lessons == "# *new* [l](x)"
    markdown = render_markdown(pm)
    assert r"a \<script\>x\</script\>" in markdown and r"\# \*new\* \[l\](x)" in markdown
    assert "<script>" not in markdown and "<i>" not in markdown
    page = render_html(pm)
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script" not in page
    assert "&lt;i&gt;now&lt;/i&gt;" in page
    external = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert external == ["/status"]  # nothing loaded, one link back
    assert md("1. x\n- y") == "1\\. x  \n\\- y"


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_every_order_drafts_the_same_postmortem(rng: random.Random) -> None:
    history = [*_rounds(), *_incident(), _event("drill", DRILL, round_at(20)), *EDITS]
    with tempfile.TemporaryDirectory() as folder:
        one = _one_partition(Path(folder) / "one.sqlite", history)
        spread = _apply(Path(folder) / "spread.sqlite", _spread(history, rng), 3)
        first, second = _drafted(one), _drafted(spread)
        assert first is not None and first == second
        assert render_markdown(first) == render_markdown(second)
        assert one.digests()["views"]["postmortems"] == spread.digests()["views"]["postmortems"]
        for store in (one, spread):
            store.close()
