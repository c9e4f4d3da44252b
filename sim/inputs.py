"""What one replication needs, as flat numpy arrays: the plan joined with the registry.

Two ways in, both ending in the same `Placement` (households by registry index, times as minutes
from the window start) and the same join with the registry:

- `from_plan` takes a `sampler.plan.planner.Plan` in memory (what-if, the API): pure array
  operations, no text;
- `prepare` takes a plan directory or stored plan (`PlanFiles`, text): it checks that the plan
  belongs to the registry, matches household ids and parses clock labels into minutes, once, at
  the edge.

Each replication then only draws random numbers and runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.timefmt import parse_clock, parse_slot
from sampler.model import FloatArray, IntArray, Registry
from sampler.params import Scenario
from sampler.plan.homeroute import building_xy
from sampler.planfiles.read import PlanFiles
from sim.params import SimParams, sim_params

if TYPE_CHECKING:
    from sampler.plan.planner import Plan

__all__ = ["Placement", "Shifts", "SimInputs", "SiteShifts", "from_plan", "join", "placement", "plan_hash", "prepare",
           "site_registrars"]

StrArray = npt.NDArray[np.object_]
Shifts = tuple[tuple[float, float], ...]
SiteShifts = tuple[tuple[Shifts, ...], ...]  # per site, per table: staffed (start, end) minutes


@dataclass(frozen=True, eq=False)
class SimInputs:
    """A plan ready to simulate. Times are minutes from the window start.

    Attributes
    ----------
    window_start, window_hours
        The sampling window (label ``YYYY-MM-DD HH:MM`` and length).
    site_ids, site_names, tables, queue_m
        Sites as planned; ``tables`` and ``queue_m`` are arrays indexed by site.
    open_at, close_at
        Opening hours of each site within the window (a site serves its queue past closing).
    ids, site, slot_start, slot_end, size, elderly, children, zone
        Households planned at a site, one row each (``site`` indexes the site arrays; ``zone`` is
        the RiskZone code of the household's building).
    home_ids, home_team, home_slot_start, home_building, home_size, home_elderly, home_children,
    home_zone
        Households on a home-visit list (``home_team`` 0-based, ``home_building`` a code: equal
        codes mean the same building).
    unplaced_ids, unplaced_size, unplaced_zone
        Households the plan could not place.
    people
        Registered people in the area (the coverage denominator).
    pooling
        Swabs per tube by zone code (precaution, controlled, sealed); 0 = one tube per household.
    visits_per_team_hour
        Home-visit rate, travel included.
    home_stop, home_x, home_y
        Per home visit: stop of its team's route (0 when unknown) and its building's position in
        metres; teams visit by slot, then stop, then list order.
    home_m_per_min
        Teams' travel speed over the straight line (``home_visits.speed_m_per_min`` ÷
        ``walk.detour_factor``); inf = no distance term (travel is ``home_travel_min`` only).
    plan_sha256
        SHA-256 of the plan's assignments.csv ('' when built in memory).
    registrars
        Registrars at each site (int array indexed by site; empty or all zeros = each table's team
        registers its households itself). A household is pre-registered with probability
        ``min(registrars / tables, 1)`` and then occupies a table only for its swabs. Filled by
        `prepare` from ``SimParams.registrars_per_table`` or by `sim.staffing.use_roster`; a
        what-if may vary it with ``dataclasses.replace``.
    roster
        Staffing from a roster, or None for the PPE shift calendar of the parameters: per site,
        per table, the staffed ``(start, end)`` minutes (see `sim.staffing`).
    """

    window_start: str
    window_hours: float
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    tables: IntArray
    queue_m: FloatArray
    open_at: FloatArray
    close_at: FloatArray
    ids: StrArray
    site: IntArray
    slot_start: FloatArray
    slot_end: FloatArray
    size: IntArray
    elderly: IntArray
    children: IntArray
    zone: IntArray
    home_ids: StrArray
    home_team: IntArray
    home_slot_start: FloatArray
    home_building: IntArray
    home_size: IntArray
    home_elderly: IntArray
    home_children: IntArray
    home_zone: IntArray
    unplaced_ids: StrArray
    unplaced_size: IntArray
    unplaced_zone: IntArray
    people: int
    pooling: tuple[int, int, int] = (10, 5, 0)
    visits_per_team_hour: float = 6.0
    plan_sha256: str = ""
    registrars: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    roster: SiteShifts | None = None
    home_stop: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    home_x: FloatArray = field(default_factory=lambda: np.zeros(0))
    home_y: FloatArray = field(default_factory=lambda: np.zeros(0))
    home_m_per_min: float = float("inf")

    def __post_init__(self) -> None:
        n_home = len(self.home_ids)
        for name, dtype in (("home_stop", np.int64), ("home_x", np.float64), ("home_y", np.float64)):
            value = np.asarray(getattr(self, name), dtype=dtype)
            if len(value) == 0:
                value = np.zeros(n_home, dtype=dtype)
            if value.shape != (n_home,):
                raise ValueError(f"{name} must have one value per home visit ({n_home})")
            object.__setattr__(self, name, value)
        registrars = np.asarray(self.registrars, dtype=np.int64)
        if len(registrars) == 0:
            registrars = np.zeros(len(self.site_ids), dtype=np.int64)
        if registrars.shape != (len(self.site_ids),) or (registrars < 0).any():
            raise ValueError(f"registrars must be {len(self.site_ids)} counts ≥ 0, one per site")
        object.__setattr__(self, "registrars", registrars)
        if self.roster is not None and len(self.roster) != len(self.site_ids):
            raise ValueError(f"roster must list {len(self.site_ids)} sites")

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    @property
    def n_teams(self) -> int:
        return int(self.home_team.max()) + 1 if len(self.home_team) else 0


def plan_hash(directory: Path) -> str:
    """SHA-256 of a plan directory's assignments.csv."""
    return hashlib.sha256((directory / "assignments.csv").read_bytes()).hexdigest()


def _minutes(labels: pd.Series, start: dt.datetime, file: str, column: str) -> FloatArray:
    """Minutes from ``start`` of 'YYYY-MM-DD HH:MM' labels (parsed once per distinct label)."""
    codes, uniques = pd.factorize(labels.astype(str), sort=False)
    values = np.empty(len(uniques))
    bad: list[InputIssue] = []
    for i, text in enumerate(uniques):
        try:
            values[i] = (parse_slot(text) - start).total_seconds() / 60
        except ValueError:
            row = int(np.flatnonzero(codes == i)[0]) + 1
            bad.append(InputIssue(file, row, column, text, "write times as 'YYYY-MM-DD HH:MM' (re-run `sampler plan`)"))
    if bad:
        raise InputError(bad)
    return values[codes] if len(codes) else np.zeros(0)


def _index(ids: pd.Series, known: pd.Index, file: str, column: str, fix: str) -> IntArray:
    idx = np.asarray(known.get_indexer(pd.Index(ids.astype(str))), dtype=np.int64)
    missing = np.flatnonzero(idx < 0)
    if len(missing):
        raise InputError([InputIssue(file, int(r) + 1, column, str(ids.iloc[r]), fix) for r in missing[:20]])
    return idx


def _check_inputs(registry: Registry, plan: PlanFiles) -> None:
    planned = plan.summary.get("inputs") or {}
    issues = [
        InputIssue(str(plan.directory / "plan.json"), None, f"inputs.{role}", str(planned[role])[:16],
                   f"this plan was made from another {role} file; re-run `sampler plan` for this scenario")
        for role, digest in sorted(registry.hashes.items())
        if role in planned and planned[role] != digest
    ]
    if issues:
        raise InputError(issues)


def _opening(open_minute: IntArray, close_minute: IntArray, start: dt.datetime) -> tuple[FloatArray, FloatArray]:
    """Opening and closing minute of each site relative to the window start, from its clock hours."""
    length = (close_minute - open_minute) % 1440
    length = np.where(length == 0, 1440, length)
    at = np.where(length == 1440, 0, (open_minute - (start.hour * 60 + start.minute)) % 1440)
    return at.astype(np.float64), (at + length).astype(np.float64)


def _site_hours(plan: PlanFiles, start: dt.datetime) -> tuple[FloatArray, FloatArray]:
    """Opening and closing minute of each site of a plan's sites.csv, relative to the window start."""
    file = str(plan.directory / "sites.csv")
    open_minute, close_minute = [], []
    for row, (o, c) in enumerate(zip(plan.sites["open"], plan.sites["close"], strict=True), start=1):
        try:
            open_minute.append(parse_clock(o or "00:00"))
            close_minute.append(parse_clock(c or "24:00"))
        except ValueError:
            raise InputError([InputIssue(file, row, "open/close", f"{o}-{c}", "give hours as HH:MM")]) from None
    return _opening(np.array(open_minute, dtype=np.int64), np.array(close_minute, dtype=np.int64), start)


def site_registrars(tables: IntArray, per_table: float) -> IntArray:
    """Registrars at each site: round(tables × per_table)."""
    return np.rint(np.asarray(tables, dtype=np.float64) * per_table).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Placement:
    """Where a plan puts every household, typed: what `SimInputs` needs of a plan.

    Households are registry row indices; times are minutes from the window start. ``site``
    indexes the site arrays (the plan's sites, in its order); ``home_team`` is 0-based.
    """

    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    tables: IntArray
    queue_m: FloatArray
    open_at: FloatArray
    close_at: FloatArray
    rows: IntArray
    site: IntArray
    slot_start: FloatArray
    slot_end: FloatArray
    home_rows: IntArray
    home_team: IntArray
    home_slot_start: FloatArray
    unplaced_rows: IntArray
    plan_sha256: str = ""
    home_stop: IntArray | None = None


def from_plan(plan: Plan, params: SimParams | None = None) -> SimInputs:
    """Join a plan in memory with its own registry (array operations only; no text).

    Households come in the order of the plan files (site and unplaced households in registry
    order, home visits by slot, team and registry order), so the result equals `prepare` of the
    plan's directory apart from ``plan_sha256``, which is '' here.
    """
    from sampler.plan.planner import MODE_SITE, MODE_UNPLACED

    sites = plan.registry.sites
    minute = plan.slot.astype(np.float64) * plan.grid.minutes  # slot start, minutes from the window start
    at_site = np.flatnonzero(plan.mode == MODE_SITE)
    home, stop, _ = plan.visit_order()
    open_at, close_at = _opening(np.array([s.open_minute for s in sites], dtype=np.int64),
                                 np.array([s.close_minute for s in sites], dtype=np.int64), plan.grid.start)
    placement = Placement(
        site_ids=tuple(s.id for s in sites), site_names=tuple(s.name for s in sites),
        tables=np.array([s.tables for s in sites], dtype=np.int64),
        queue_m=np.array([s.queue_m for s in sites], dtype=np.float64), open_at=open_at, close_at=close_at,
        rows=at_site, site=plan.site[at_site],
        slot_start=minute[at_site], slot_end=minute[at_site] + plan.grid.minutes,
        home_rows=home, home_team=np.maximum(plan.team[home] - 1, 0), home_slot_start=minute[home],
        unplaced_rows=np.flatnonzero(plan.mode == MODE_UNPLACED), home_stop=stop,
    )
    return join(plan.scenario, plan.registry, placement, params)


def placement(scenario: Scenario, registry: Registry, plan: PlanFiles) -> Placement:
    """Read a plan's tables (text) into a Placement; InputError if the plan is not of this registry."""
    _check_inputs(registry, plan)
    start = scenario.window.start_time
    known = pd.Index(registry.households.id.astype(str))
    a_file = str(plan.directory / "assignments.csv")
    fix = "the plan lists a household the registry does not have; re-run `sampler plan`"
    a = plan.assignments
    at_site = a[a["mode"] == "site"]
    sites = plan.sites
    hv = plan.home_visits
    h_file = str(plan.directory / "home_visits.csv")
    team = pd.to_numeric(hv["team"], errors="coerce").fillna(1).to_numpy(dtype=np.int64) - 1
    open_at, close_at = _site_hours(plan, start)
    return Placement(
        site_ids=tuple(sites["site_id"].astype(str)), site_names=tuple(sites["name"].astype(str)),
        tables=sites["tables"].to_numpy(dtype=np.int64), queue_m=sites["queue_m"].to_numpy(dtype=np.float64),
        open_at=open_at, close_at=close_at,
        rows=_index(at_site["household_id"], known, a_file, "household_id", fix),
        site=_index(at_site["site_id"], pd.Index(sites["site_id"].astype(str)), a_file, "site_id",
                    "the site is not in the plan's sites.csv; re-run `sampler plan`"),
        slot_start=_minutes(at_site["slot_start"], start, a_file, "slot_start"),
        slot_end=_minutes(at_site["slot_end"], start, a_file, "slot_end"),
        home_rows=_index(hv["household_id"], known, h_file, "household_id", fix),
        home_team=np.maximum(team, 0),
        home_slot_start=_minutes(hv["slot_start"], start, h_file, "slot_start"),
        unplaced_rows=_index(plan.unplaced["household_id"], known, str(plan.directory / "unplaced.csv"),
                             "household_id", fix),
        plan_sha256=plan_hash(plan.directory) if (plan.directory / "assignments.csv").is_file() else "",
        home_stop=pd.to_numeric(hv["stop"], errors="coerce").fillna(0).to_numpy(dtype=np.int64),
    )


def prepare(scenario: Scenario, registry: Registry, plan: PlanFiles, params: SimParams | None = None) -> SimInputs:
    """Join a plan directory's tables with its registry; InputError if the plan is not of this registry.

    Each site gets round(tables × ``registrars_per_table``) registrars, from ``params`` or, when
    None, from the scenario's ``sim`` section.
    """
    return join(scenario, registry, placement(scenario, registry, plan), params)


def join(scenario: Scenario, registry: Registry, placed: Placement, params: SimParams | None = None) -> SimInputs:
    """SimInputs of a placement: household sizes and zones from the registry, each site's hours
    widened to its planned slots, registrars from ``params`` (None: the scenario's ``sim`` section)."""
    per_table = (params if params is not None else sim_params(scenario)).registrars_per_table
    hh, b = registry.households, registry.buildings
    rows, h_rows, u_rows, site = placed.rows, placed.home_rows, placed.unplaced_rows, placed.site
    open_at, close_at = placed.open_at, placed.close_at
    if len(site):
        first = np.full(len(placed.site_ids), np.inf)
        np.minimum.at(first, site, placed.slot_start)
        last = np.full(len(placed.site_ids), -np.inf)
        np.maximum.at(last, site, placed.slot_end)
        open_at, close_at = np.minimum(open_at, first), np.maximum(close_at, last)
    zone = b.zone[hh.building]
    pool = scenario.pooling
    home_xy = building_xy(registry)[hh.building[h_rows]] if len(h_rows) else np.zeros((0, 2))
    hv = scenario.home_visits
    return SimInputs(
        window_start=scenario.window.start, window_hours=float(scenario.window.hours),
        site_ids=placed.site_ids, site_names=placed.site_names, tables=placed.tables, queue_m=placed.queue_m,
        open_at=open_at, close_at=close_at,
        ids=hh.id[rows], site=site, slot_start=placed.slot_start, slot_end=placed.slot_end,
        size=hh.size[rows], elderly=hh.elderly[rows], children=hh.children[rows], zone=zone[rows],
        home_ids=hh.id[h_rows], home_team=placed.home_team, home_slot_start=placed.home_slot_start,
        home_building=hh.building[h_rows], home_size=hh.size[h_rows],
        home_elderly=hh.elderly[h_rows], home_children=hh.children[h_rows], home_zone=zone[h_rows],
        unplaced_ids=hh.id[u_rows], unplaced_size=hh.size[u_rows], unplaced_zone=zone[u_rows],
        people=registry.people, pooling=(pool.precaution, pool.controlled, pool.sealed),
        visits_per_team_hour=scenario.home_visits.visits_per_team_hour, plan_sha256=placed.plan_sha256,
        registrars=site_registrars(placed.tables, per_table),
        home_stop=placed.home_stop if placed.home_stop is not None else np.zeros(0, dtype=np.int64),
        home_x=home_xy[:, 0], home_y=home_xy[:, 1], home_m_per_min=hv.speed_m_per_min / scenario.walk.detour_factor,
    )
