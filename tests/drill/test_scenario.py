"""Scenario files: the built-ins and what they do, what is refused (naming the
line), the quick variant, and generated scenarios round-tripping."""

from __future__ import annotations

import json
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stormproof.drill.scenario import (
    BUILTINS,
    DEFAULT_SCENARIO,
    Abort,
    Fault,
    Interval,
    Load,
    Scenario,
    ScenarioError,
    Wan,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)
from stormproof.errors import StormproofError

US = ("us-east", "us-central", "us-west")

#: what each built-in's description says, as (time, action, region)
BUILTIN_TIMELINES: dict[str, list[tuple[float, str, str]]] = {
    "snowstorm": [
        (20, "grid_loss", "us-east"),
        (30, "power_cut", "us-east"),
        (70, "power_restore", "us-east"),
    ],
    "generator_late": [
        (20, "grid_loss", "us-east"),
        (30, "power_cut", "us-east"),
        (55, "power_restore", "us-east"),
    ],
    "cooling_failure": [(20, "power_cut", "us-east"), (45, "power_restore", "us-east")],
    "flapping": [
        (at, kind, "us-east")
        for cut in (20, 40, 60)
        for at, kind in ((cut, "power_cut"), (cut + 8, "power_restore"))
    ],
    "gray_failure": [(20, "freeze", "us-central"), (40, "thaw", "us-central")],
    "partition": [(20, "partition", "us-west"), (40, "heal", "us-west")],
    "two_regions": [
        (20, "power_cut", "us-east"),
        (35, "power_cut", "us-central"),
        (55, "power_restore", "us-east"),
        (60, "power_restore", "us-central"),
    ],
    "country_storm": [
        *((20, "power_cut", region) for region in US),
        *((45, "power_restore", region) for region in US),
    ],
}
NO_QUORUM = {"two_regions", "country_storm"}
MINIMAL: dict[str, Any] = {"name": "t", "description": "A test.", "duration_s": 100, "regions": US}


def timeline(scenario: Scenario) -> list[tuple[float, str, str | None]]:
    return [(action.at_s, action.kind, action.region) for action in scenario.actions()]


def test_the_builtins_are_the_files_shipped() -> None:
    folder = resources.files("stormproof.drill") / "scenarios"
    shipped = {entry.name.removesuffix(".toml") for entry in folder.iterdir()}
    assert shipped == set(BUILTINS) == set(BUILTIN_TIMELINES)
    assert DEFAULT_SCENARIO == BUILTINS[0] == "snowstorm"


@pytest.mark.parametrize("name", BUILTINS)
def test_a_builtin_does_what_its_description_says(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.regions == US
    assert scenario.load == Load(viewers=60, creators=6, rate=0.5)
    assert scenario.duration_s <= 100
    assert scenario.description and "\n" not in scenario.description
    assert timeline(scenario) == BUILTIN_TIMELINES[name]
    shipped = resources.files("stormproof.drill") / "scenarios" / f"{name}.toml"
    assert scenario.text == shipped.read_text()


def test_snowstorm_is_the_default_of_the_issue() -> None:
    expected = Scenario(
        name="snowstorm",
        description="Grid lost at us-east; UPS carries 10 s; the generator fails to start; "
        "power returns at 70 s.",
        duration_s=100,
        seed=1,
        regions=US,
        load=Load(viewers=60, creators=6, rate=0.5),
        wan=(Wan(between=("us-east", "us-west"), rtt_ms=70),),
        fault=(
            Fault(at_s=20, kind="grid_loss", region="us-east", ups_s=10, generator="fails"),
            Fault(at_s=70, kind="power_restore", region="us-east", disks_lost=False),
        ),
    )
    snowstorm = load_scenario("snowstorm")
    assert snowstorm.model_dump() == expected.model_dump()
    assert [action.label for action in snowstorm.actions()] == [
        "us-east: grid lost, on UPS",
        "us-east: power cut (generator failed)",
        "us-east: power restored",
    ]
    assert [action.fault for action in snowstorm.actions()] == [0, 0, 1]
    assert snowstorm.intervals() == [
        Interval(20, 30, "us-east", "on_ups", "us-east: on UPS"),
        Interval(30, 70, "us-east", "down", "us-east: down"),
    ]


def test_the_details_of_the_builtins() -> None:
    late = load_scenario("generator_late").actions()
    assert late[1].label == "us-east: power cut (generator 25 s late)"
    assert not late[2].disks_lost
    assert load_scenario("cooling_failure").actions()[1].disks_lost
    assert load_scenario("gray_failure").intervals() == [
        Interval(20, 40, "us-central", "frozen", "us-central: frozen")
    ]
    assert load_scenario("partition").intervals() == [
        Interval(20, 40, "us-west", "partitioned", "us-west: partitioned")
    ]


def test_builtin_scenarios_are_listed_in_order() -> None:
    assert [scenario.name for scenario in builtin_scenarios()] == list(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_quorum_is_lost_only_when_a_majority_is_out(name: str) -> None:
    assert load_scenario(name).quorum_lost() == (name in NO_QUORUM)


def test_round_trip_times_default_to_us_values_and_wan_entries_override() -> None:
    assert load_scenario("snowstorm").rtts() == {
        frozenset({"us-east", "us-central"}): 30,
        frozenset({"us-central", "us-west"}): 40,
        frozenset({"us-east", "us-west"}): 70,
    }
    scenario = Scenario.model_validate(
        {
            **MINIMAL,
            "regions": ["us-east", "us-west", "eu-west"],
            "wan": [{"between": ["eu-west", "us-west"], "rtt_ms": 140}],
        }
    )
    assert scenario.rtts() == {
        frozenset({"us-east", "us-west"}): 70,
        frozenset({"us-east", "eu-west"}): 50,
        frozenset({"us-west", "eu-west"}): 140,
    }


def test_a_cut_never_restored_is_down_until_the_end() -> None:
    faults = [
        {"at_s": 10, "kind": "freeze", "region": "us-west"},
        {"at_s": 20, "kind": "grid_loss", "region": "us-west", "ups_s": 5, "generator": "fails"},
        {"at_s": 30, "kind": "wan", "between": ["us-east", "us-west"], "rtt_ms": 200},
    ]
    scenario = Scenario.model_validate({**MINIMAL, "fault": faults})
    assert [(i.start_s, i.end_s, i.kind) for i in scenario.intervals()] == [
        (10, 25, "frozen"),  # the cut ends the freeze
        (20, 25, "on_ups"),
        (25, 100, "down"),
    ]
    assert scenario.actions()[-1].label == "us-east to us-west: round trip 200 ms"
    assert scenario.actions()[-1].between == ("us-east", "us-west")


def test_a_started_generator_cuts_nothing() -> None:
    fault = {"at_s": 20, "kind": "grid_loss", "region": "us-east", "ups_s": 10}
    scenario = Scenario.model_validate({**MINIMAL, "fault": [fault | {"generator": "starts"}]})
    assert timeline(scenario) == [(20, "grid_loss", "us-east"), (30, "generator_start", "us-east")]
    assert [i.kind for i in scenario.intervals()] == ["on_ups"]


# -- refused, naming the line ------------------------------------------------

BASE = """\
name = "base"
description = "A test scenario."
duration_s = 100
regions = ["us-east", "us-central", "us-west"]

[load]
viewers = 60

[[wan]]
between = ["us-east", "us-west"]
rtt_ms = 70

[[fault]]
at_s = 20
kind = "power_cut"
region = "us-east"

[[fault]]
at_s = 70
kind = "power_restore"
region = "us-east"
"""
CUT = 'kind = "power_cut"\nregion = "us-east"\n'
RESTORE = 'kind = "power_restore"\nregion = "us-east"\n'
GRID = 'kind = "grid_loss"\nregion = "us-east"\nups_s = 10\n'

#: (change to BASE, the line at fault, what the message says)
REFUSED = {
    "unknown top-level key": (("duration_s = 100\n", "duration_s = 100\nspeed = 2\n"), 4,
                              'unknown key "speed" (known: name, description,'),
    "unknown key in load": (("viewers", "viewrs"), 7, 'unknown key "load.viewrs" (known: viewers,'),
    "unknown key in a fault": ((CUT, CUT + 'colour = "red"\n'), 17,
                               'fault 1: unknown key "colour"'),
    "key of another kind": ((CUT, CUT + "disks_lost = true\n"), 17,
                            "fault 1: disks_lost does not apply to a power_cut fault"),
    "unknown kind": (('"power_cut"', '"meltdown"'), 15,
                     'fault 1: kind "meltdown" is not one of \'grid_loss\''),
    "region not in regions": ((RESTORE, RESTORE.replace("us-east", "us-norht")), 21,
                              'fault 2: region "us-norht" is not one of us-east, us-central, '
                              "us-west"),
    "negative time": (("at_s = 20", "at_s = -5"), 14, "fault 1: at_s: Input should be greater"),
    "time at the end": (("at_s = 70", "at_s = 100"), 19,
                        "fault 2: it happens at 100 s, not before the end of the run "
                        "(duration_s = 100)"),
    "time beyond the end": (("at_s = 70", "at_s = 250"), 19, "fault 2: it happens at 250 s"),
    "not a finite time": (("at_s = 70", "at_s = inf"), 19, "fault 2: at_s:"),
    "restore of a region that is up": ((RESTORE, RESTORE.replace("us-east", "us-west")), 19,
                                       "fault 2: us-west is not down at 70 s"),
    "restore before the cut": (("at_s = 70", "at_s = 10"), 19,
                               "fault 2: us-east is not down at 10 s"),
    "cut of a region already down": (('"power_restore"', '"power_cut"'), 19,
                                     "fault 2: us-east is already down at 70 s"),
    "thaw of a region not frozen": (('"power_restore"', '"thaw"'), 19,
                                    "fault 2: us-east is not frozen at 70 s"),
    "heal without partition": (('"power_restore"', '"heal"'), 19,
                               "fault 2: us-east is not partitioned at 70 s"),
    "grid loss without its generator": ((CUT, GRID), 13,
                                        "fault 1: a grid_loss fault needs generator"),
    "generator neither fails nor starts": ((CUT, GRID + 'generator = "maybe"\n'), 18,
                                           'fault 1: generator: should be "fails", "starts"'),
    "UPS outlasting the run": ((CUT, GRID.replace("10", "90") + 'generator = "fails"\n'), 17,
                               "fault 1: its UPS runs out at 110 s"),
    "restore while the generator decides": ((CUT, GRID + "generator = 45\n"), 21,
                                            "fault 2: us-east is on the power of fault 1"),
    "wan pair of one region twice": (('["us-east", "us-west"]', '["us-east", "us-east"]'), 10,
                                     "wan 1: a pair needs two regions, not us-east twice"),
    "wan pair with an unknown region": (('["us-east", "us-west"]', '["us-east", "mars"]'), 10,
                                        'wan 1: region "mars" is not one of'),
    "wan pair of one": (('["us-east", "us-west"]', '["us-east"]'), 10,
                        "wan 1: between: item 2 is missing"),
    "rtt not a number": (("rtt_ms = 70", 'rtt_ms = "70"'), 11,
                         "wan 1: rtt_ms: Input should be a valid number"),
    "rtt not finite": (("rtt_ms = 70", "rtt_ms = nan"), 11, "wan 1: rtt_ms:"),
    "a count that is a boolean": (("viewers = 60", "viewers = true"), 7, "load.viewers:"),
    "TOML syntax error": (("viewers = 60", "viewers = = 60"), 7,
                          "not valid TOML: Invalid value (at line 7, column 11)"),
    "duplicate region names": (('"us-central", "us-west"]', '"us-west", "us-west"]'), 4,
                               'region "us-west" is listed twice'),
    "six regions": (('"us-west"]', '"us-west", "eu-west", "ap-south", "sa-east"]'), 4,
                    "regions: Tuple should have at most 5 items"),
    "region name not plain": (('"us-central",', '"US Central",'), 4,
                              "regions: String should match pattern"),
    "multi-line value, named by its first line": (
        ('["us-east", "us-central", "us-west"]', '[\n  "us-east",\n  "us-east",\n]'), 4,
        'region "us-east" is listed twice'),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED)
def test_a_malformed_scenario_is_refused_naming_the_line(case: str, tmp_path: Path) -> None:
    (old, new), line, says = REFUSED[case]
    assert old in BASE
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as refused:
        load_scenario(str(path))
    assert str(refused.value).startswith(f"{path}:{line}: ")
    assert says in str(refused.value)
    assert (refused.value.file, refused.value.line) == (str(path), line)
    assert refused.value.code == "invalid_scenario"
    assert isinstance(refused.value, StormproofError)


def test_the_base_of_the_malformed_cases_is_valid() -> None:
    assert timeline(parse_scenario(BASE)) == [(20, "power_cut", "us-east"),
                                              (70, "power_restore", "us-east")]  # fmt: skip


def test_a_missing_key_is_named() -> None:
    with pytest.raises(ScenarioError, match=r'^s\.toml: missing key "duration_s"$'):
        parse_scenario(BASE.replace("duration_s = 100\n", ""), "s.toml")


def test_an_unknown_name_lists_the_builtins() -> None:
    with pytest.raises(ScenarioError, match=r"snowstorm, generator_late, .*country_storm"):
        load_scenario("snowstrom")


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read it"), (b"\xff\xfe", "not UTF-8"), (b"#" * 70_000, "larger than 64 KiB")],
)
def test_an_unreadable_file_is_refused(content: bytes | None, says: str, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ScenarioError, match=says):
        load_scenario(str(path))


def test_a_file_by_path_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BASE)
    assert load_scenario(str(path)).text == BASE


# -- quick and seed ------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_quick_keeps_the_faults_in_order_and_shrinks(name: str) -> None:
    scenario = load_scenario(name)
    quick = scenario.quick()
    assert [(f.kind, f.region) for f in quick.fault] == [(f.kind, f.region) for f in scenario.fault]
    same = [(a.kind, a.region, a.fault, a.disks_lost) for a in scenario.actions()]
    assert [(a.kind, a.region, a.fault, a.disks_lost) for a in quick.actions()] == same
    assert 26 <= quick.duration_s <= 36 < scenario.duration_s
    times = [action.at_s for action in quick.actions()]
    assert times[0] >= 8
    assert all(b - a >= 3 or a == b for a, b in pairwise(times))
    assert quick.duration_s - times[-1] >= 3
    assert quick.load == Load(viewers=20, creators=3, rate=0.5)
    assert quick.quorum_lost() == scenario.quorum_lost()
    assert quick.text == scenario.text


def test_quick_scales_the_ups_and_the_generator_delay() -> None:
    snowstorm = load_scenario("snowstorm").quick()
    assert timeline(snowstorm) == [
        (8, "grid_loss", "us-east"),
        (11, "power_cut", "us-east"),
        (23, "power_restore", "us-east"),
    ]
    assert snowstorm.duration_s == 32
    assert snowstorm.fault[0].ups_s == 3
    late = load_scenario("generator_late").quick()  # 30 / 90 of each gap, whole seconds
    assert [a.at_s for a in late.actions()] == [8, 11, 19]
    assert (late.fault[0].ups_s, late.fault[0].generator, late.duration_s) == (3, 8, 31)


def test_quick_keeps_a_short_scenario_and_a_small_population() -> None:
    fault = {"at_s": 2.5, "kind": "power_cut", "region": "us-east"}
    small = Scenario.model_validate(
        {**MINIMAL, "duration_s": 30, "load": {"viewers": 10, "creators": 1}, "fault": [fault]}
    )
    quick = small.quick()
    assert (quick.duration_s, quick.fault) == (30, small.fault)
    assert (quick.load.viewers, quick.load.creators) == (6, 1)


def test_quick_scales_the_abort_window() -> None:
    scenario = Scenario.model_validate({**MINIMAL, "abort": {}})
    assert scenario.abort == Abort(min_success_ratio=0.5, for_s=10)
    assert scenario.quick().abort == Abort(min_success_ratio=0.5, for_s=3)


def test_with_seed() -> None:
    snowstorm = load_scenario("snowstorm")
    seeded = snowstorm.with_seed(7)
    assert seeded.seed == 7
    assert seeded.model_dump() == snowstorm.model_dump() | {"seed": 7}
    assert seeded.text == snowstorm.text
    with pytest.raises(ValidationError):
        snowstorm.with_seed(-1)


# -- generated scenarios --------------------------------------------------------

POOL = ["us-east", "us-central", "us-west", "eu-west", "ap-south", "r1", "a-b-2"]


@st.composite
def scenario_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario, as the dict a file parses to: faults one after another,
    each possible in the state the earlier ones left."""
    regions = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True))
    duration = float(draw(st.integers(10, 400)))
    down: set[str] = set()
    frozen: set[str] = set()
    partitioned: set[str] = set()
    faults: list[dict[str, Any]] = []
    clock = 0.0
    for _ in range(draw(st.integers(0, 12))):
        clock += draw(st.sampled_from([0, 0.5, 1, 3, 7.25, 20]))
        if clock >= duration:
            break
        region = draw(st.sampled_from(regions))
        kinds = ["power_restore"] if region in down else ["power_cut", "grid_loss"]
        kinds += ["thaw"] if region in frozen else [] if region in down else ["freeze"]
        kinds += ["heal"] if region in partitioned else ["partition"]
        kinds += ["wan"] if len(regions) > 1 else []
        kind = draw(st.sampled_from(kinds))
        fault: dict[str, Any] = {"at_s": clock, "kind": kind, "region": region}
        if kind == "wan":
            pair = draw(st.lists(st.sampled_from(regions), min_size=2, max_size=2, unique=True))
            fault = {"at_s": clock, "kind": kind, "between": pair, "rtt_ms": 12.5}
        elif kind == "grid_loss":
            ups = draw(st.sampled_from([0, 2, 10]))
            generator = draw(st.sampled_from(["fails", "starts", 1.0, 5.5, 25]))
            ups_end = clock + ups
            back = ups_end + generator if isinstance(generator, int | float) else ups_end
            if back >= duration:
                continue
            fault |= {"ups_s": ups, "generator": generator}
            clock = back  # no other fault while the UPS and generator decide
            if generator != "starts":
                frozen.discard(region)
            if generator == "fails":
                down.add(region)
        elif kind == "power_restore":
            fault["disks_lost"] = draw(st.booleans())
        for states, on, off in (
            (down, "power_cut", "power_restore"),
            (frozen, "freeze", "thaw"),
            (partitioned, "partition", "heal"),
        ):
            if kind == on:
                states.add(region)
            elif kind == off:
                states.discard(region)
        if kind == "power_cut":
            frozen.discard(region)  # a cut ends a freeze
        faults.append(fault)
    pairs = [[a, b] for i, a in enumerate(regions) for b in regions[i + 1 :]]
    wan = draw(st.lists(st.sampled_from(pairs), unique_by=tuple, max_size=3)) if pairs else []
    document: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,12}", fullmatch=True)),
        "description": draw(
            st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=60)
        ),
        "duration_s": duration,
        "seed": draw(st.integers(0, 2**40)),
        "regions": regions,
        "load": {"viewers": draw(st.integers(0, 200)), "rate": draw(st.floats(0.1, 5))},
        "wan": [{"between": pair, "rtt_ms": draw(st.integers(1, 300))} for pair in wan],
        "fault": faults,
    }
    if draw(st.booleans()):
        document["abort"] = {"for_s": 5.5}
    return document


def to_toml(document: dict[str, Any]) -> str:
    """A small TOML writer, for the values a scenario holds."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(item) for item in v) + "]"
        return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)

    def table(entries: dict[str, Any]) -> list[str]:
        return [f"{key} = {value(v)}" for key, v in entries.items() if v is not None]

    tables = {k: v for k, v in document.items() if isinstance(v, dict | list | tuple)}
    lines = table({k: v for k, v in document.items() if k not in tables or k == "regions"})
    for key, v in tables.items():
        if isinstance(v, dict):
            lines += [f"[{key}]", *table(v)]
        elif key != "regions":
            for entry in v:
                lines += [f"[[{key}]]", *table(entry)]
    return "\n".join(lines) + "\n"


@given(scenario_documents())
def test_a_generated_scenario_round_trips_and_its_timeline_holds(document: dict[str, Any]) -> None:
    scenario = Scenario.model_validate(document)
    text = to_toml(scenario.model_dump(exclude_none=True))
    assert parse_scenario(text).model_dump() == scenario.model_dump()
    assert parse_scenario(to_toml(document)).model_dump() == scenario.model_dump()
    times = [action.at_s for action in scenario.actions()]
    assert times == sorted(times)
    assert all(0 <= t < scenario.duration_s for t in times)
    assert all(0 <= i.start_s < i.end_s <= scenario.duration_s for i in scenario.intervals())
    quick = scenario.quick()
    shape = [(a.kind, a.region, a.fault) for a in scenario.actions()]
    assert [(a.kind, a.region, a.fault) for a in quick.actions()] == shape
    assert quick.duration_s <= scenario.duration_s


def test_a_scenario_sets_the_month_creators_credits_are_computed_against() -> None:
    """Issue 15, item 5: a drill's outage against a real month would earn
    nobody anything; the scenario's ``sla_month_s`` (600 s by default) is
    the "month" of the credits its report shows."""
    text = load_scenario("snowstorm").text
    assert load_scenario("snowstorm").sla_month_s == 600
    assert parse_scenario("sla_month_s = 1200\n" + text).sla_month_s == 1200
    with pytest.raises(ScenarioError, match="sla_month_s"):
        parse_scenario("sla_month_s = 5\n" + text)
