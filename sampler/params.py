"""Scenario parameters: one validated dataclass per component, one section of the scenario file each.

A scenario file (YAML or TOML) looks like::

    area: XX街道
    registry: {households: households.csv, buildings: buildings.csv, sites: sites.csv}
    window: {start: "2022-11-23 06:00", hours: 24, slot_minutes: 30}
    walk: {}          # an empty section gives the documented defaults
    capacity: {}
    home_visits: {teams: 6}
    pooling: {}
    planner: {}
    sms: {sign: XX街道}   # sections of other components: see "Sections" below
    sim: {}

Every section is optional; unknown sections and unknown keys are errors (a typo must not silently
become a default).

Sections
--------
The planning core (``registry`` … ``planner`` above) are typed fields of `Scenario`. Every other
section belongs to a component and is a frozen dataclass of its own, checked here when the file is
read, so that `sampler validate` and the API upload report a typo under ``sms:`` as they report one
under ``window:``. A `SectionSpec` names the section and loads its dataclass on first use (no
import cost until a file has the section). The planning components' sections (``sms``,
``notices``, ``roster``) are listed in this module; a layer above registers its own with
`register_sections` (the simulator's ``sim`` and ``whatif``: `sim.params.register_sim_sections`),
and the composition roots (`api.cli.build_app`, `api.main.create_app`, the API's job workers:
`api.sections.register_all`) register every layer's before any file is read. A section nobody
registered is an unknown section, reported like any other typo: never passed through unchecked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sampler.errors import InputError, InputIssue
from sampler.io.timefmt import format_slot, parse_clock, parse_slot

__all__ = [
    "CapacityParams",
    "HomeVisitParams",
    "PlannerParams",
    "PoolingParams",
    "RegistryFiles",
    "Scenario",
    "SectionSpec",
    "WalkParams",
    "WindowParams",
    "build_section",
    "load_scenario",
    "parse_mapping",
    "register_sections",
    "registered_sections",
    "scenario_from_mapping",
    "with_overrides",
]

T = TypeVar("T")
_LARGEST = 2**53  # numbers beyond this are surely typos (and lose precision as floats)


@dataclass(frozen=True)
class RegistryFiles:
    """Where the registry files are, relative to the scenario file.

    Attributes
    ----------
    households, buildings, sites
        CSV (UTF-8, UTF-8 with BOM, GB18030 or Excel's UTF-16 "Unicode 文本"), XLSX or XLS files
        with English or Chinese headers.
    persons
        A person-level roster (花名册: one row per resident) read instead of ``households`` and
        ``buildings`` when given (`sampler.registry.persons`); it needs ``compounds``.
    compounds
        The compounds and villages (小区/村) of a person-level roster: name, coordinates, risk
        zone, optionally grid, and optionally one row per building with its own coordinates.
    crs
        Coordinate system of every coordinate in the registry files: ``wgs84`` (GPS), ``gcj02``
        (Amap 高德, Tencent) or ``bd09`` (Baidu); converted to WGS-84 when read.
    """

    households: str = "households.csv"
    buildings: str = "buildings.csv"
    sites: str = "sites.csv"
    persons: str = ""
    compounds: str = ""
    crs: str = "wgs84"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The registry files this scenario reads, by role."""
        if self.persons:
            return ("persons", "compounds", "sites")
        return ("households", "buildings", "sites")

    def check(self) -> list[tuple[str, str, str]]:
        from sampler.registry.crs import CRS_NAMES

        problems = []
        if self.crs not in CRS_NAMES:
            problems.append(("crs", self.crs, "use wgs84 (GPS), gcj02 (Amap 高德, Tencent) or bd09 (Baidu)"))
        if self.persons and not self.compounds:
            problems.append(("compounds", "", "a person-level roster (persons) needs a compounds file locating its "
                                              "小区/村: name, 经度, 纬度, 风险区"))
        if self.compounds and not self.persons:
            problems.append(("persons", "", "compounds are read only with a person-level roster: name it as "
                                            "persons, or remove compounds"))
        return problems


@dataclass(frozen=True)
class WindowParams:
    """The sampling window and its slots.

    Attributes
    ----------
    start
        Local start time, ``YYYY-MM-DD HH:MM``.
    hours
        Window length in hours (24: the national target).
    slot_minutes
        Length of one call-down slot (30 min is common practice).
    night
        ``[from, to]`` clock times of night hours, used only when the day is full.
    """

    start: str = "2022-11-23 06:00"
    hours: float = 24.0
    slot_minutes: int = 30
    night: tuple[str, str] = ("22:00", "06:00")

    @property
    def start_time(self) -> dt.datetime:
        return parse_slot(self.start)

    @property
    def n_slots(self) -> int:
        return int(self.hours * 60 // self.slot_minutes)

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        try:
            _ = self.start_time
        except ValueError:
            problems.append(("start", self.start, "write the start as 'YYYY-MM-DD HH:MM'"))
        if self.slot_minutes <= 0 or 24 * 60 % self.slot_minutes:
            problems.append(
                ("slot_minutes", str(self.slot_minutes), "use a positive divisor of 1440, e.g. 30")
            )
        elif self.hours * 60 < self.slot_minutes:
            problems.append(
                ("hours", str(self.hours), f"make the window at least one slot ({self.slot_minutes} min) long")
            )
        for clock in self.night:
            try:
                parse_clock(clock)
            except ValueError:
                problems.append(("night", clock, "give night hours as ['HH:MM', 'HH:MM']"))
        return problems


@dataclass(frozen=True)
class WalkParams:
    """Walking to a site.

    Attributes
    ----------
    speed_m_per_min
        Walking speed (65 m/min ≈ 3.9 km/h, allowing for elderly and children).
    detour_factor
        Street distance over straight-line distance.
    max_minutes
        The 15-minute sampling circle: longer walks are assigned only if nothing nearer fits.
    """

    speed_m_per_min: float = 65.0
    detour_factor: float = 1.3
    max_minutes: float = 15.0

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        if self.speed_m_per_min <= 0:
            problems.append(("speed_m_per_min", str(self.speed_m_per_min), "use a positive speed"))
        if self.detour_factor < 1:
            problems.append(("detour_factor", str(self.detour_factor), "use a factor of at least 1"))
        if self.max_minutes <= 0:
            problems.append(("max_minutes", str(self.max_minutes), "use a positive number of minutes"))
        return problems


@dataclass(frozen=True)
class CapacityParams:
    """Site-slot capacity.

    Attributes
    ----------
    people_per_table_hour
        Default table throughput when a site gives none (Dongguan 2021: ≈ 82 per group-hour).
    utilisation
        Planned share of that throughput, leaving room for noise so queues stay short.
    """

    people_per_table_hour: float = 80.0
    utilisation: float = 0.85

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        if self.people_per_table_hour <= 0:
            problems.append(("people_per_table_hour", str(self.people_per_table_hour), "use a positive rate"))
        if not 0 < self.utilisation <= 1:
            problems.append(("utilisation", str(self.utilisation), "use a share in (0, 1], e.g. 0.85"))
        return problems


@dataclass(frozen=True)
class HomeVisitParams:
    """Door-to-door sampling for sealed zones and people who cannot travel.

    Attributes
    ----------
    teams
        Home-visit teams available over the window.
    visits_per_team_hour
        Households one team samples per hour, travel included, when the next door is in another
        building next door: the time at a door is ``60 / visits_per_team_hour − building_minutes``
        (at least 1 minute; 6 min by default). Without routing it is also the planned rate.
    needs
        Special needs that send a household to a home visit.
    routing
        Give each team a route (`sampler.plan.homeroute`): households are shared out among the
        teams by area, each team's buildings are ordered by OR-Tools' routing solver and the slots
        follow the route's arrival times. ``false``: today's building order, every team taking
        consecutive households of each slot at the planned rate.
    building_minutes
        Fixed minutes of moving from one building to another (stairs or lift, gate, disinfection),
        on top of the travel; the next door in the same building is 0.5 min.
    speed_m_per_min
        Travel speed of a team between buildings, over the street distance (straight line ×
        ``walk.detour_factor``); 65 m/min is walking with the kit.
    route_solutions
        Search budget of one team's route: solutions the guided local search may visit (a count,
        not a time limit, so that the same inputs give the same routes).
    route_max_stops
        Teams with more buildings than this are ordered by nearest neighbour instead (bounded time).
    """

    teams: int = 4
    visits_per_team_hour: float = 6.0
    needs: tuple[str, ...] = ("disabled", "bedridden")
    routing: bool = True
    building_minutes: float = 4.0
    speed_m_per_min: float = 65.0
    route_solutions: int = 20
    route_max_stops: int = 150

    @property
    def door_minutes(self) -> float:
        """Mean minutes at one door (the simulator's mean too)."""
        return max(60.0 / self.visits_per_team_hour - self.building_minutes, 1.0) if self.visits_per_team_hour > 0 else 1.0

    def check(self) -> list[tuple[str, str, str]]:
        from sampler.model import SPECIAL_NEEDS

        problems = []
        if self.teams < 0:
            problems.append(("teams", str(self.teams), "use zero or more teams"))
        if self.visits_per_team_hour <= 0:
            problems.append(("visits_per_team_hour", str(self.visits_per_team_hour), "use a positive rate"))
        if self.building_minutes < 0:
            problems.append(("building_minutes", str(self.building_minutes), "use zero or more minutes"))
        if self.speed_m_per_min <= 0:
            problems.append(("speed_m_per_min", str(self.speed_m_per_min), "use a positive speed, e.g. 65"))
        if self.route_solutions < 1:
            problems.append(("route_solutions", str(self.route_solutions), "use at least 1, e.g. 20"))
        if self.route_max_stops < 2:
            problems.append(("route_max_stops", str(self.route_max_stops), "use at least 2, e.g. 150"))
        for need in self.needs:
            if need not in SPECIAL_NEEDS:
                problems.append(("needs", need, f"use one of {', '.join(SPECIAL_NEEDS)}"))
        return problems


@dataclass(frozen=True)
class PoolingParams:
    """Swabs per tube by risk zone; 0 means one tube per household.

    Attributes
    ----------
    sealed, controlled, precaution
        封控区 single tube or one per household, 管控区 5-in-1, 防范区 10-in-1.
    """

    sealed: int = 0
    controlled: int = 5
    precaution: int = 10

    def check(self) -> list[tuple[str, str, str]]:
        return [
            (name, str(value), "use 0 (one tube per household) or a pool size from 1 to 20")
            for name, value in dataclasses.asdict(self).items()
            if not 0 <= value <= 20
        ]


@dataclass(frozen=True)
class PlannerParams:
    """Weights and limits of the assignment model (costs are in person-minutes of walking).

    Attributes
    ----------
    candidate_sites
        Nearest public sites considered per building.
    night_penalty
        Cost per person placed in a night slot.
    preference_penalty
        Cost per person placed outside the household's preferred period.
    lateness_per_slot
        Cost per person per slot from the window start: fill early, keep a buffer at the end.
    cohesion_penalty
        Cost per extra (site, slot) a building is spread over beyond the fewest possible.
    overmax_penalty
        Cost per person walking beyond the maximum walk.
    unplaced_penalty
        Cost per person who cannot be placed at all.
    periods
        Clock ranges of the preferable periods.
    repair_limit
        Leftover households up to which CP-SAT repairs exactly; more use a greedy repair.
    hard_reach
        Households still unplaced after the repair look further, step by step, at every public site
        within ``hard_reach × walk.max_minutes`` of walking (2: twice the sampling circle); walks
        over the limit are flagged with their extra minutes. 1 turns widening beyond the limit off.
    seed
        Seed for the CP-SAT repair; recorded in the plan.
    """

    candidate_sites: int = 6
    night_penalty: float = 60.0
    preference_penalty: float = 30.0
    lateness_per_slot: float = 0.1
    cohesion_penalty: float = 5.0
    overmax_penalty: float = 600.0
    unplaced_penalty: float = 100_000.0
    periods: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "morning": ("06:00", "12:00"),
            "afternoon": ("12:00", "18:00"),
            "evening": ("18:00", "22:00"),
        }
    )
    repair_limit: int = 300
    hard_reach: float = 2.0
    seed: int = 0

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        if self.candidate_sites < 1:
            problems.append(("candidate_sites", str(self.candidate_sites), "consider at least 1 site"))
        if not self.hard_reach >= 1:
            problems.append(("hard_reach", str(self.hard_reach), "use a multiple of walk.max_minutes of at least 1, e.g. 2"))
        for name in ("night_penalty", "preference_penalty", "lateness_per_slot", "cohesion_penalty",
                     "overmax_penalty", "unplaced_penalty"):
            if getattr(self, name) < 0:
                problems.append((name, str(getattr(self, name)), "use a non-negative cost"))
        for name, (a, b) in self.periods.items():
            try:
                parse_clock(a), parse_clock(b)
            except ValueError:
                problems.append((f"periods.{name}", f"{a}-{b}", "give periods as ['HH:MM', 'HH:MM']"))
        return problems


SECTIONS: dict[str, type] = {
    "registry": RegistryFiles,
    "window": WindowParams,
    "walk": WalkParams,
    "capacity": CapacityParams,
    "home_visits": HomeVisitParams,
    "pooling": PoolingParams,
    "planner": PlannerParams,
}


@dataclass(frozen=True)
class SectionSpec:
    """A scenario section owned by a component other than the planning core.

    Attributes
    ----------
    name
        The section's key in the scenario file (``sms``, ``sim``).
    load
        Returns the section's frozen parameters dataclass (fields with defaults and type hints,
        optionally ``check() -> [(field, value, fix)]``); it imports the class when called, so
        registering a section costs no imports.
    owner
        The module that defines the dataclass, for messages and docs.
    """

    name: str
    load: Callable[[], type]
    owner: str


def _sms_params() -> type:
    from sampler.notify.sms import SmsParams

    return SmsParams


def _notices_params() -> type:
    from sampler.notify.notices import NoticesParams

    return NoticesParams


def _roster_params() -> type:
    from sampler.roster.params import RosterParams

    return RosterParams


# The planning components' sections; layers above add theirs with `register_sections`.
_REGISTERED: dict[str, SectionSpec] = {spec.name: spec for spec in (
    SectionSpec("sms", _sms_params, "sampler.notify.sms"),
    SectionSpec("notices", _notices_params, "sampler.notify.notices"),
    SectionSpec("roster", _roster_params, "sampler.roster.params"),
)}


def register_sections(specs: Iterable[SectionSpec]) -> None:
    """Make scenario files accept and check these sections (idempotent for the same specs).

    Raises ValueError when a name is the planning core's, ``area``, or already registered with a
    different spec: two components cannot own one section.
    """
    for spec in specs:
        if spec.name in SECTIONS or spec.name == "area":
            raise ValueError(f"scenario section {spec.name!r} belongs to the planning core")
        old = _REGISTERED.get(spec.name)
        if old is not None and old != spec:
            raise ValueError(f"scenario section {spec.name!r} is already registered by {old.owner}")
        _REGISTERED[spec.name] = spec


def registered_sections() -> dict[str, SectionSpec]:
    """The component sections a scenario file may have now (a copy), by name."""
    return dict(_REGISTERED)


@dataclass(frozen=True)
class Scenario:
    """A whole scenario: the area, where its registry is, and every component's parameters.

    ``sections`` holds the checked parameters of the component sections the file has (``sms``:
    an `SmsParams`, ``sim``: a `SimParams`, …); `section` gives one, or its defaults.
    """

    area: str = "未命名街道"
    base_dir: Path = Path(".")
    source: str = "<defaults>"
    registry: RegistryFiles = field(default_factory=RegistryFiles)
    window: WindowParams = field(default_factory=WindowParams)
    walk: WalkParams = field(default_factory=WalkParams)
    capacity: CapacityParams = field(default_factory=CapacityParams)
    home_visits: HomeVisitParams = field(default_factory=HomeVisitParams)
    pooling: PoolingParams = field(default_factory=PoolingParams)
    planner: PlannerParams = field(default_factory=PlannerParams)
    sections: Mapping[str, Any] = field(default_factory=dict)

    def path_of(self, name: str) -> Path:
        """Absolute path of the registry file called ``name`` (households, buildings, sites, persons, compounds)."""
        return self.base_dir / getattr(self.registry, name)

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (sections given as dataclasses)."""
        return dataclasses.replace(self, **changes)

    def section(self, name: str, cls: type[T]) -> T:
        """The checked parameters of component section ``name``; ``cls()`` (the defaults) when absent."""
        value = self.sections.get(name)
        if value is None:
            return cls()
        if not isinstance(value, cls):
            raise TypeError(f"section {name!r} holds a {type(value).__name__}, not a {cls.__name__}")
        return value


def _coerce(value: Any, hint: Any, file: str, name: str) -> Any:
    """Convert a YAML/TOML value to the annotated type, or raise InputError naming the field."""
    origin = typing.get_origin(hint)
    if isinstance(value, Sexagesimal):
        raise InputError([InputIssue(file, None, name, value.text,
                                     f"YAML reads an unquoted {value.text} as the number {int(value)} (base 60): "
                                     f"quote the time, e.g. \"{value.text}\" (night: [\"22:00\", \"06:00\"])")])
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            raise TypeError
        if hint is int:
            if isinstance(value, bool):
                raise TypeError
            whole = value if isinstance(value, int) else float(value)
            if whole != int(whole) or abs(whole) > _LARGEST:  # int(inf): OverflowError, int(nan): ValueError
                raise TypeError
            return int(whole)
        if hint is float:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)  # an int beyond float range: OverflowError
            if not math.isfinite(number) or abs(number) > _LARGEST:
                raise TypeError
            return number
        if hint is str:
            if isinstance(value, dt.datetime):
                return format_slot(value)
            if not isinstance(value, str | int | float):
                raise TypeError
            return str(value)
        if origin is tuple:
            args = typing.get_args(hint)
            items = list(value) if isinstance(value, list | tuple) else None
            if items is None:
                raise TypeError
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_coerce(v, args[0], file, name) for v in items)
            if len(items) != len(args):
                raise TypeError
            return tuple(_coerce(v, a, file, name) for v, a in zip(items, args, strict=True))
        if origin is dict:
            key_t, val_t = typing.get_args(hint)
            if not isinstance(value, dict):
                raise TypeError
            return {
                _coerce(k, key_t, file, name): _coerce(v, val_t, file, f"{name}.{k}")
                for k, v in value.items()
            }
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        return value
    limits = " (a finite number of at most 2^53)" if hint in (int, float) else ""
    raise InputError([InputIssue(file, None, name, _shown(value), f"give a value of type {_type_name(hint)}{limits}")])


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    if isinstance(hint, types.GenericAlias):
        return str(hint)
    return str(hint)


def _unknown(key: Any, known: Iterable[str], what: str) -> str:
    """The fix for an unknown key: the nearest known name if one is close, then all of them."""
    names = sorted(known) if what == "keys" else list(known)
    if not names:
        return "remove it; this section has no keys yet"
    close = difflib.get_close_matches(_shown(key), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"remove it or correct the name{hint}; known {what}: {', '.join(names)}"


def _shown(value: Any) -> str:
    """A value as an issue shows it: at most 80 characters."""
    try:
        text = str(value)
    except ValueError:  # an int of more than 4,300 digits
        return "(a number too long to show)"
    return text if len(text) <= 80 else text[:77] + "..."


def _name(key: Any) -> str:
    """A key as an issue's field shows it (an empty key is named, not left blank)."""
    text = _shown(key)
    return text if text.strip() else f"(empty name {text!r})"


def build_section(cls: type, data: Any, file: str, section: str) -> Any:
    """Build one parameters dataclass from a mapping; collect every problem before raising."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([InputIssue(file, None, section, _shown(data), "make this section a mapping of key: value")])
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    issues: list[InputIssue] = []
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            issues.append(InputIssue(file, None, f"{section}.{_name(key)}", _shown(value), _unknown(key, names, "keys")))
            continue
        try:
            kwargs[key] = _coerce(value, hints[key], file, f"{section}.{key}")
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        issues = [InputIssue(file, None, f"{section}.{f}", v, fix) for f, v, fix in check()]
        if issues:
            raise InputError(issues)
    return obj


def with_overrides(params: T, overrides: Mapping[str, Any], file: str, section: str) -> T:
    """``params`` with some keys changed, checked like the file (InputError names ``section.key``)."""
    if not overrides:
        return params
    data = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}  # type: ignore[arg-type]
    data.update(overrides)
    changed: T = build_section(type(params), data, file, section)
    return changed


MAX_SCENARIO_BYTES = 100_000  # a scenario is a few kB of parameters
MAX_DEPTH = 20
_CONTROL = {*range(32), 127} - {9, 10, 13}


@functools.cache
def _bounded_loader() -> type:
    """PyYAML's safe loader without anchors or aliases (a 400-byte 'billion laughs' document would
    otherwise expand to gigabytes) and with a bounded nesting depth. Built on first use: PyYAML is
    imported only when a file is read."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def construct_yaml_int(self, node: Any) -> Any:
            value = super().construct_yaml_int(node)
            if ":" in str(node.value):  # YAML 1.1 reads 22:00 as 1320 (base 60)
                return Sexagesimal(value, str(node.value))
            return value

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise yaml.YAMLError(f"anchors and aliases (&name / *name) are not allowed{event.start_mark}; "
                                     "write the values out")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep{event.start_mark}")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)
    return BoundedLoader


class Sexagesimal(int):
    """An unquoted time such as ``22:00``, which YAML 1.1 reads as the base-60 number 1320: kept as
    that number (JSON and arithmetic see an int) with the text as written, so that `_coerce` can
    tell the user to quote it."""

    text: str

    def __new__(cls, value: int, text: str) -> Sexagesimal:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


def _control_issue(data: Any, name: str, where: str = "") -> InputIssue | None:
    """The first text (key or value) holding a control character such as NUL, if any."""
    if isinstance(data, str):
        if any(ord(c) in _CONTROL for c in data):
            return InputIssue(name, None, where or "(file)", repr(data[:40]),
                              "remove the control characters (such as \\0) from this text")
        return None
    if isinstance(data, dict):
        items: Any = [(f"{where}.{k}" if where else str(k), v) for k, v in data.items()]
        items += [(where or "(key)", k) for k in data]
    elif isinstance(data, list):
        items = [(f"{where}[{i}]", v) for i, v in enumerate(data)]
    else:
        return None
    for key, value in items:
        issue = _control_issue(value, name, key)
        if issue is not None:
            return issue
    return None


def parse_mapping(text: str, name: str, toml: bool = False) -> dict[str, Any]:
    """Parse scenario parameters (YAML, JSON or TOML text) into a dict, or raise InputError naming ``name``.

    The one reader of scenario text, for the CLI (`read_mapping`) and the API upload. Bounded: at
    most `MAX_SCENARIO_BYTES`, no YAML anchors or aliases, at most `MAX_DEPTH` levels; text with
    control characters (NUL, ...) is refused.
    """
    import tomllib

    import yaml

    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_SCENARIO_BYTES:
        raise InputError([InputIssue(name, None, "(file)", f"{size} bytes",
                                     f"a scenario is at most {MAX_SCENARIO_BYTES // 1000} kB of parameters; check the file")])
    try:
        data = tomllib.loads(text) if toml else yaml.load(text, Loader=_bounded_loader())  # noqa: S506 - safe loader subclass
    except (ValueError, RecursionError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        # ValueError: an integer of more than 4,300 digits; RecursionError: deep nesting (TOML).
        raise InputError([InputIssue(name, None, "(file)", type(exc).__name__, f"fix the syntax: {exc}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError([InputIssue(name, None, "(file)", str(data)[:40], "the top level must be a mapping")])
    issue = _control_issue(data, name)
    if issue is not None:
        raise InputError([issue])
    return data


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML file into a dict (`parse_mapping`), or raise InputError naming the file."""
    name = str(path)
    if not path.is_file():
        raise InputError([InputIssue(name, None, "(file)", name, "check the path; the file does not exist")])
    if path.stat().st_size > 4 * MAX_SCENARIO_BYTES:
        raise InputError([InputIssue(name, None, "(file)", f"{path.stat().st_size} bytes",
                                     f"a scenario is at most {MAX_SCENARIO_BYTES // 1000} kB of parameters; check the file")])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([InputIssue(name, None, "(file)", type(exc).__name__, "save the file as UTF-8")]) from exc
    return parse_mapping(text, name, toml=path.suffix.lower() == ".toml")


def scenario_from_mapping(data: dict[str, Any], file: str = "<scenario>", base_dir: Path = Path(".")) -> Scenario:
    """Build a Scenario from an already parsed mapping (used by the file loader and the API).

    Every section is checked, the planning core's and every registered component's; all problems
    are collected into one InputError.
    """
    issues: list[InputIssue] = []
    core: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    registered = registered_sections()
    for key, value in data.items():
        if key == "area":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (isinstance(value, str) or (number and abs(value) <= _LARGEST)):
                issues.append(InputIssue(file, None, "area", _shown(value), "give the area's name as text, e.g. XX街道"))
        elif key in SECTIONS:
            try:
                core[key] = build_section(SECTIONS[key], value, file, key)
            except InputError as exc:
                issues.extend(exc.issues)
        elif key in registered:
            try:
                sections[key] = build_section(registered[key].load(), value, file, key)
            except InputError as exc:
                issues.extend(exc.issues)
        else:
            known = ["area", *SECTIONS, *registered]
            issues.append(InputIssue(file, None, _name(key), _shown(value), _unknown(key, known, "sections")))
    if issues:
        raise InputError(issues)
    area = str(data.get("area", "未命名街道"))
    return Scenario(area=area, base_dir=base_dir, source=file, sections=sections, **core)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file (YAML or TOML); registry files are not read here."""
    path = Path(path)
    data = read_mapping(path)
    return scenario_from_mapping(data, str(path), path.resolve().parent)
