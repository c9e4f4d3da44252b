"""Plan a city too large for one planner run in parts, on any executor, merged into one plan.

    part = partition(scenario, registry, parts=8)              # or column="district" / "grid"
    with open_executor(workers=2) as ex:
        plan = plan_in_parts(scenario, registry, part, ex)      # one Plan, as if planned whole
    write_plan(plan, "out/plan")                                # sampler.planfiles.write

Rules that keep the plan's guarantees:

- a part is a sub-registry of whole buildings, so a household and a building are never split;
  compounds that share a site serving them exclusively (管控区 with a site of its own) stay in one
  part together with that site;
- by count (``parts=N``): recursive coordinate bisection of the buildings weighted by people,
  always cutting the longer side at the people-weighted share of the parts on each side, so parts
  are compact and hold about the same number of people; by column: one part per value of a
  building column (district/街道, grid/网格, compound/小区);
- every site belongs to exactly one part: an exclusive site to its compounds' part; a public site
  to the part holding most of the people for whom it is the nearest site, or, when it is nobody's
  nearest, the part of the nearest building; a part with residents but no public site takes the
  nearest site from a part with several;
- home-visit teams are shared out by home-visit demand (one team at a time to the part with most
  households per team, at least one per part with demand when there are teams enough);
- each part is planned by `make_plan` on its own sub-registry, on the executor, in part order
  (without ids, names and phone numbers, which the planner never reads: they stay in this process);
  the arrays are merged back in registry order (team numbers offset per part) and scored by the
  same `summarise` as an unsplit plan, so the plan directory has the same files and invariants.
  The objective and the lower bound are the sums over the parts: the gap is proven for the split
  problem. What the split itself costs is reported apart (``split.walk_cost``): households whose
  nearest feasible site lies in another part, and the extra walking that forces on them.

Results never depend on the executor or the worker count.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from sampler.errors import COMMAND_LINE, InputError, InputIssue
from sampler.executors import Executor
from sampler.model import (
    BuildingTable,
    FloatArray,
    HouseholdTable,
    IntArray,
    Progress,
    Registry,
    RiskZone,
    needs_mask,
    no_progress,
)
from sampler.params import Scenario
from sampler.plan.flow import COST_SCALE
from sampler.plan.geo import Candidates, candidate_sites, project
from sampler.plan.homeroute import merge_route_reports
from sampler.plan.planner import MODE_SITE, Plan, make_plan
from sampler.plan.problem import Problem, build_problem
from sampler.plan.slots import slot_grid
from sampler.plan.summary import summarise
from sampler.registry.headers import ALIASES, canonical_name

__all__ = [
    "SPLIT_COLUMNS",
    "PartResult",
    "Partition",
    "apportion_teams",
    "bisect_buildings",
    "check_options",
    "merge_parts",
    "partition",
    "plan_in_parts",
    "plan_part",
    "resolve_column",
    "sub_registry",
]


SPLIT_COLUMNS = ("district", "grid", "compound")  # building columns a city can be split by



# ---------------------------------------------------------------------------------------------
# Options


def resolve_column(name: str) -> str:
    """The building field a ``--split-by`` value names (an English or Chinese header), or InputError."""
    field = canonical_name("buildings", name)
    if field not in SPLIT_COLUMNS:
        names = ", ".join(f"{f} ({'/'.join(a for a in ALIASES['buildings'][f] if a != f)})" for f in SPLIT_COLUMNS)
        raise InputError([InputIssue(COMMAND_LINE, None, "--split-by", name,
                                     f"split by a building column that groups buildings: {names}")])
    return field


def check_options(parts: int | None, split_by: str | None, workers: int | None, dask: str | None) -> str | None:
    """Check the split options of a command line before anything is read; return the split column.

    Every problem is reported at once as an InputError (file ``<command line>``).
    """
    issues: list[InputIssue] = []
    column = None
    if parts is not None and split_by is not None:
        issues.append(InputIssue(COMMAND_LINE, None, "--parts", str(parts),
                                 "give either --parts N (compact parts of equal people) or --split-by COLUMN, not both"))
    if parts is not None and parts < 1:
        issues.append(InputIssue(COMMAND_LINE, None, "--parts", str(parts), "give 1 or more parts"))
    if split_by is not None:
        try:
            column = resolve_column(split_by)
        except InputError as exc:
            issues.extend(exc.issues)
    if workers is not None and workers < 1:
        issues.append(InputIssue(COMMAND_LINE, None, "--workers", str(workers), "give 1 or more worker processes"))
    if (workers is not None or dask is not None) and parts is None and split_by is None:
        issues.append(InputIssue(COMMAND_LINE, None, "--workers" if dask is None else "--dask",
                                 str(workers if dask is None else dask),
                                 "workers plan parts of a split city: add --parts N or --split-by COLUMN"))
    if dask is not None and workers is not None:
        issues.append(InputIssue(COMMAND_LINE, None, "--workers", str(workers),
                                 "with --dask the cluster's workers are used: drop --workers"))
    if dask is not None and not dask.strip():
        issues.append(InputIssue(COMMAND_LINE, None, "--dask", dask, "give the scheduler address, e.g. tcp://host:8786"))
    if issues:
        raise InputError(issues)
    return column


# ---------------------------------------------------------------------------------------------
# Partition


@dataclass(frozen=True, eq=False)
class Partition:
    """Which part every building and site belongs to, and each part's home-visit teams.

    Attributes
    ----------
    building_part, site_part
        Part index (0-based) of every building and every site.
    names
        Label of each part (``part 1`` … or the column value).
    teams
        Home-visit teams of each part (they sum to the scenario's teams).
    method
        ``bisection`` or ``column``; ``column`` is the building field split by (or None).
    nearest_site
        Per building, the nearest site it may use in the unsplit city (−1 for none), and
    nearest_walk
        its walking minutes: what the split's walk cost is measured against.
    """

    building_part: IntArray
    site_part: IntArray
    names: tuple[str, ...]
    teams: IntArray
    method: str
    column: str | None
    nearest_site: IntArray
    nearest_walk: FloatArray

    @property
    def n(self) -> int:
        return len(self.names)


def _units(registry: Registry) -> IntArray:
    """Unit of every building: buildings of compounds linked by an exclusive site share one unit,
    every other building is a unit of its own. Units are numbered by their first building."""
    b = registry.buildings
    n_b = len(b)
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for s in registry.sites:
        for c in s.serves[1:]:
            a, z = find(s.serves[0]), find(c)
            if a != z:
                parent[max(a, z)] = min(a, z)
        if s.serves:
            find(s.serves[0])
    unit = np.arange(n_b, dtype=np.int64)
    if parent:
        compound = np.asarray(b.compound, dtype=object)
        served = np.flatnonzero(np.isin(compound, np.array(list(parent), dtype=object)))
        if len(served):
            roots = np.array([find(str(c)) for c in compound[served]], dtype=object)
            _, first = np.unique(roots, return_index=True)
            codes = np.unique(roots, return_inverse=True)[1]
            unit[served] = served[first][codes]
    _, dense = np.unique(unit, return_inverse=True)
    return dense.astype(np.int64)


def _people_per_building(registry: Registry) -> FloatArray:
    hh = registry.households
    return np.bincount(hh.building, weights=hh.size, minlength=len(registry.buildings)).astype(np.float64)


def _xy(registry: Registry) -> FloatArray:
    """Building coordinates in metres (the same projection as the candidate search)."""
    b = registry.buildings
    lat0 = float(np.mean(b.lat)) if len(b) else 0.0
    lon0 = float(np.mean(b.lon)) if len(b) else 0.0
    return project(b.lon, b.lat, lat0, lon0)


def bisect_buildings(xy: FloatArray, weight: FloatArray, n_parts: int) -> IntArray:
    """Recursive coordinate bisection: the part (0 … n_parts−1) of every point.

    Each step cuts the longer side of the points' bounding box at the weighted share of the parts
    on each side (⌊n/2⌋ : ⌈n/2⌉), never leaving a side with fewer points than parts. Ties in a
    coordinate are broken by point index, so the result is fully determined by the inputs.
    """
    part = np.zeros(len(xy), dtype=np.int64)
    stack: list[tuple[IntArray, int, int]] = [(np.arange(len(xy), dtype=np.int64), n_parts, 0)]
    while stack:
        idx, n, first = stack.pop()
        if n == 1:
            part[idx] = first
            continue
        n_left = n // 2
        pts = xy[idx]
        extent = pts.max(axis=0) - pts.min(axis=0)
        axis = 0 if extent[0] >= extent[1] else 1
        order = idx[np.lexsort((idx, pts[:, axis]))]
        cum = np.concatenate([[0.0], np.cumsum(weight[order])])
        target = cum[-1] * n_left / n
        lo, hi = n_left, len(order) - (n - n_left)
        cut = lo + int(np.argmin(np.abs(cum[lo : hi + 1] - target)))
        stack.append((order[cut:], n - n_left, first + n_left))
        stack.append((order[:cut], n_left, first))
    return part


def apportion_teams(teams: int, demand: IntArray) -> IntArray:
    """Share ``teams`` among parts by demand (home-visit households).

    One team at a time goes to the part with most households per team (ties: more demand, then
    lower index), after one for each part with demand if there are teams enough. This keeps the
    busiest team's list, which decides when the home visits end, as short as the split allows.
    """
    out = np.zeros(len(demand), dtype=np.int64)
    has = np.flatnonzero(demand > 0)
    if teams <= 0 or not len(has):
        if teams > 0 and len(demand):
            out[0] = teams  # nobody to visit: the teams stay with the first part
        return out
    left = teams
    if teams >= len(has):
        out[has] = 1
        left -= len(has)
    heap = [(-(float(demand[k]) / out[k] if out[k] else float("inf")), -int(demand[k]), int(k)) for k in has]
    heapq.heapify(heap)
    for _ in range(left):
        _, d, k = heapq.heappop(heap)
        out[k] += 1
        heapq.heappush(heap, (-(float(demand[k]) / out[k]), d, k))
    return out


def partition(scenario: Scenario, registry: Registry, parts: int | None = None, column: str | None = None) -> Partition:
    """Split the city into parts by count (compact, balanced by people) or by a building column.

    Raises InputError when the split is impossible (fewer buildings than parts, an empty column,
    more parts with residents than public sites).
    """
    if (parts is None) == (column is None):
        raise ValueError("give parts or column")
    b, hh = registry.buildings, registry.households
    n_b = len(b)
    unit = _units(registry)
    n_units = int(unit.max(initial=-1)) + 1
    people_b = _people_per_building(registry)
    xy = _xy(registry)
    if column is None:
        assert parts is not None
        if parts < 1:
            raise InputError([InputIssue(COMMAND_LINE, None, "--parts", str(parts), "give 1 or more parts")])
        if parts > n_units:
            extra = "" if n_units == n_b else f" ({n_b:,} buildings, but compounds sharing an exclusive site stay together)"
            raise InputError([InputIssue(
                COMMAND_LINE, None, "--parts", str(parts),
                f"a building is never split: use at most {n_units:,} parts{extra}")])
        # a unit sits at its people-weighted centre (plain centre when nobody lives there)
        w_u = np.bincount(unit, weights=people_b, minlength=n_units).astype(np.float64)
        wgt = np.where(w_u[unit] > 0, people_b, 1.0)
        den = np.bincount(unit, weights=wgt, minlength=n_units)
        u_xy = np.column_stack([np.bincount(unit, weights=xy[:, a] * wgt, minlength=n_units) / den for a in (0, 1)])
        building_part = bisect_buildings(u_xy, w_u, parts)[unit]
        names = tuple(f"part {k + 1}" for k in range(parts))
        method = "bisection"
    else:
        values = _column_values(b, column)
        if not (values != "").any():
            raise InputError([InputIssue(
                "buildings", None, column, "(blank)",
                f"the buildings file has no {column} values: add a {column} column "
                f"({'/'.join(ALIASES['buildings'][column])}) or split with --parts N")])
        labels, code = np.unique(values, return_inverse=True)
        code = code.astype(np.int64)
        # a unit (compounds sharing an exclusive site) goes whole to the value most of its people have
        pair = np.bincount(unit * len(labels) + code, weights=people_b + 1e-9, minlength=n_units * len(labels))
        code = pair.reshape(n_units, len(labels)).argmax(axis=1)[unit]
        used, building_part = np.unique(code, return_inverse=True)
        building_part = building_part.astype(np.int64)
        names = tuple(str(v) if v != "" else "(blank)" for v in labels[used])
        method = "column"
    n_parts = len(names)

    # Home visits and the nearest site each building may use in the whole city.
    cand = candidate_sites(b, registry.sites, scenario.walk, 1)
    first = np.flatnonzero(np.r_[True, cand.building[1:] != cand.building[:-1]]) if len(cand.building) else np.zeros(0, np.int64)
    nearest_site = np.full(n_b, -1, dtype=np.int64)
    nearest_walk = np.full(n_b, np.nan)
    nearest_site[cand.building[first]] = cand.site[first]
    nearest_walk[cand.building[first]] = cand.walk[first]
    home_need = (hh.needs & needs_mask(list(scenario.home_visits.needs))) != 0
    home = home_need | (cand.home_reason[hh.building] != "")
    site_people = np.bincount(hh.building[~home], weights=hh.size[~home], minlength=n_b).astype(np.float64)

    site_part = _site_parts(registry, building_part, n_parts, nearest_site, site_people, xy)
    demand = np.bincount(building_part[hh.building[home]], minlength=n_parts).astype(np.int64)
    teams = apportion_teams(scenario.home_visits.teams, demand)
    return Partition(building_part=building_part, site_part=site_part, names=names, teams=teams, method=method,
                     column=column, nearest_site=nearest_site, nearest_walk=nearest_walk)


def _column_values(b: BuildingTable, column: str) -> npt.NDArray[np.object_]:
    if column == "district":
        return np.asarray(b.districts(), dtype=object)
    return np.asarray(getattr(b, column), dtype=object)


def _site_parts(registry: Registry, building_part: IntArray, n_parts: int, nearest_site: IntArray, site_people: FloatArray,
                xy: FloatArray) -> IntArray:
    """The part of every site (see the module docstring)."""
    b, sites = registry.buildings, registry.sites
    n_s = len(sites)
    site_part = np.full(n_s, -1, dtype=np.int64)
    compound = np.asarray(b.compound, dtype=object)
    public = np.array([not s.serves for s in sites], dtype=bool)
    for i, s in enumerate(sites):
        members = np.flatnonzero(np.isin(compound, np.array(s.serves, dtype=object))) if s.serves else np.zeros(0, np.int64)
        if len(members):  # its compounds are in one part (one unit)
            site_part[i] = building_part[members[0]]
    # public sites: the part holding most of the people for whom it is the nearest site
    has = nearest_site >= 0
    votes = np.bincount(nearest_site[has] * n_parts + building_part[has], weights=site_people[has],
                        minlength=n_s * n_parts).reshape(n_s, n_parts)
    voted = public & (votes.max(axis=1, initial=0) > 0)
    site_part[voted] = votes[voted].argmax(axis=1)
    # nobody's nearest (or serving no listed compound): the part of the nearest building
    rest = np.flatnonzero((public & ~voted) | (site_part < 0))
    lat0 = float(np.mean(b.lat)) if len(b) else 0.0
    lon0 = float(np.mean(b.lon)) if len(b) else 0.0
    sxy = project([s.lon for s in sites], [s.lat for s in sites], lat0, lon0).reshape(-1, 2)
    if len(rest) and len(b):
        _, near = cKDTree(xy).query(sxy[rest], k=1)
        site_part[rest] = building_part[np.asarray(near, dtype=np.int64)]
    # a part whose residents walk to public sites needs at least one
    zone = np.asarray(b.zone)
    wants = (site_people > 0) & (zone == RiskZone.PRECAUTION)
    need = np.bincount(building_part[wants], weights=site_people[wants], minlength=n_parts)
    for k in range(n_parts):
        if need[k] <= 0 or (public & (site_part == k)).any():
            continue
        count = np.bincount(site_part[public], minlength=n_parts)
        donors = np.flatnonzero(public & (count[np.maximum(site_part, 0)] >= 2))
        if not len(donors):
            short = int((need > 0).sum())
            raise InputError([InputIssue(
                COMMAND_LINE, None, "--parts", str(n_parts),
                f"{short} parts have residents but the city has only {int(public.sum())} public sites: "
                "use fewer parts (or split by a coarser column)")])
        mine = wants & (building_part == k)
        centre = (xy[mine] * site_people[mine, None]).sum(axis=0) / site_people[mine].sum()
        d = np.hypot(*(sxy[donors] - centre).T)
        site_part[donors[np.lexsort((donors, d))[0]]] = k
    return site_part


def sub_registry(registry: Registry, part: Partition, k: int, lean: bool = False) -> tuple[Registry, IntArray, IntArray]:
    """Part ``k`` as a registry of its own, with the indices of its households and sites in the city.

    ``lean`` leaves out what the planner never reads — household ids, contacts and phone numbers
    (blank) — so parts travel to workers faster and personal data stays in this process; the
    merged plan takes them from the full registry.
    """
    b, hh = registry.buildings, registry.households
    b_idx = np.flatnonzero(part.building_part == k)
    remap = np.full(len(b), -1, dtype=np.int64)
    remap[b_idx] = np.arange(len(b_idx))
    h_idx = np.flatnonzero(part.building_part[hh.building] == k)
    s_idx = np.flatnonzero(part.site_part == k)
    bt = BuildingTable(
        id=b.id[b_idx], name=b.name[b_idx], grid=b.grid[b_idx], compound=b.compound[b_idx], lon=b.lon[b_idx],
        lat=b.lat[b_idx], zone=b.zone[b_idx], district=None if b.district is None else b.district[b_idx],
    )
    blank = np.full(len(h_idx), "", dtype=object)
    ht = HouseholdTable(
        id=blank if lean else hh.id[h_idx], building=remap[hh.building[h_idx]], unit=hh.unit[h_idx],
        room=hh.room[h_idx], size=hh.size[h_idx], elderly=hh.elderly[h_idx], children=hh.children[h_idx],
        contact=blank if lean else hh.contact[h_idx], phone=blank if lean else hh.phone[h_idx],
        needs=hh.needs[h_idx], preferred=hh.preferred[h_idx],
    )
    sub = Registry(households=ht, buildings=bt, sites=tuple(registry.sites[i] for i in s_idx), hashes=registry.hashes)
    return sub, h_idx, s_idx


# ---------------------------------------------------------------------------------------------
# Planning the parts


@dataclass(frozen=True, eq=False)
class PartResult:
    """What a worker sends back for one part (part-local indices)."""

    mode: IntArray
    site: IntArray
    slot: IntArray
    team: IntArray
    walk: FloatArray
    reason: npt.NDArray[np.object_]
    summary: dict[str, Any]
    home: npt.NDArray[np.bool_]
    queue: IntArray
    cand_building: IntArray
    cand_site: IntArray
    cand_walk: FloatArray
    arc_cost: IntArray
    slot_cost: IntArray
    unplaced_cost: int
    stop: IntArray | None = None
    arrival: FloatArray | None = None


def plan_part(scenario: Scenario, registry: Registry) -> PartResult:
    """Plan one part with the ordinary planner (runs on a worker)."""
    plan = make_plan(scenario, registry)
    problem = build_problem(scenario, registry)  # the arcs and costs the plan was scored with
    return PartResult(
        mode=plan.mode, site=plan.site, slot=plan.slot, team=plan.team, walk=plan.walk, reason=plan.reason,
        summary=plan.summary, home=problem.home, queue=problem.queue, cand_building=problem.cand.building,
        cand_site=problem.cand.site,
        cand_walk=problem.cand.walk, arc_cost=problem.arc_cost, slot_cost=problem.slot_cost,
        unplaced_cost=problem.unplaced_cost, stop=plan.stop, arrival=plan.arrival,
    )


def plan_in_parts(scenario: Scenario, registry: Registry, part: Partition, executor: Executor,
                  progress: Progress | None = None) -> Plan:
    """Plan every part on ``executor`` and merge them into one Plan of the whole registry."""
    progress = progress or no_progress
    clock0 = time.perf_counter()
    jobs = []
    index: list[tuple[IntArray, IntArray]] = []
    for k in range(part.n):
        sub, h_idx, s_idx = sub_registry(registry, part, k, lean=True)
        sc = scenario.replace(home_visits=replace(scenario.home_visits, teams=int(part.teams[k])))
        jobs.append(executor.submit(plan_part, sc, sub))
        index.append((h_idx, s_idx))
    results: list[PartResult] = []
    for k, job in enumerate(jobs):
        results.append(job.result())
        progress(f"part {k + 1}/{part.n}", (k + 1) / part.n)
    t_plan = time.perf_counter()
    plan = merge_parts(scenario, registry, part, results, index)
    t_end = time.perf_counter()
    plan.summary["timing"] = {
        "plan_parts_seconds": round(t_plan - clock0, 3),
        "merge_seconds": round(t_end - t_plan, 3),
        "solve_seconds": round(t_end - clock0, 3),
        "part_solve_seconds_max": max((r.summary.get("timing", {}).get("solve_seconds", 0.0) for r in results),
                                      default=0.0),
        "workers": int(getattr(executor, "workers", 1)),
    }
    return plan


def merge_parts(scenario: Scenario, registry: Registry, part: Partition, results: list[PartResult],
                index: list[tuple[IntArray, IntArray]]) -> Plan:
    """One Plan from the parts' arrays, scored by `summarise` over the union of the parts' arcs."""
    hh = registry.households
    n = len(hh)
    mode = np.zeros(n, dtype=np.int64)
    site = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    team = np.full(n, -1, dtype=np.int64)
    walk = np.zeros(n, dtype=np.float64)
    reason = np.full(n, "", dtype=object)
    home = np.zeros(n, dtype=bool)
    routed = all(r.stop is not None and r.arrival is not None for r in results) and bool(results)
    stop = np.zeros(n, dtype=np.int64) if routed else None
    arrival = np.full(n, np.nan) if routed else None
    queue: list[IntArray] = []
    offsets = np.concatenate([[0], np.cumsum(part.teams)[:-1]]).astype(np.int64)
    cb: list[IntArray] = []
    cs: list[IntArray] = []
    cw: list[FloatArray] = []
    ca: list[IntArray] = []
    for k, (r, (h_idx, s_idx)) in enumerate(zip(results, index, strict=True)):
        mode[h_idx] = r.mode
        site[h_idx] = np.where(r.site >= 0, s_idx[np.maximum(r.site, 0)] if len(s_idx) else -1, -1)
        slot[h_idx] = r.slot
        team[h_idx] = np.where(r.team >= 0, r.team + offsets[k], -1)
        walk[h_idx] = r.walk
        reason[h_idx] = r.reason
        home[h_idx] = r.home
        if stop is not None and arrival is not None and r.stop is not None and r.arrival is not None:
            stop[h_idx], arrival[h_idx] = r.stop, r.arrival
        queue.append(h_idx[r.queue])
        b_idx = np.flatnonzero(part.building_part == k)
        cb.append(b_idx[r.cand_building])
        cs.append(s_idx[r.cand_site] if len(s_idx) else r.cand_site)
        cw.append(r.cand_walk)
        ca.append(r.arc_cost)
    b_all, s_all, w_all, a_all = (np.concatenate(x) if x else np.zeros(0) for x in (cb, cs, cw, ca))
    order = np.lexsort((s_all, w_all, b_all))
    cand = Candidates(building=b_all[order].astype(np.int64), site=s_all[order].astype(np.int64),
                      walk=w_all[order].astype(np.float64),
                      home_reason=np.full(len(registry.buildings), "", dtype=object))
    grid = slot_grid(scenario.window, scenario.capacity, scenario.planner, registry.sites)
    # The union of the parts' problems: their arcs, and the costs every part shares.
    problem = Problem(
        scenario=scenario, registry=registry, grid=grid, cand=cand, home=home, reason=reason,
        queue=np.concatenate(queue) if queue else np.zeros(0, np.int64), arc_cost=a_all[order].astype(np.int64),
        slot_cost=results[0].slot_cost, unplaced_cost=results[0].unplaced_cost,
    )
    at = np.flatnonzero(mode == MODE_SITE)
    arc_of = problem.arc_index(hh.building[at], site[at])
    methods = sorted({str(r.summary["repair"]) for r in results} - {"none"}) or ["none"]
    summary = summarise(problem, mode, site, slot, walk, arc_of, lower_cost=0, repair_method="+".join(methods))
    # The bound of a split plan is the sum of the parts' bounds (each proven by its own flow).
    lower = sum(round(r.summary["lower_bound"] * COST_SCALE) for r in results)
    objective = round(summary["objective"] * COST_SCALE)
    summary["lower_bound"] = lower / COST_SCALE
    summary["gap"] = (objective - lower) / objective if objective > 0 else 0.0
    routes = [r.summary["home_routes"] for r in results if "home_routes" in r.summary]
    if routes:
        summary["home_routes"] = merge_route_reports(routes)
    summary["split"] = _split_summary(registry, part, results, index, cand, home)
    return Plan(scenario, registry, grid, mode, site, slot, team, walk, reason, summary, stop, arrival)


def _split_summary(registry: Registry, part: Partition, results: list[PartResult], index: list[tuple[IntArray, IntArray]],
                   cand: Candidates, home: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The split block of plan.json: parts, balance and what the split costs in walking."""
    hh = registry.households
    size = hh.size.astype(np.int64)
    n_b = len(registry.buildings)
    # nearest site each building may use inside its part (the first arc: arcs are sorted by walk)
    first = np.flatnonzero(np.r_[True, cand.building[1:] != cand.building[:-1]]) if len(cand.building) else np.zeros(0, np.int64)
    in_part = np.full(n_b, np.nan)
    in_part[cand.building[first]] = cand.walk[first]
    b = hh.building
    counted = ~home & (part.nearest_site[b] >= 0)
    elsewhere = counted & (part.site_part[np.maximum(part.nearest_site[b], 0)] != part.building_part[b])
    extra = np.where(elsewhere, np.nan_to_num(in_part[b] - part.nearest_walk[b], nan=0.0), 0.0)
    extra = np.maximum(extra, 0.0) * size
    people = np.array([int(size[h].sum()) for h, _ in index], dtype=np.int64)
    detail = []
    for k, (r, (h_idx, s_idx)) in enumerate(zip(results, index, strict=True)):
        s = r.summary
        detail.append({
            "part": k + 1, "name": part.names[k], "buildings": int((part.building_part == k).sum()),
            "households": len(h_idx), "people": int(people[k]), "sites": len(s_idx),
            "home_teams": int(part.teams[k]), "objective": s["objective"], "lower_bound": s["lower_bound"],
            "gap": s["gap"], "unplaced_households": s["unplaced_households"],
            "last_slot_used": s["window"]["last_slot_used"],
        })
    mean = float(people.mean()) if len(people) else 0.0
    return {
        "parts": part.n,
        "method": part.method,
        "column": part.column,
        "people_max_over_mean": round(float(people.max()) / mean, 4) if mean > 0 else 1.0,
        "walk_cost": {
            "households_nearest_site_in_other_part": int(elsewhere.sum()),
            "people_nearest_site_in_other_part": int(size[elsewhere].sum()),
            "extra_walk_person_minutes": round(float(extra.sum()), 1),
        },
        "bound_note": "objective and lower bound are sums over the parts: the gap is proven for the split problem; "
                      "walk_cost measures what the split itself costs",
        "part_list": detail,
    }
