"""Staff levels: what a level is, the grid of a sweep, and applying a level to the inputs.

A *level* is a complete staffing: tables staffed at every site, registrars per site, home-visit
teams, relief teams per site and lab capacity. A sweep starts from a `Base` staffing (the
registry's, or a base-staffing file's, `read_base_staffing`) and scales it along the axes of
`sim.whatif.axes.AXES` (`grid_levels`).

Applying a level: the planner sees its tables and home-visit teams (`planning_inputs`; levels with
equal `Level.capacity_key` share one plan); the simulator sees its tables and registrars
(`level_inputs`) and its relief teams and lab capacity (`level_params`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sampler.errors import InputError, InputIssue
from sampler.model import Registry, RiskZone
from sampler.params import Scenario
from sim.inputs import SimInputs
from sim.params import SimParams
from sim.whatif.axes import AXES

__all__ = ["Base", "Level", "grid_levels", "level_inputs", "level_params", "make_base", "planning_inputs",
           "read_base_staffing", "registry_with_tables", "surely_short"]


@dataclass(frozen=True)
class Level:
    """One complete staffing.

    ``tables`` and ``registrars`` are per site, in the registry's site order.
    """

    tables: tuple[int, ...]
    registrars: tuple[int, ...]
    home_teams: int
    relief: int
    lab: float
    label: str = field(default="", compare=False)

    @property
    def staff(self) -> int:
        """Teams and people on duty: table teams, registrars, relief teams, home-visit teams."""
        return sum(self.tables) + sum(self.registrars) + self.relief * len(self.tables) + self.home_teams

    def capacity_key(self) -> tuple[tuple[int, ...], int]:
        """What the planner sees; levels with equal keys share one plan."""
        return self.tables, self.home_teams

    def with_tables(self, tables: Sequence[int], label: str = "") -> Level:
        return dataclasses.replace(self, tables=tuple(int(t) for t in tables), label=label or self.label)




def read_base_staffing(path: Path, registry: Registry) -> tuple[list[int], list[int] | None]:
    """Tables (and optionally registrars) per site from a CSV (UTF-8 or GB18030) or XLSX file
    headed ``site_id, tables[, registrars]`` (or 采样点编号, 采样台数, 登记员); sites not listed
    keep their registered tables. InputError names every bad row."""
    from sampler.registry.read import read_table

    frame = read_table(path, "staffing", str(path))
    file, headers = str(path), frame.attrs["headers"]
    index = {s.id: i for i, s in enumerate(registry.sites)}
    tables = [s.tables for s in registry.sites]
    has_registrars = bool((frame["registrars"] != "").any())
    registrars: list[int] | None = [0] * len(tables) if has_registrars else None
    issues: list[InputIssue] = []
    seen: set[str] = set()
    for row, (sid, t_text, r_text) in enumerate(  # rows as Excel shows them
            zip(frame["site_id"], frame["tables"], frame["registrars"], strict=True), start=int(frame.attrs["first_row"])):
        if sid not in index:
            issues.append(InputIssue(file, row, headers["site_id"], sid,
                                     "use a site id from the scenario's sites file"))
            continue
        if sid in seen:
            issues.append(InputIssue(file, row, headers["site_id"], sid, "list each site once"))
        seen.add(sid)
        for name, text, least in (("tables", t_text, 1), ("registrars", r_text, 0)):
            if name == "registrars" and registrars is None:
                continue
            try:
                n = int(text)
                if n < least:
                    raise ValueError
            except ValueError:
                issues.append(InputIssue(file, row, headers[name], text or "(blank)",
                                         f"use a whole number ≥ {least}"))
                continue
            if name == "tables":
                tables[index[sid]] = n
            elif registrars is not None:
                registrars[index[sid]] = n
    if issues:
        raise InputError(issues)
    return tables, registrars


def _tables_at(base: Sequence[int], share: float) -> tuple[int, ...]:
    return tuple(max(1, int(math.floor(b * share + 0.5))) for b in base)


def _registrars_at(tables: Sequence[int], per_table: float) -> tuple[int, ...]:
    return tuple(int(math.floor(t * per_table + 0.5)) for t in tables)


@dataclass(frozen=True)
class Base:
    """The staffing a sweep starts from (the registry's, or a base-staffing file's)."""

    tables: tuple[int, ...]
    registrars: tuple[int, ...] | None
    registrars_per_table: float
    home_teams: int
    relief: int
    lab: float

    def level(self, values: dict[str, float]) -> Level:
        share = values.get("tables", 1.0)
        tables = _tables_at(self.tables, share)
        if "registrars" in values:
            registrars = _registrars_at(tables, values["registrars"])
        elif self.registrars is not None:
            registrars = tuple(min(r, t) for r, t in zip(self.registrars, tables, strict=True))
        else:
            registrars = _registrars_at(tables, self.registrars_per_table)
        label = ", ".join(f"{k}={v:g}" for k, v in values.items())
        return Level(tables=tables, registrars=registrars,
                     home_teams=int(values.get("home_teams", self.home_teams)),
                     relief=int(values.get("relief", self.relief)),
                     lab=float(values.get("lab", self.lab)), label=label or "base")


def make_base(scenario: Scenario, registry: Registry, params: SimParams,
              tables: Sequence[int] | None = None, registrars: Sequence[int] | None = None) -> Base:
    return Base(tables=tuple(tables) if tables is not None else tuple(s.tables for s in registry.sites),
                registrars=tuple(registrars) if registrars is not None else None,
                registrars_per_table=params.registrars_per_table,
                home_teams=scenario.home_visits.teams, relief=params.relief_teams,
                lab=params.lab_tubes_per_hour)


def grid_levels(base: Base, ranges: dict[str, list[float]]) -> list[tuple[dict[str, float], Level]]:
    """Every combination of the ranges (the Cartesian product, in axis order of ``AXES``)."""
    axes = [a for a in AXES if a in ranges]
    combos: list[dict[str, float]] = [{}]
    for a in axes:
        combos = [{**c, a: v} for c in combos for v in ranges[a]]
    return [(c, base.level(c)) for c in combos]


def registry_with_tables(registry: Registry, tables: Sequence[int]) -> Registry:
    """The registry with these tables at its sites (site order)."""
    sites = tuple(dataclasses.replace(s, tables=int(t)) for s, t in zip(registry.sites, tables, strict=True))
    return dataclasses.replace(registry, sites=sites)


def surely_short(scenario: Scenario, registry: Registry) -> bool:
    """True when the sites cannot hold everyone who must come to them, whatever the plan.

    Compares an upper bound of the site capacity in the window (every table at its rate and
    the utilisation target for all its open hours) with a lower bound of the people who must
    come to a site (everyone outside sealed buildings and households without special needs).
    """
    hours = scenario.window.hours
    cap = sum(s.tables * s.rate * scenario.capacity.utilisation
              * min(((s.close_minute - s.open_minute) % 1440 or 1440) / 60, hours) for s in registry.sites)
    hh, b = registry.households, registry.buildings
    must_come = (b.zone[hh.building] != RiskZone.SEALED) & (hh.needs == 0)
    return cap < float(hh.size[must_come].sum())


def planning_inputs(scenario: Scenario, registry: Registry, tables: Sequence[int],
                    home_teams: int) -> tuple[Scenario, Registry]:
    """The scenario and registry the planner sees for these capacities.

    When the sites are surely too small (`surely_short`), the leftover repair is greedy: no
    repair can place everyone then, and the level fails on its unplaced households anyway.
    """
    reg = registry_with_tables(registry, tables)
    sc = scenario.replace(home_visits=dataclasses.replace(scenario.home_visits, teams=home_teams))
    if surely_short(sc, reg):
        sc = sc.replace(planner=dataclasses.replace(sc.planner, repair_limit=0))
    return sc, reg


def level_inputs(inputs: SimInputs, level: Level) -> SimInputs:
    """A planned day staffed as the level says (tables and registrars per site; the plan as it is)."""
    return dataclasses.replace(inputs, tables=np.asarray(level.tables, dtype=np.int64),
                               registrars=np.asarray(level.registrars, dtype=np.int64))


def level_params(params: SimParams, level: Level) -> SimParams:
    """Sim parameters with the level's relief teams and lab capacity."""
    return dataclasses.replace(params, relief_teams=level.relief, lab_tubes_per_hour=level.lab)
