"""The Lagrangian bound (sampler.plan.bound): never above the exact optimum, and it charges the cohesion
that preferences make unavoidable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sampler.model import PERIODS, RiskZone
from sampler.params import CapacityParams, PlannerParams, Scenario, WindowParams
from sampler.plan.bound import lagrangian_bound
from sampler.plan.flow import COST_SCALE
from sampler.plan.planner import make_plan
from sampler.plan.problem import build_problem
from tests.sampler.cities import registry, site, tiny_city
from tests.sampler.test_planner_properties import _exact_optimum

P = RiskZone.PRECAUTION
MORNING, AFTERNOON = PERIODS.index("morning"), PERIODS.index("afternoon")


def test_two_preferred_periods_in_one_building_cost_one_extra_call():
    """Morning and afternoon households of one building need two calls (cohesion 5) or a preference
    penalty (30 per person): the exact optimum is lateness 0.4 + 5; the LP sees only 0.4, the
    Lagrangian bound sees it all."""
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2), ("h2", "A", 2)], [site("S1", 0, 0, rate=40.0)],
                   preferred={"h1": MORNING, "h2": AFTERNOON})
    sc = Scenario(window=WindowParams(start="2022-11-23 11:00", hours=2.0),
                  capacity=CapacityParams(utilisation=1.0))
    plan = make_plan(sc, reg)
    assert _exact_optimum(sc, reg) == pytest.approx(5.4)
    assert plan.summary["objective"] == pytest.approx(5.4)
    assert plan.summary["lower_bound"] == pytest.approx(5.4)
    problem = build_problem(sc, reg)
    lp, lagr = lagrangian_bound(problem, np.zeros_like(problem.grid.capacity))
    assert lp == round(0.4 * COST_SCALE) and lagr == round(5.4 * COST_SCALE)


def test_a_building_larger_than_its_near_site_cell_costs_one_extra_call():
    """Six people next to a site of 4 per slot, a 13-minute walk from a site of 8: two calls at the
    near site (lateness 0.2 + cohesion 5) beat walking (13 per person). The LP sees 0.2; the
    capacity bound sees that one cell of the near site cannot hold the building."""
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2), ("h2", "A", 2), ("h3", "A", 2)],
                   [site("S1", 0, 0, rate=8.0), site("S2", 650, 0, rate=16.0)])
    sc = Scenario(window=WindowParams(hours=1.0), capacity=CapacityParams(utilisation=1.0))
    plan = make_plan(sc, reg)
    assert _exact_optimum(sc, reg) == pytest.approx(5.2)
    assert plan.summary["objective"] == pytest.approx(5.2)
    assert plan.summary["lower_bound"] == pytest.approx(5.2)


def test_prices_are_the_lp_duals():
    """With the flow's residual prices, the Lagrangian without cohesion equals the LP optimum."""
    from sampler.plan.flow import GroupArcs, solve_flow
    from tests.sampler.cities import random_city

    for seed in range(4):
        reg = random_city(seed, 30, 3)
        sc = Scenario(window=WindowParams(hours=3.0), capacity=CapacityParams(utilisation=0.5))
        problem = build_problem(sc, reg)
        hh, cand = reg.households, problem.cand
        q = problem.site_queue
        arc_group = np.repeat(np.arange(len(q)), np.bincount(cand.building, minlength=len(reg.buildings))[hh.building[q]])
        arc_idx = np.concatenate([np.flatnonzero(cand.building == b) for b in hh.building[q]])
        arcs = GroupArcs(supply=hh.size[q].astype(np.int64), group_class=hh.preferred[q], arc_group=arc_group,
                         arc_site=cand.site[arc_idx], arc_cost=problem.arc_cost[arc_idx],
                         slot_cost=problem.slot_cost, capacity=problem.grid.capacity,
                         unplaced_cost=problem.unplaced_cost)
        flow = solve_flow(arcs)
        assert (flow.prices >= 0).all()
        assert lagrangian_bound(problem, flow.prices)[0] == flow.cost


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cohesion=st.sampled_from([2.0, 5.0, 40.0]))
def test_bound_never_exceeds_the_exact_optimum(seed, cohesion):
    """lower_bound ≤ exact household optimum (CP-SAT over the full objective) ≤ planner objective, on
    tiny cities where most households prefer a period, across period boundaries and tight capacity."""
    rng = np.random.default_rng(seed)
    reg = tiny_city(rng, max_buildings=2, min_households=2, max_rate=29, preferring=0.7)
    sc = Scenario(window=WindowParams(start="2022-11-23 11:00", hours=2.0),
                  planner=replace(PlannerParams(), cohesion_penalty=cohesion))
    plan = make_plan(sc, reg)
    optimum = _exact_optimum(sc, reg)
    assert plan.summary["lower_bound"] <= optimum + 1e-6
    assert optimum <= plan.summary["objective"] + 1e-6
    # Any non-negative prices give a valid bound too (weak duality), not only the LP duals.
    problem = build_problem(sc, reg)
    prices = rng.integers(0, 40, size=problem.grid.capacity.shape)
    assert lagrangian_bound(problem, prices)[1] <= round(optimum * COST_SCALE)


def test_a_building_larger_than_a_cell_with_an_afternoon_household_needs_a_third_call():
    """Six class-0 people (cells of 4, so two calls) and one afternoon person: a third call (cohesion
    0.5) beats moving a class-0 household to the afternoon (0.4 lateness per person, 2 people) or the
    afternoon person to the morning (30). The partition bound credits class 0's second call to the
    afternoon household and charges nothing; the label bound charges the third call."""
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2), ("h2", "A", 2), ("h3", "A", 2), ("h4", "A", 1)],
                   [site("S1", 0, 0, rate=8.0)], preferred={"h4": AFTERNOON})
    sc = Scenario(window=WindowParams(start="2022-11-23 10:00", hours=3.0), capacity=CapacityParams(utilisation=1.0),
                  planner=replace(PlannerParams(), cohesion_penalty=0.5))
    plan = make_plan(sc, reg)
    optimum = _exact_optimum(sc, reg)
    assert optimum == pytest.approx(1.1)
    assert plan.summary["objective"] == pytest.approx(1.1)
    problem = build_problem(sc, reg)
    lp, lagr = lagrangian_bound(problem, np.zeros_like(problem.grid.capacity))
    assert lp == 4  # everyone in their best cell: the afternoon person's 4 slots of lateness
    assert lagr == 9  # + the third call (5): class-0 people in the afternoon pay 4 each, the overflow 2 of them
    assert lagr <= round(optimum * COST_SCALE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), cohesion=st.sampled_from([0.5, 2.0, 5.0, 40.0]))
def test_label_bound_never_exceeds_the_exact_optimum_on_buildings_larger_than_a_cell(seed, cohesion):
    """The regime of the label bound: one or two buildings of 5–9 households (more people than one
    cell holds), most preferring a period, small sites, windows across period boundaries. The
    planner's bound, and the Lagrangian bound at random prices, stay ≤ the exact CP-SAT optimum."""
    rng = np.random.default_rng(seed)
    n_b = int(rng.integers(1, 3))
    buildings = [(f"B{i}", float(rng.uniform(0, 600)), float(rng.uniform(0, 600)), P, "c") for i in range(n_b)]
    households = [(f"H{j}", f"B{int(rng.integers(0, n_b))}", int(rng.integers(1, 5))) for j in range(int(rng.integers(5, 10)))]
    sites = [site(f"S{k}", float(rng.uniform(0, 600)), float(rng.uniform(0, 600)), rate=float(rng.integers(6, 21)))
             for k in range(int(rng.integers(1, 3)))]
    pref = {h[0]: int(rng.integers(1, len(PERIODS))) for h in households if rng.random() < 0.5}
    reg = registry(buildings, households, sites, preferred=pref)
    start = str(rng.choice(["2022-11-23 10:30", "2022-11-23 11:00", "2022-11-23 17:00"]))
    sc = Scenario(window=WindowParams(start=start, hours=float(rng.choice([2.0, 2.5]))),
                  capacity=CapacityParams(utilisation=1.0), planner=replace(PlannerParams(), cohesion_penalty=cohesion))
    plan = make_plan(sc, reg)
    optimum = _exact_optimum(sc, reg)
    assert plan.summary["lower_bound"] <= optimum + 1e-6
    assert optimum <= plan.summary["objective"] + 1e-6
    problem = build_problem(sc, reg)
    prices = rng.integers(0, 40, size=problem.grid.capacity.shape)
    assert lagrangian_bound(problem, prices)[1] <= round(optimum * COST_SCALE)
