"""Drill scenarios: what goes wrong, where and when, read from a TOML file.

A scenario names its regions, the simulated people and the faults to replay
(``scenarios/snowstorm.toml`` in this package shows every part).
:func:`load_scenario` reads a built-in one by name or any file by path, and
refuses anything it could not replay exactly — an unknown key or kind, a region
not listed, a time outside the run, a restore of a region that is up — before
anything starts, with the file and line: ``snowstorm.toml:26: fault 2: ...``.

Round-trip times start at realistic US values (:data:`KNOWN_RTT_MS`), or
:data:`DEFAULT_RTT_MS` for a pair not known; ``[[wan]]`` entries override a
pair; a ``wan`` fault changes one mid-run.

:meth:`Scenario.quick` is the same drill, smaller. Every gap of the physical
timeline (start to first action, action to action, last action to end) is
multiplied by ``30 / duration_s`` and rounded to whole seconds, but not below
8 s for the first (the control window) nor 3 s for the others; a gap already
shorter than that is kept, so equal times stay equal and the order is the same.
``ups_s`` and a late generator's delay follow from the new times, ``abort.for_s``
is scaled alike (at least 3 s). The run lasts about 30 s (more when the minimum
gaps need it); one of 30 s or less keeps its times. Viewers are divided by 3
(at least 6), creators by 2 (at least 2), never more than before.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from stormproof.cluster import REGION_NAMES
from stormproof.drill.timeline import Action, ActionKind, Interval, check, intervals, quorum_lost
from stormproof.drill.toml_lines import line_of
from stormproof.errors import StormproofError

__all__ = [
    "BUILTINS",
    "DEFAULT_RTT_MS",
    "DEFAULT_SCENARIO",
    "KNOWN_RTT_MS",
    "Abort",
    "Action",
    "Fault",
    "Interval",
    "Load",
    "Scenario",
    "ScenarioError",
    "Wan",
    "builtin_scenarios",
    "load_scenario",
    "parse_scenario",
]

#: the built-in scenarios, in the order ``--list`` shows them
BUILTINS = (
    "snowstorm",
    "generator_late",
    "cooling_failure",
    "flapping",
    "gray_failure",
    "partition",
    "two_regions",
    "country_storm",
)
DEFAULT_SCENARIO = "snowstorm"
#: typical round trips between US data-center regions, milliseconds
KNOWN_RTT_MS: dict[frozenset[str], float] = {
    frozenset({"us-east", "us-central"}): 30.0,
    frozenset({"us-central", "us-west"}): 40.0,
    frozenset({"us-east", "us-west"}): 70.0,
}
#: a pair of regions neither known nor given: a long domestic round trip
DEFAULT_RTT_MS = 50.0

# Bounds that keep a typo from starting a runaway drill.
MAX_FILE_BYTES = 64 * 1024
MAX_DURATION_S = 3600.0
MAX_FAULTS = 200
MAX_VIEWERS = 1000
MAX_CREATORS = 200
MAX_RATE = 10.0
MAX_RTT_MS = 5000.0

QUICK_DURATION_S = 30.0
QUICK_CONTROL_S = 8.0
QUICK_GAP_S = 3.0

_CONFIG = ConfigDict(frozen=True, extra="forbid")
Seconds = Annotated[float, Strict(), Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)]
Milliseconds = Annotated[float, Strict(), Field(gt=0, le=MAX_RTT_MS, allow_inf_nan=False)]
RegionName = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=32)
]
RegionRef = Annotated[str, Strict()]
FaultKind = Literal[
    "grid_loss", "power_cut", "power_restore", "freeze", "thaw", "partition", "heal", "wan"
]


class ScenarioError(StormproofError):
    """A scenario that cannot be read or replayed; ``file`` and ``line`` (from 1,
    None when no one line is at fault) say where."""

    status = 400
    code = "invalid_scenario"

    def __init__(self, problem: str, *, file: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}", file=file, line=line)
        self.problem = problem
        self.file = file
        self.line = line


class Load(BaseModel):
    """The simulated people: viewers scroll For You, creators upload too."""

    model_config = _CONFIG
    viewers: Annotated[int, Strict(), Field(ge=0, le=MAX_VIEWERS)] = 60
    creators: Annotated[int, Strict(), Field(ge=0, le=MAX_CREATORS)] = 6
    #: actions per person per second, on average
    rate: Annotated[float, Strict(), Field(gt=0, le=MAX_RATE, allow_inf_nan=False)] = 0.5


class Wan(BaseModel):
    """The starting round-trip time of one pair of regions."""

    model_config = _CONFIG
    between: tuple[RegionRef, RegionRef]
    rtt_ms: Milliseconds


class Abort(BaseModel):
    """Stop the drill when user-facing success, relative to the control window,
    stays below ``min_success_ratio`` for ``for_s`` seconds."""

    model_config = _CONFIG
    min_success_ratio: Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False)] = 0.5
    for_s: Annotated[float, Strict(), Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)] = 10.0


#: each kind's keys besides ``at_s`` and ``kind``: (required, optional)
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "grid_loss": (("region", "ups_s", "generator"), ()),
    "power_cut": (("region",), ()),
    "power_restore": (("region",), ("disks_lost",)),
    "freeze": (("region",), ()),
    "thaw": (("region",), ()),
    "partition": (("region",), ()),
    "heal": (("region",), ()),
    "wan": (("between", "rtt_ms"), ()),
}


class Fault(BaseModel):
    """One fault of the file. ``grid_loss``: the UPS runs ``ups_s``, then the
    ``generator`` ``"starts"`` (no cut), ``"fails"`` (a cut) or starts that
    many seconds late (a cut that long)."""

    model_config = _CONFIG
    at_s: Seconds
    kind: FaultKind
    region: RegionRef | None = None
    ups_s: Seconds | None = None
    generator: Literal["fails", "starts"] | float | None = None
    #: a power restore: the region comes back with empty disks
    disks_lost: Annotated[bool, Strict()] = False
    between: tuple[RegionRef, RegionRef] | None = None
    rtt_ms: Milliseconds | None = None

    @field_validator("generator", mode="before")
    @classmethod
    def _generator(cls, value: object) -> object:
        if value is None or value in ("fails", "starts"):
            return value
        seconds = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(value, int | float) and seconds and 0 < value <= MAX_DURATION_S:
            return float(value)
        raise PydanticCustomError(
            "generator", 'should be "fails", "starts" or the seconds it starts late (> 0)'
        )

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> Self:
        required, optional = _KEYS[self.kind]
        given = {
            "region": self.region is not None,
            "ups_s": self.ups_s is not None,
            "generator": self.generator is not None,
            "disks_lost": self.disks_lost,
            "between": self.between is not None,
            "rtt_ms": self.rtt_ms is not None,
        }
        for key, present in given.items():
            if present and key not in required + optional:
                keys = ", ".join(("at_s", "kind", *required, *optional))
                _refuse(f"{key} does not apply to a {self.kind} fault (its keys: {keys})", key)
        missing = [key for key in required if not given[key]]
        if missing:
            _refuse(f"a {self.kind} fault needs {' and '.join(missing)}")
        return self

    def _grid_times(self) -> tuple[float, float, float | None]:
        """A grid loss's times: the loss, the end of its UPS, and the power's
        return if the generator starts late (else None)."""
        assert self.ups_s is not None
        ups_end = self.at_s + self.ups_s
        late = self.generator if isinstance(self.generator, float) else None
        return self.at_s, ups_end, None if late is None else ups_end + late


class Scenario(BaseModel):
    """A drill scenario, as its file says. ``text`` is the file's source (kept by
    :meth:`with_seed` and :meth:`quick`)."""

    model_config = _CONFIG
    name: Annotated[str, Strict(), StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    #: one line, for ``--list``
    description: Annotated[str, Strict(), StringConstraints(pattern=r"^[^\r\n]{1,300}$")]
    duration_s: Annotated[float, Strict(), Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)]
    seed: Annotated[int, Strict(), Field(ge=0, lt=2**63)] = 1
    regions: Annotated[tuple[RegionName, ...], Field(min_length=1, max_length=len(REGION_NAMES))]
    load: Load = Load()
    wan: tuple[Wan, ...] = ()
    #: the ``[[fault]]`` tables, in file order
    fault: Annotated[tuple[Fault, ...], Field(max_length=MAX_FAULTS)] = ()
    abort: Abort | None = None
    #: the "month" creators' SLA credits are computed against in the report
    #: (ADR 031): a drill's outage against a real month would earn nothing
    sla_month_s: Annotated[float, Strict(), Field(ge=60, le=MAX_DURATION_S * 100)] = 600.0
    _text: str = PrivateAttr(default="")

    @property
    def text(self) -> str:
        return self._text

    @model_validator(mode="after")
    def _replayable(self) -> Self:
        for index, region in enumerate(self.regions):
            if region in self.regions[:index]:
                _refuse(f'region "{region}" is listed twice', "regions")
        pairs: set[frozenset[str]] = set()
        for index, wan in enumerate(self.wan):
            self._check_pair(wan.between, ("wan", index, "between"))
            if frozenset(wan.between) in pairs:
                _refuse("this pair's round trip is already given", "wan", index, "between")
            pairs.add(frozenset(wan.between))
        for index, fault in enumerate(self.fault):
            at: tuple[str | int, ...] = ("fault", index)
            if fault.region is not None and fault.region not in self.regions:
                known = ", ".join(self.regions)
                _refuse(f'region "{fault.region}" is not one of {known}', *at, "region")
            if fault.between is not None:
                self._check_pair(fault.between, (*at, "between"))
            if fault.kind == "grid_loss":
                _, ups_end, back = fault._grid_times()
                self._check_time(ups_end, "its UPS runs out", (*at, "ups_s"))
                if back is not None:
                    self._check_time(back, "its late generator starts", (*at, "generator"))
            self._check_time(fault.at_s, "it happens", (*at, "at_s"))
        problem = check(self.actions())
        if problem is not None:
            _refuse(problem[1], "fault", problem[0].fault, "at_s")
        return self

    def _check_pair(self, pair: tuple[str, str], at: tuple[str | int, ...]) -> None:
        for region in pair:
            if region not in self.regions:
                _refuse(f'region "{region}" is not one of {", ".join(self.regions)}', *at)
        if pair[0] == pair[1]:
            _refuse(f"a pair needs two regions, not {pair[0]} twice", *at)

    def _check_time(self, at_s: float, what: str, at: tuple[str | int, ...]) -> None:
        if at_s >= self.duration_s:
            end = f"duration_s = {self.duration_s:g}"
            _refuse(f"{what} at {at_s:g} s, not before the end of the run ({end})", *at)

    def actions(self) -> list[Action]:
        """The physical timeline, by time (faults of one instant in file order)."""
        actions = [a for index, fault in enumerate(self.fault) for a in _expand(fault, index)]
        return sorted(actions, key=lambda action: action.at_s)

    def rtts(self) -> dict[frozenset[str], float]:
        """The starting round-trip time (ms) of every pair of regions."""
        rtts = {
            frozenset(pair): KNOWN_RTT_MS.get(frozenset(pair), DEFAULT_RTT_MS)
            for pair in combinations(self.regions, 2)
        }
        rtts.update({frozenset(wan.between): wan.rtt_ms for wan in self.wan})
        return rtts

    def intervals(self) -> list[Interval]:
        """Down, frozen, partitioned and on-UPS spans, for shading plots."""
        return intervals(self.actions(), self.duration_s)

    def quorum_lost(self) -> bool:
        """Whether at some moment no majority of the regions is healthy (up,
        running, connected): such a drill is "degraded as designed"."""
        return quorum_lost(self.intervals(), len(self.regions))

    def with_seed(self, seed: int) -> Scenario:
        return self._evolve(seed=seed)

    def quick(self) -> Scenario:
        """The same faults in the same order, on a shorter timeline with fewer
        people (the rule is in the module's docstring)."""
        factor = min(1.0, QUICK_DURATION_S / self.duration_s)
        moments = sorted({action.at_s for action in self.actions()})
        new: dict[float, float] = {}
        old_clock = new_clock = 0.0
        for moment in moments:
            floor = QUICK_CONTROL_S if not new else QUICK_GAP_S
            new_clock += _shrink(moment - old_clock, factor, floor)
            new[moment], old_clock = new_clock, moment
        faults = []
        for fault in self.fault:
            changes: dict[str, Any] = {"at_s": new[fault.at_s]}
            if fault.kind == "grid_loss":
                lost, ups_end, back = fault._grid_times()
                changes["ups_s"] = new[ups_end] - new[lost]
                if back is not None:
                    changes["generator"] = new[back] - new[ups_end]
            faults.append(fault.model_copy(update=changes))
        load = self.load.model_copy(
            update={
                "viewers": min(self.load.viewers, max(6, self.load.viewers // 3)),
                "creators": min(self.load.creators, max(2, self.load.creators // 2)),
            }
        )
        abort = self.abort and self.abort.model_copy(
            update={"for_s": _shrink(self.abort.for_s, factor, QUICK_GAP_S)}
        )
        return self._evolve(
            duration_s=new_clock + _shrink(self.duration_s - old_clock, factor, QUICK_GAP_S),
            load=load,
            fault=tuple(faults),
            abort=abort,
        )

    def _evolve(self, **changes: Any) -> Scenario:
        """A copy with ``changes``, validated again, with the same text."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        evolved = type(self).model_validate(fields | changes)
        evolved._text = self._text
        return evolved


def _shrink(gap: float, factor: float, floor: float) -> float:
    """``gap`` times ``factor`` in whole seconds, but at least ``floor`` — or the
    whole gap, if that is shorter."""
    if factor >= 1:
        return gap
    return min(gap, max(round(gap * factor), floor))


#: what a one-action fault does, for its label
_WHAT = {
    "power_cut": "power cut",
    "freeze": "frozen",
    "thaw": "thawed",
    "partition": "cut off from the other regions",
    "heal": "partition healed",
}


def _expand(fault: Fault, index: int) -> list[Action]:
    """A fault's actions: one, or a grid loss's marker and what follows it."""

    def act(at_s: float, kind: ActionKind, what: str) -> Action:
        who = fault.region or " to ".join(fault.between or ())
        return Action(at_s=at_s, kind=kind, region=fault.region, disks_lost=fault.disks_lost,
                      between=fault.between, rtt_ms=fault.rtt_ms, fault=index,
                      label=f"{who}: {what}")  # fmt: skip

    match fault.kind:
        case "grid_loss":
            lost, ups_end, back = fault._grid_times()
            if fault.generator == "starts":
                after = [act(ups_end, "generator_start", "generator started, no cut")]
            elif back is None:
                after = [act(ups_end, "power_cut", "power cut (generator failed)")]
            else:
                after = [
                    act(ups_end, "power_cut", f"power cut (generator {back - ups_end:g} s late)"),
                    act(back, "power_restore", "power restored (generator started)"),
                ]
            return [act(lost, "grid_loss", "grid lost, on UPS"), *after]
        case "wan":
            what = f"round trip {fault.rtt_ms:g} ms"
        case "power_restore":
            what = "power restored, disks lost" if fault.disks_lost else "power restored"
        case _:
            what = _WHAT[fault.kind]
    return [act(fault.at_s, fault.kind, what)]


def _refuse(problem: str, *at: str | int) -> None:
    """Refuse the scenario from a validator; ``at`` is the key at fault, in the
    document, from where the validator stands."""
    raise PydanticCustomError("invalid_scenario", "{problem}", {"problem": problem, "at": at})


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """The scenario ``text`` describes; ``file`` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        raise ScenarioError(
            f"not valid TOML: {exc}", file=file, line=int(found[1]) if found else None
        ) from None
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as exc:
        located = [_locate(error, text) for error in exc.errors()]
        # the first line at fault; one with no line (a missing key) last
        line, problem = min(located, key=lambda found: (found[0] is None, found[0] or 0))
        raise ScenarioError(problem, file=file, line=line) from None
    scenario._text = text
    return scenario


#: the tables of the file and their models, by key
_TABLES: dict[str | int, type[BaseModel]] = {
    "load": Load,
    "abort": Abort,
    "wan": Wan,
    "fault": Fault,
}


def _locate(error: ErrorDetails, text: str) -> tuple[int | None, str]:
    """The line of a validation error and its problem in words, with "fault 2: "
    (counted from 1) before a problem of a fault or a wan entry."""
    context = error.get("ctx", {})
    path = (*error["loc"], *context.get("at", ()))
    where, inner = "", path
    if len(path) > 1 and path[0] in ("fault", "wan") and isinstance(path[1], int):
        where, inner = f"{path[0]} {path[1] + 1}: ", path[2:]
    key = ".".join(step for step in inner if isinstance(step, str))
    match error["type"]:
        case "invalid_scenario":
            problem = error["msg"]
        case "extra_forbidden":
            table = _TABLES.get(path[0], Scenario) if len(path) > 1 else Scenario
            problem = f'unknown key "{key}" (known: {", ".join(table.model_fields)})'
        case "missing" if isinstance(path[-1], int):  # of a pair
            problem = f"{key}: item {path[-1] + 1} is missing"
        case "missing":
            problem = f'missing key "{key}"'
        case "literal_error":
            problem = f'{key} "{error["input"]}" is not one of {context["expected"]}'
        case _:
            problem = f"{key}: {error['msg']}"
    return line_of(text, path), where + problem


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or the file at a path (anything ending in
    ``.toml`` or holding a ``/``)."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return parse_scenario(_read(Path(name_or_path)), name_or_path)
    if name_or_path not in BUILTINS:
        raise ScenarioError(
            f"no built-in scenario of that name; built in: {', '.join(BUILTINS)} "
            "(or give the path of a .toml file)",
            file=name_or_path,
        )
    source = resources.files(__package__ or "stormproof.drill") / "scenarios"
    return parse_scenario(
        (source / f"{name_or_path}.toml").read_text("utf-8"), f"{name_or_path}.toml"
    )


def builtin_scenarios() -> list[Scenario]:
    """Every built-in scenario, in :data:`BUILTINS` order."""
    return [load_scenario(name) for name in BUILTINS]


def _read(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read it: {exc.strerror}", file=str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"larger than {MAX_FILE_BYTES // 1024} KiB", file=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("not UTF-8 text", file=str(path)) from None
