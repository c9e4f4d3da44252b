"""What one replication needs, as flat numpy arrays: the plan joined with the registry.

`prepare` checks that the plan belongs to the registry and turns clock labels into minutes from
the window start, once, so that each replication only draws random numbers and runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.model import Registry
from sampler.params import Scenario, _parse_clock
from sampler.planfiles.read import PlanFiles
from sim.params import SimParams, sim_params

__all__ = ["Shifts", "SimInputs", "SiteShifts", "plan_hash", "prepare", "site_registrars"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
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

    def __post_init__(self) -> None:
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
            values[i] = (dt.datetime.strptime(text, "%Y-%m-%d %H:%M") - start).total_seconds() / 60
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


def _site_hours(plan: PlanFiles, start: dt.datetime) -> tuple[FloatArray, FloatArray]:
    """Opening and closing minute of each site, relative to the window start."""
    start_clock = start.hour * 60 + start.minute
    file = str(plan.directory / "sites.csv")
    open_at, close_at = [], []
    for row, (o, c) in enumerate(zip(plan.sites["open"], plan.sites["close"], strict=True), start=1):
        try:
            om, cm = _parse_clock(o or "00:00"), _parse_clock(c or "24:00")
        except ValueError:
            raise InputError([InputIssue(file, row, "open/close", f"{o}-{c}", "give hours as HH:MM")]) from None
        length = (cm - om) % 1440 or 1440
        at = 0 if length == 1440 else (om - start_clock) % 1440
        open_at.append(float(at))
        close_at.append(float(at + length))
    return np.array(open_at), np.array(close_at)


def site_registrars(tables: IntArray, per_table: float) -> IntArray:
    """Registrars at each site: round(tables × per_table)."""
    return np.rint(np.asarray(tables, dtype=np.float64) * per_table).astype(np.int64)


def prepare(scenario: Scenario, registry: Registry, plan: PlanFiles, params: SimParams | None = None) -> SimInputs:
    """Join a plan with its registry; InputError if the plan is not of this registry.

    Each site gets round(tables × ``registrars_per_table``) registrars, from ``params`` or, when
    None, from the scenario's ``sim`` section.
    """
    per_table = (params if params is not None else sim_params(scenario)).registrars_per_table
    _check_inputs(registry, plan)
    start = scenario.window.start_time
    hh, b = registry.households, registry.buildings
    known = pd.Index(hh.id.astype(str))
    a_file = str(plan.directory / "assignments.csv")
    fix = "the plan lists a household the registry does not have; re-run `sampler plan`"
    a = plan.assignments
    at_site = a[a["mode"] == "site"]
    rows = _index(at_site["household_id"], known, a_file, "household_id", fix)
    sites = plan.sites
    site = _index(at_site["site_id"], pd.Index(sites["site_id"].astype(str)), a_file, "site_id",
                  "the site is not in the plan's sites.csv; re-run `sampler plan`")
    slot_start = _minutes(at_site["slot_start"], start, a_file, "slot_start")
    slot_end = _minutes(at_site["slot_end"], start, a_file, "slot_end")
    open_at, close_at = _site_hours(plan, start)
    n_sites = len(sites)
    if len(site):
        first = np.full(n_sites, np.inf)
        np.minimum.at(first, site, slot_start)
        last = np.full(n_sites, -np.inf)
        np.maximum.at(last, site, slot_end)
        open_at, close_at = np.minimum(open_at, first), np.maximum(close_at, last)

    hv = plan.home_visits
    h_file = str(plan.directory / "home_visits.csv")
    h_rows = _index(hv["household_id"], known, h_file, "household_id", fix)
    team = pd.to_numeric(hv["team"], errors="coerce").fillna(1).to_numpy(dtype=np.int64) - 1
    un = plan.unplaced
    u_rows = _index(un["household_id"], known, str(plan.directory / "unplaced.csv"), "household_id", fix)
    zone = b.zone[hh.building]
    pool = scenario.pooling
    tables = sites["tables"].to_numpy(dtype=np.int64)
    digest = plan_hash(plan.directory) if (plan.directory / "assignments.csv").is_file() else ""
    return SimInputs(
        window_start=scenario.window.start, window_hours=float(scenario.window.hours),
        site_ids=tuple(sites["site_id"].astype(str)), site_names=tuple(sites["name"].astype(str)),
        tables=tables, queue_m=sites["queue_m"].to_numpy(dtype=np.float64),
        open_at=open_at, close_at=close_at,
        ids=hh.id[rows], site=site, slot_start=slot_start, slot_end=slot_end,
        size=hh.size[rows], elderly=hh.elderly[rows], children=hh.children[rows], zone=zone[rows],
        home_ids=hh.id[h_rows], home_team=np.maximum(team, 0),
        home_slot_start=_minutes(hv["slot_start"], start, h_file, "slot_start"),
        home_building=hh.building[h_rows], home_size=hh.size[h_rows],
        home_elderly=hh.elderly[h_rows], home_children=hh.children[h_rows], home_zone=zone[h_rows],
        unplaced_ids=hh.id[u_rows], unplaced_size=hh.size[u_rows], unplaced_zone=zone[u_rows],
        people=registry.people, pooling=(pool.precaution, pool.controlled, pool.sealed),
        visits_per_team_hour=scenario.home_visits.visits_per_team_hour, plan_sha256=digest,
        registrars=site_registrars(tables, per_table),
    )
