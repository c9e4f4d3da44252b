"""Planner invariants over random small cities (Hypothesis), and bounds against an exact CP-SAT optimum."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from sampler.model import RiskZone
from sampler.params import CapacityParams, PlannerParams, Scenario, WindowParams
from sampler.plan.flow import COST_SCALE
from sampler.plan.geo import candidate_sites
from sampler.plan.packing import tighten_cells
from sampler.plan.planner import MODE_HOME, MODE_SITE, MODE_UNPLACED, complete_plan, make_plan
from sampler.plan.problem import build_problem
from sampler.plan.slots import slot_grid
from sampler.planfiles.write import plan_frames
from tests.sampler.cities import random_city, tiny_city

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n_buildings=st.integers(1, 25),
    n_sites=st.integers(1, 4),
    sealed=st.sampled_from([0.0, 0.3]),
    hours=st.sampled_from([2.0, 6.0, 24.0]),
    util=st.sampled_from([0.5, 0.85, 1.0]),
)
def test_invariants_hold_on_random_cities(seed, n_buildings, n_sites, sealed, hours, util):
    """Each household once, never over capacity, sealed only at home, bound below objective."""
    reg = random_city(seed, n_buildings, n_sites, sealed_share=sealed)
    sc = Scenario(window=WindowParams(hours=hours), capacity=CapacityParams(utilisation=util))
    plan = make_plan(sc, reg)
    hh = reg.households
    frames = plan_frames(plan)
    a, u = frames["assignments"], frames["unplaced"]
    # every household exactly once, as one row (never split)
    assert sorted([*a["household_id"], *u["household_id"]]) == sorted(hh.id.tolist())
    assert plan.summary["violations"] == 0
    assert (plan.load() <= plan.grid.capacity).all()
    sealed_hh = reg.buildings.zone[hh.building] == RiskZone.SEALED
    assert not (sealed_hh & (plan.mode == MODE_SITE)).any()
    assert ((plan.mode == MODE_HOME) <= sealed_hh).all()  # no needs in random cities
    placed_site = plan.mode == MODE_SITE
    assert (plan.slot[placed_site] >= 0).all() and (plan.site[placed_site] >= 0).all()
    assert (plan.site[plan.mode == MODE_UNPLACED] == -1).all()
    assert plan.summary["lower_bound"] <= plan.summary["objective"] + 1e-9
    assert 0.0 <= plan.summary["gap"] <= 1.0


@SETTINGS
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(1, 15), n_sites=st.integers(1, 3))
def test_single_person_households_are_planned_optimally(seed, n_buildings, n_sites):
    """With one-person households and no cohesion cost the rounding is exact: objective == bound."""
    reg = random_city(seed, n_buildings, n_sites)
    reg.households.size[:] = 1
    sc = Scenario(window=WindowParams(hours=3.0), planner=PlannerParams(cohesion_penalty=0.0))
    plan = make_plan(sc, reg)
    assert plan.summary["objective"] == plan.summary["lower_bound"]


def _exact_optimum(sc: Scenario, reg) -> float:
    """Household-level optimum of the planner's objective by CP-SAT (tiny instances only)."""
    pp = sc.planner
    grid = slot_grid(sc.window, sc.capacity, pp, reg.sites)
    cand = candidate_sites(reg.buildings, reg.sites, sc.walk, pp.candidate_sites)
    pen = np.round(grid.penalties(pp) * COST_SCALE).astype(int)
    hh = reg.households
    m = cp_model.CpModel()
    x, cost = {}, []
    for h in range(len(hh)):
        b, size, c = int(hh.building[h]), int(hh.size[h]), int(hh.preferred[h])
        opts = []
        for k in np.flatnonzero(cand.building == b):
            s, w = int(cand.site[k]), float(cand.walk[k])
            walk_unit = round(w * COST_SCALE) + (round(pp.overmax_penalty * COST_SCALE) if w > sc.walk.max_minutes else 0)
            for t in np.flatnonzero(grid.capacity[s] > 0):
                v = m.new_bool_var(f"x{h}_{s}_{t}")
                x[h, s, int(t)] = v
                opts.append(v)
                cost.append((walk_unit + int(pen[c, t])) * size * v)
        placed = sum(opts) if opts else 0
        m.add(placed <= 1)
        cost.append(round(pp.unplaced_penalty * COST_SCALE) * size * (1 - placed))
    for s in range(len(reg.sites)):
        for t in range(grid.n):
            terms = [int(hh.size[h]) * v for (h, s2, t2), v in x.items() if s2 == s and t2 == t]
            if terms:
                m.add(sum(terms) <= int(grid.capacity[s, t]))
    for b in range(len(reg.buildings)):
        cells = {}
        for (h, s, t), v in x.items():
            if hh.building[h] == b:
                cells.setdefault((s, t), []).append(v)
        if not cells:
            continue
        used = []
        for (s, t), vs in cells.items():
            y = m.new_bool_var(f"y{b}_{s}_{t}")
            for v in vs:
                m.add_implication(v, y)
            used.append(y)
        people_b = int(hh.size[hh.building == b].sum())
        cap_b = max(int(grid.capacity[cand.site[cand.building == b]].max()), 1)
        extra = m.new_int_var(0, len(used), f"e{b}")
        m.add(extra >= sum(used) - math.ceil(people_b / cap_b))
        cost.append(round(pp.cohesion_penalty * COST_SCALE) * extra)
    m.minimize(sum(cost))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    assert solver.solve(m) == cp_model.OPTIMAL
    return solver.objective_value / COST_SCALE


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_bound_and_plan_bracket_the_exact_optimum(seed):
    """lower_bound ≤ exact household optimum ≤ planner objective, on tiny random instances."""
    rng = np.random.default_rng(seed)
    reg = tiny_city(rng, max_buildings=3, min_households=1, max_rate=15, preferring=0.3)
    sc = Scenario(window=WindowParams(start="2022-11-23 11:00", hours=2.0),
                  planner=replace(PlannerParams(), cohesion_penalty=3.0))
    plan = make_plan(sc, reg)
    optimum = _exact_optimum(sc, reg)
    assert plan.summary["lower_bound"] <= optimum + 1e-6
    assert optimum <= plan.summary["objective"] + 1e-6


@SETTINGS
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(1, 30), n_sites=st.integers(1, 4))
def test_a_building_is_called_in_consecutive_slots(seed, n_buildings, n_sites):
    """Without preferences or repairs, a building's households at one site occupy one run of slots."""
    reg = random_city(seed, n_buildings, n_sites)
    plan = make_plan(Scenario(window=WindowParams(hours=12.0)), reg)
    assume(plan.summary["repair"] == "none")
    hh = reg.households
    at = plan.mode == MODE_SITE
    for b in np.unique(hh.building[at]):
        for s in np.unique(plan.site[at & (hh.building == b)]):
            slots = np.unique(plan.slot[at & (hh.building == b) & (plan.site == s)])
            assert slots.max() - slots.min() + 1 == len(slots), (b, s, slots)


def _runs_per_building(reg, site, slot):  # type: ignore[no-untyped-def]
    """Runs of consecutive slots per (building, site) of the placed households."""
    at = np.flatnonzero(site >= 0)
    out = {}
    for b, s in {(int(reg.households.building[h]), int(site[h])) for h in at}:
        ts = set(slot[at][(reg.households.building[at] == b) & (site[at] == s)].tolist())
        out[b, s] = sum(1 for t in ts if t - 1 not in ts)
    return out


@SETTINGS
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(1, 20), n_sites=st.integers(1, 3))
def test_tightening_never_costs_more_nor_overfills(seed, n_buildings, n_sites):
    """From a scattered assignment (each household in a random open cell with room at a random candidate site),
    `tighten_cells` keeps every household whole and placed, no cell over capacity, no building in more
    runs of slots, and never raises the objective."""
    reg = random_city(seed, n_buildings, n_sites)
    sc = Scenario(window=WindowParams(hours=6.0), capacity=CapacityParams(utilisation=1.0))
    problem = build_problem(sc, reg)
    rng = np.random.default_rng(seed)
    hh, cap = reg.households, problem.grid.capacity
    site = np.full(len(hh), -1, dtype=np.int64)
    slot = np.full(len(hh), -1, dtype=np.int64)
    load = np.zeros_like(cap)
    for h in problem.site_queue.tolist():
        arcs = problem.arcs_of(int(hh.building[h]))
        if not len(arcs):
            continue
        s = int(problem.cand.site[arcs[int(rng.integers(len(arcs)))]])
        free = np.flatnonzero(cap[s] - load[s] >= hh.size[h])
        if len(free):
            t = int(rng.choice(free))
            site[h], slot[h] = s, t
            load[s, t] += hh.size[h]
    before = complete_plan(problem, site, slot, None, "none")
    runs = _runs_per_building(reg, site, slot)
    placed = site >= 0
    tighten_cells(problem, site, slot)
    after = complete_plan(problem, site, slot, None, "none")
    assert np.array_equal(site >= 0, placed) and np.all(slot[placed] >= 0)
    assert after.summary["violations"] == 0
    assert after.objective() <= before.objective() + 1e-9
    new_runs = _runs_per_building(reg, site, slot)
    assert all(new_runs[k] <= runs.get(k, new_runs[k]) for k in new_runs)
