"""Widening beyond the candidate sites up to the hard reach, extra walk minutes and the table shortfall."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sampler.model import RiskZone
from sampler.params import CapacityParams, PlannerParams, Scenario, WindowParams
from sampler.plan.geo import sites_within
from sampler.plan.planner import MODE_SITE, MODE_UNPLACED, Plan, make_plan
from sampler.planfiles.write import plan_frames
from tests.sampler.cities import random_city, registry, site

P = RiskZone.PRECAUTION
ONE_SLOT = WindowParams(hours=0.5, slot_minutes=30)


def scenario(hard_reach: float = 2.0, **planner: object) -> Scenario:
    """One 30-minute slot at 06:00, full utilisation, one candidate site per building."""
    pp = replace(PlannerParams(), candidate_sites=1, hard_reach=hard_reach, **planner)
    return Scenario(window=ONE_SLOT, capacity=CapacityParams(utilisation=1.0), planner=pp)


def near_full_far_free(far_m: float):
    """S1 next to the building takes 1 person in the one slot (2/h × 0.5 h); S2 ``far_m`` away has room."""
    return registry([("A", 0, 0, P, "c")], [("h1", "A", 1), ("h2", "A", 2)],
                    [site("S1", 0, 0, rate=2.0), site("S2", far_m, 0, rate=20.0)])


def test_leftover_walks_to_a_farther_site_within_hard_reach_and_is_flagged():
    """1,300 m = 26 min (1.3 detour, 65 m/min): beyond the one candidate and the 15-min limit, within 30."""
    plan = make_plan(scenario(), near_full_far_free(1300))
    assert plan.mode.tolist() == [MODE_SITE, MODE_SITE]
    assert plan.site.tolist() == [0, 1]
    assert plan.walk.tolist() == [0.0, 26.0]
    s = plan.summary
    assert s["unplaced_households"] == 0
    assert s["widening"] == {"hard_reach_minutes": 30.0, "households": 1, "extra_walk_minutes_total": 11.0,
                             "extra_walk_minutes_max": 11.0}
    assert s["shortfall"] == {"tables": 0, "sites": []}
    a = plan_frames(plan)["assignments"]
    assert a["walk_minutes"].tolist() == [0.0, 26.0]
    assert a["over_max_walk"].tolist() == [0, 1]
    # The bound covers the widened arc: h2 must pay 2 × (26 + 600 over-walk) at least.
    assert 1252.0 <= s["lower_bound"] <= s["objective"]
    assert s["violations"] == 0


def test_nothing_within_hard_reach_leaves_unplaced_and_names_the_missing_tables():
    """S2 is 3,000 m = 60 min away, beyond 2 × 15: h2 stays unplaced; S1 needs 2 more tables in its slot."""
    plan = make_plan(scenario(), near_full_far_free(3000))
    assert plan.mode.tolist() == [MODE_SITE, MODE_UNPLACED]
    s = plan.summary
    assert s["widening"]["households"] == 0
    assert s["shortfall"] == {"tables": 2, "sites": [{
        "site_id": "S1", "site": "site S1", "slot_start": "2022-11-23 06:00", "slot_end": "2022-11-23 06:30",
        "households": 1, "people": 2, "tables": 2}]}
    assert s["lower_bound"] <= s["objective"]


def test_hard_reach_one_keeps_walks_within_the_limit():
    """hard_reach 1: the 26-minute site is out of reach, so h2 is unplaced, not sent over the limit."""
    plan = make_plan(scenario(hard_reach=1.0), near_full_far_free(1300))
    assert plan.mode[1] == MODE_UNPLACED
    assert plan.summary["shortfall"]["tables"] == 2


def test_a_plan_without_leftovers_has_no_new_keys():
    """Plans that place everyone from their candidates are unchanged: no widening or shortfall keys."""
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2)], [site("S1", 0, 0)])
    plan = make_plan(Scenario(), reg)
    assert "widening" not in plan.summary and "shortfall" not in plan.summary


def room_within_reach(plan: Plan) -> list[int]:
    """Unplaced open-zone households for which a public site within the hard reach has a slot with room."""
    reg, sc = plan.registry, plan.scenario
    hh = reg.households
    residual = plan.grid.capacity - plan.load()
    zone = np.asarray(reg.buildings.zone)[hh.building]
    todo = np.flatnonzero((plan.mode == MODE_UNPLACED) & (zone == RiskZone.PRECAUTION))
    b, s, _, _ = sites_within(reg.buildings, reg.sites, sc.walk, np.unique(hh.building[todo]), len(reg.sites),
                              sc.walk.max_minutes * sc.planner.hard_reach)
    return [int(h) for h in todo if (residual[s[b == hh.building[h]]] >= hh.size[h]).any()]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(1, 30), n_sites=st.integers(1, 6),
       extent=st.sampled_from([1500.0, 4000.0]), hours=st.sampled_from([0.5, 2.0]), k=st.integers(1, 3),
       reach=st.sampled_from([1.0, 2.0, 3.0]))
def test_nobody_unplaced_while_a_site_within_reach_has_room(seed, n_buildings, n_sites, extent, hours, k, reach):
    """Invariants with widening: capacity per slot, each household once, no room left within reach of
    an unplaced household, bound below the objective, tables named whenever someone is unplaced."""
    reg = random_city(seed, n_buildings, n_sites, extent_m=extent, sealed_share=0.1)
    pp = replace(PlannerParams(), candidate_sites=k, hard_reach=reach)
    sc = Scenario(window=WindowParams(hours=hours), planner=pp)
    plan = make_plan(sc, reg)
    s = plan.summary
    assert (plan.load() <= plan.grid.capacity).all() and s["violations"] == 0
    assert room_within_reach(plan) == []
    if "widening" in s:  # widened walks stay within the hard reach
        assert s["widening"]["extra_walk_minutes_max"] <= sc.walk.max_minutes * (reach - 1) + 1e-9
    assert s["lower_bound"] is None or s["lower_bound"] <= s["objective"] + 1e-6
    open_zone = np.asarray(reg.buildings.zone)[reg.households.building] == RiskZone.PRECAUTION
    if ((plan.mode == MODE_UNPLACED) & open_zone).any():
        assert s["shortfall"]["tables"] > 0
    frames = plan_frames(plan)
    assert sorted([*frames["assignments"]["household_id"], *frames["unplaced"]["household_id"]]) == sorted(
        reg.households.id.tolist())
