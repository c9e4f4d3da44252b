"""Plan a whole area: every household to a (site, slot) or a home visit, or listed as unplaced.

    plan = make_plan(scenario, registry)
    write_plan(plan, "out/plan")     # sampler.planfiles.write; a Plan itself writes no files

Steps: candidate sites per building → aggregated min-cost flow (exact LP bound) → whole households
cut from the flow into sites and consecutive slots → CP-SAT/greedy repair of leftovers → home
visits → checks. Everything is deterministic for the same inputs and seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sampler.model import PERIODS, IntArray, Progress, Registry, no_progress
from sampler.params import Scenario
from sampler.plan.bound import lagrangian_bound
from sampler.plan.flow import COST_SCALE, FlowSolution, GroupArcs, solve_flow
from sampler.plan.geo import Candidates
from sampler.plan.homeroute import route_home_visits
from sampler.plan.homevisit import schedule_home_visits
from sampler.plan.packing import assign_slots, split_groups, tighten_cells
from sampler.plan.problem import Problem, build_problem
from sampler.plan.repair import RepairProblem, repair
from sampler.plan.slots import SlotGrid
from sampler.plan.summary import MODE_HOME, MODE_SITE, MODE_UNPLACED, summarise, unplaced_reasons
from sampler.plan.widen import widen

__all__ = ["MODE_HOME", "MODE_SITE", "MODE_UNPLACED", "Plan", "complete_plan", "make_plan"]




@dataclass(frozen=True, eq=False)
class Plan:
    """A plan: per-household arrays (registry order) plus the grid and summary.

    Attributes
    ----------
    mode
        MODE_SITE, MODE_HOME or MODE_UNPLACED per household.
    site, slot, team
        Site index, slot index and home-visit team (1-based); −1 where not applicable.
    walk
        Walking minutes to the assigned site (0 for home visits and unplaced).
    reason
        Why a household is visited at home or left unplaced ('' otherwise).
    summary
        The content of plan.json.
    stop, arrival
        Home visits: stop of the team's route (1-based; households of one building share it) and
        expected arrival in minutes from the window start; None for plans made without them
        (`visit_order` then derives the building order and the slot starts).
    change
        Re-plans and rounds (`sampler.plan.replan`): per household what became of its previous
        booking (``sampled``, ``kept``, ``moved``, ``home``, ``new``, ``unplaced``); None otherwise.
    codes
        Resident codes per household (texts: numpy or Arrow) when they come from a previous plan (a re-plan or round keeps
        the codes residents were sent, `sampler.plan.replan`); None: made from the deployment's
        secret when the plan is written (`sampler.day.codes.resident_codes`).
    """

    scenario: Scenario
    registry: Registry
    grid: SlotGrid
    mode: IntArray
    site: IntArray
    slot: IntArray
    team: IntArray
    walk: npt.NDArray[np.float64]
    reason: npt.NDArray[np.object_]
    summary: dict[str, Any] = field(default_factory=dict)
    stop: IntArray | None = None
    arrival: npt.NDArray[np.float64] | None = None
    change: npt.NDArray[np.object_] | None = None
    codes: Any = None

    def visit_order(self) -> tuple[IntArray, IntArray, npt.NDArray[np.float64]]:
        """Home-visit households in visiting order (by slot, team, stop, arrival, registry order),
        with each one's stop and expected arrival (minutes from the window start)."""
        home = np.flatnonzero(self.mode == MODE_HOME)
        if self.stop is not None and self.arrival is not None:
            stop, arrival = self.stop[home], self.arrival[home]
        else:  # building order: a new stop wherever a team's next household is in another building
            stop = np.zeros(len(home), dtype=np.int64)
            arrival = self.slot[home].astype(np.float64) * self.grid.minutes
        order = np.lexsort((home, arrival, stop, self.team[home], self.slot[home]))
        home, stop, arrival = home[order], stop[order], arrival[order]
        if self.stop is None or self.arrival is None:
            by_team = np.lexsort((np.arange(len(home)), self.team[home]))
            b = self.registry.households.building[home[by_team]]
            t = self.team[home[by_team]]
            new = np.r_[True, (b[1:] != b[:-1]) | (t[1:] != t[:-1])] if len(b) else np.zeros(0, dtype=bool)
            first = np.r_[True, t[1:] != t[:-1]] if len(t) else np.zeros(0, dtype=bool)
            run = np.cumsum(new)
            stop[by_team] = run - np.maximum.accumulate(np.where(first, run - 1, 0))
        return home, stop, arrival

    def is_feasible(self) -> bool:
        """No capacity violation and every household placed."""
        return self.summary["violations"] == 0 and self.summary["unplaced_households"] == 0

    def objective(self) -> float:
        return float(self.summary["objective"])

    def load(self) -> IntArray:
        """People per (site, slot)."""
        load = np.zeros_like(self.grid.capacity)
        at = self.mode == MODE_SITE
        np.add.at(load, (self.site[at], self.slot[at]), self.registry.households.size[at])
        return load


def make_plan(scenario: Scenario, registry: Registry, progress: Progress | None = None, *,
              capacity: IntArray | None = None, home_capacity: IntArray | None = None,
              candidates: Candidates | None = None, at_home: npt.NDArray[np.bool_] | None = None) -> Plan:
    """Plan the area; see the module docstring. Never raises for capacity shortfalls: it reports them.

    ``capacity`` (people per site and slot) and ``home_capacity`` (home visits per slot) replace
    what the sites' tables and the teams give (`build_problem`): a re-plan plans into what is left,
    with 0 before its cutoff (`sampler.plan.replan`), and passes the ``candidates`` it has found
    already for the same buildings and sites, and ``at_home``, the households follow-ups found at
    home needing a visit.
    """
    progress = progress or no_progress
    clock0 = time.perf_counter()
    timing: dict[str, float] = {}
    problem = build_problem(scenario, registry, capacity, home_capacity, candidates, at_home)
    hh = registry.households
    progress("candidates", 0.1)

    # Groups (building, class) of site households and their candidate arcs.
    site_q = problem.site_queue
    n_cls = len(PERIODS)
    gvals, ginv = np.unique(hh.building[site_q] * n_cls + hh.preferred[site_q], return_inverse=True)
    g_building, g_class = np.divmod(gvals, n_cls)
    supply = np.bincount(ginv, weights=hh.size[site_q], minlength=len(gvals)).astype(np.int64)
    arcs = problem.flow_arcs(g_building, g_class, supply)
    timing["prepare_seconds"] = time.perf_counter() - clock0
    progress("flow", 0.2)
    t1 = time.perf_counter()
    flow = solve_flow(arcs)
    timing["flow_seconds"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    # Both are proven lower bounds; the Lagrangian one also charges unavoidable cohesion.
    lower = max(flow.cost, lagrangian_bound(problem, flow.prices)[1])
    timing["bound_seconds"] = time.perf_counter() - t1
    progress("packing", 0.6)

    t2 = time.perf_counter()
    site, slot, method = _pack(problem, ginv, arcs, flow)
    # Widening: anyone still unplaced looks at farther sites up to the hard reach (sampler.plan.widen).
    wide, _, wide_method = widen(problem, site, slot)
    if wide is not problem:
        # The plan may now use arcs the flow did not have: its bound must cover them, so the flow
        # (an LP relaxation) and the Lagrangian bound are solved again on the extended arcs. That
        # flow also lets neighbours of the leftovers make room for them (a ripple the greedy widening
        # cannot do): pack it too, widen its leftovers, and keep the cheaper of the two plans.
        warcs = wide.flow_arcs(g_building, g_class, supply)
        wflow = solve_flow(warcs)
        lower = max(wflow.cost, lagrangian_bound(wide, wflow.prices)[1])
        site2, slot2, method2 = _pack(wide, ginv, warcs, wflow)
        wide2, _, wide_method2 = widen(wide, site2, slot2)
        if wide2 is not wide:  # it looked further still: bound the final arcs again
            wflow2 = solve_flow(wide2.flow_arcs(g_building, g_class, supply))
            lower = max(wflow2.cost, lagrangian_bound(wide2, wflow2.prices)[1])
        first = complete_plan(wide2, site, slot, lower, method)
        second = complete_plan(wide2, site2, slot2, lower, method2)
        if second.objective() < first.objective():
            site, slot, method, wide_method = site2, slot2, f"{method2}+reflow", wide_method2
        wide = wide2
    if wide_method != "none":
        method = f"{method}+widen-{wide_method}" if method != "none" else f"widen-{wide_method}"
    widened = _beyond_candidates(problem, site)
    timing["packing_seconds"] = time.perf_counter() - t2
    progress("home visits", 0.8)
    plan = complete_plan(wide, site, slot, lower, method, timing, widened=widened)
    timing["solve_seconds"] = time.perf_counter() - clock0
    plan.summary["timing"] = {k: round(v, 3) for k, v in sorted(timing.items())}
    progress("done", 1.0)
    return plan


def _pack(problem: Problem, ginv: IntArray, arcs: GroupArcs, flow: FlowSolution) -> tuple[IntArray, IntArray, str]:
    """Whole households cut from the flow into sites and slots, then the repair: (site, slot, method)."""
    hh, grid, pp = problem.registry.households, problem.grid, problem.scenario.planner
    site_q = problem.site_queue
    sizes_q = hh.size[site_q].astype(np.int64)
    site_of = split_groups(sizes_q, ginv, arcs, flow)
    hold = min(pp.cohesion_penalty / pp.lateness_per_slot, 1000.0) if pp.lateness_per_slot > 0 else 0.0
    slot_of, load = assign_slots(problem, site_q, site_of, flow, hold, round(pp.cohesion_penalty * COST_SCALE))
    site = np.full(len(hh), -1, dtype=np.int64)
    slot = np.full(len(hh), -1, dtype=np.int64)
    done = slot_of >= 0
    site[site_q[done]], slot[site_q[done]] = site_of[done], slot_of[done]
    # Repair: households the rounding left over (their site had no room) get another option.
    leftover = site_q[(site_of >= 0) & ~done]
    method = _repair_leftovers(problem, leftover, grid.capacity - load, site, slot)
    # Buildings spread over more cells than they need: move stray households where that is cheaper.
    tighten_cells(problem, site, slot)
    return site, slot, method


def _beyond_candidates(problem: Problem, site: IntArray) -> IntArray:
    """Households at a site that is not one of their building's original candidates (placed by widening)."""
    at = np.flatnonzero(site >= 0)
    n_sites = max(len(problem.registry.sites), 1)
    keys = np.sort(problem.cand.building * n_sites + problem.cand.site)
    key = problem.registry.households.building[at] * n_sites + site[at]
    pos = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
    hit = keys[pos] == key if len(keys) else np.zeros(len(key), dtype=bool)
    return at[~hit]


def _repair_leftovers(problem: Problem, leftover: IntArray, residual: IntArray, site: IntArray, slot: IntArray) -> str:
    """Place leftover households into residual capacity (in place); return the method used."""
    if not len(leftover):
        return "none"
    hh, cand = problem.registry.households, problem.cand
    opt_h: list[int] = []
    opt_s: list[int] = []
    opt_t: list[int] = []
    opt_c: list[int] = []
    # A cell (site, slot) the building already uses costs no cohesion; a new one does.
    n_sites, n_slots = residual.shape
    at = (site >= 0) & np.isin(hh.building, hh.building[leftover])  # only the leftovers' buildings
    used = set((hh.building[at] * n_sites * n_slots + site[at] * n_slots + slot[at]).tolist())
    new_cell = round(problem.scenario.planner.cohesion_penalty * COST_SCALE)
    for i, h in enumerate(leftover):
        size, klass, b = int(hh.size[h]), int(hh.preferred[h]), int(hh.building[h])
        for k in problem.arcs_of(b):
            s_k = int(cand.site[k])
            free = np.flatnonzero(residual[s_k] >= size)
            cells = b * n_sites * n_slots + s_k * n_slots + free
            extra = np.array([0 if c in used else new_cell for c in cells.tolist()], dtype=np.int64)
            opt_h.extend([i] * len(free))
            opt_s.extend([s_k] * len(free))
            opt_t.extend(free.tolist())
            opt_c.extend(((problem.arc_cost[k] + problem.slot_cost[klass, free]) * size + extra).tolist())
    rp = RepairProblem(
        size=hh.size[leftover].astype(np.int64), opt_household=np.asarray(opt_h, dtype=np.int64),
        opt_site=np.asarray(opt_s, dtype=np.int64), opt_slot=np.asarray(opt_t, dtype=np.int64),
        opt_cost=np.asarray(opt_c, dtype=np.int64), residual=residual,
        unplaced_cost=hh.size[leftover].astype(np.int64) * problem.unplaced_cost,
    )
    choice, method = repair(rp, problem.scenario.planner.repair_limit, problem.scenario.planner.seed)
    ok = choice >= 0
    site[leftover[ok]] = rp.opt_site[choice[ok]]
    slot[leftover[ok]] = rp.opt_slot[choice[ok]]
    return method


def complete_plan(
    problem: Problem, site: IntArray, slot: IntArray, lower_cost: int | None, method: str,
    timing: dict[str, float] | None = None, widened: IntArray | None = None,
) -> Plan:
    """Turn site-household (site, slot) arrays into a Plan: home visits, walks, reasons, summary.

    ``site``/``slot`` are −1 for households not placed at a site; home households are scheduled here.
    ``lower_cost`` is a proven lower bound on the site households' cost in integer units (the flow
    optimum or the Lagrangian bound of `sampler.plan.bound`; None when the caller has none).
    ``widened`` lists the households placed by widening beyond the candidates (`sampler.plan.widen`).
    """
    scenario, registry, grid = problem.scenario, problem.registry, problem.grid
    hh = registry.households
    n = len(hh)
    reason = problem.reason.copy()
    mode = np.where((site >= 0) & (slot >= 0), MODE_SITE, MODE_UNPLACED).astype(np.int64)
    site = np.where(mode == MODE_SITE, site, -1)
    slot = np.where(mode == MODE_SITE, slot, -1)
    team = np.full(n, -1, dtype=np.int64)

    home_q = problem.home_queue
    stop: IntArray | None = None
    arrival: npt.NDArray[np.float64] | None = None
    routes = None
    if problem.home_capacity is not None:  # the teams' time left (a re-plan): per slot, in time order
        h_slot, h_team = schedule_home_visits(len(home_q), scenario.home_visits, grid.minutes, grid.night,
                                              problem.home_capacity)
    elif scenario.home_visits.routing:
        routes = route_home_visits(registry, home_q, scenario.home_visits, scenario.walk, grid.minutes, grid.night)
        h_slot, h_team = routes.slot, np.where(routes.slot >= 0, routes.team, -1)
        stop = np.zeros(n, dtype=np.int64)
        arrival = np.full(n, np.nan)
        stop[home_q], arrival[home_q] = routes.stop, routes.arrival
    else:
        h_slot, h_team = schedule_home_visits(len(home_q), scenario.home_visits, grid.minutes, grid.night)
    slot[home_q], team[home_q] = h_slot, h_team
    mode[home_q[h_slot >= 0]] = MODE_HOME
    reason[home_q[h_slot < 0]] = (
        f"home-visit capacity: {scenario.home_visits.teams} teams × "
        f"{scenario.home_visits.visits_per_team_hour:g} visits/h cannot reach every household in the window; add teams"
    )
    walk = np.zeros(n, dtype=np.float64)
    at = np.flatnonzero(mode == MODE_SITE)
    arc_of = problem.arc_index(hh.building[at], site[at])
    walk[at] = problem.cand.walk[arc_of]
    unplaced_reasons(problem, reason, mode)
    summary = summarise(problem, mode, site, slot, walk, arc_of, lower_cost=lower_cost, repair_method=method,
                        widened=widened)
    if routes is not None:
        summary["home_routes"] = routes.report
    if timing is not None:
        summary["timing"] = {k: round(v, 3) for k, v in sorted(timing.items())}
    return Plan(scenario, registry, grid, mode, site, slot, team, walk, reason, summary, stop, arrival)
