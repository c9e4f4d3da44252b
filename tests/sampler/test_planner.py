"""Planner tests: exact small cases, capacity, zones, home visits, bounds and determinism."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sampler.model import RiskZone, needs_mask
from sampler.params import CapacityParams, HomeVisitParams, PlannerParams, Scenario, WindowParams
from sampler.plan.planner import MODE_HOME, MODE_SITE, MODE_UNPLACED, make_plan
from sampler.planfiles.write import plan_frames, write_plan
from tests.sampler.cities import random_city, registry, site

P = RiskZone.PRECAUTION


def scenario(**planner: object) -> Scenario:
    """Default scenario with full utilisation and the given planner overrides."""
    return Scenario(capacity=CapacityParams(utilisation=1.0), planner=replace(PlannerParams(), **planner))


def test_everyone_walks_to_the_nearest_site_in_the_first_slot():
    """Two buildings next to two sites with room: walks are zero and both use the first slot."""
    reg = registry(
        [("A", 0, 0, P, "c"), ("B", 600, 0, P, "c")],
        [("h1", "A", 2), ("h2", "B", 3)],
        [site("S1", 0, 0), site("S2", 600, 0)],
    )
    plan = make_plan(scenario(), reg)
    assert plan.site.tolist() == [0, 1]
    assert plan.slot.tolist() == [0, 0]
    assert plan.walk.tolist() == [0.0, 0.0]
    assert plan.summary["objective"] == 0.0
    assert plan.summary["lower_bound"] == 0.0


def test_overflow_goes_to_the_next_slot_then_to_the_farther_site():
    """One table of 4 people per slot: the known optimum fills slot 0 and 1, charging lateness only."""
    # rate 8/h × 0.5 h × utilisation 1 = 4 people per slot.
    reg = registry(
        [("A", 0, 0, P, "c")],
        [("h1", "A", 2), ("h2", "A", 2), ("h3", "A", 2)],
        [site("S1", 0, 0, rate=8.0)],
    )
    plan = make_plan(scenario(cohesion_penalty=0.0), reg)
    assert plan.slot.tolist() == [0, 0, 1]
    # lateness 0.1 per person per slot: 2 people in slot 1.
    assert plan.summary["objective"] == pytest.approx(0.2)
    assert plan.summary["lower_bound"] == pytest.approx(0.2)
    assert plan.summary["gap"] == 0.0


def test_walk_cost_is_the_known_optimum_when_the_near_site_is_small():
    """Near site holds one household over the window; the other walks 650 m (13 min) to S2."""
    one_slot = WindowParams(hours=0.5, slot_minutes=30)
    reg = registry(
        [("A", 0, 0, P, "c")],
        [("h1", "A", 2), ("h2", "A", 2)],
        [site("S1", 0, 0, rate=4.0), site("S2", 650, 0, rate=40.0)],
    )
    sc = scenario(cohesion_penalty=0.0).replace(window=one_slot)
    plan = make_plan(sc, reg)
    assert sorted(plan.site.tolist()) == [0, 1]
    assert plan.summary["objective"] == pytest.approx(2 * 13.0)
    assert plan.summary["lower_bound"] == pytest.approx(2 * 13.0)


def test_capacity_shortfall_lists_exactly_the_excess_with_site_names():
    """Capacity for 4 people in the whole window: the fifth person's household is unplaced, by name."""
    one_slot = WindowParams(hours=0.5, slot_minutes=30)
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 4), ("h2", "A", 1)], [site("S1", 0, 0, rate=8.0)])
    plan = make_plan(scenario().replace(window=one_slot), reg)
    assert plan.mode.tolist() == [MODE_SITE, MODE_UNPLACED]
    assert "site S1 (S1" in plan.reason[1]
    assert plan.summary["unplaced_people"] == 1
    assert plan.summary["violations"] == 0


def test_sealed_and_bedridden_households_are_visited_at_home():
    """封控区 buildings and bedridden members never go to a site."""
    reg = registry(
        [("A", 0, 0, RiskZone.SEALED, "c1"), ("B", 10, 0, P, "c2")],
        [("h1", "A", 3), ("h2", "B", 1), ("h3", "B", 2)],
        [site("S1", 0, 0)],
        needs={"h2": needs_mask(["bedridden"])},
    )
    plan = make_plan(scenario(), reg)
    assert plan.mode.tolist() == [MODE_HOME, MODE_HOME, MODE_SITE]
    assert "封控区" in plan.reason[0] and "bedridden" in plan.reason[1]
    assert (plan.team[:2] >= 1).all()


def test_controlled_compound_uses_only_its_own_site_or_home_visits():
    """管控区 households go to the site serving their compound; without one they are visited at home."""
    reg = registry(
        [("A", 0, 0, RiskZone.CONTROLLED, "inside"), ("B", 0, 0, RiskZone.CONTROLLED, "other"),
         ("C", 0, 0, P, "open")],
        [("h1", "A", 2), ("h2", "B", 2), ("h3", "C", 2)],
        [site("PUB", 0, 0), site("IN", 500, 0, serves=("inside",))],
    )
    plan = make_plan(scenario(), reg)
    assert plan.mode.tolist() == [MODE_SITE, MODE_HOME, MODE_SITE]
    assert plan.site[0] == 1 and plan.site[2] == 0
    assert "管控区" in plan.reason[1]


def test_home_visit_capacity_shortfall_is_reported():
    """One team at 2 visits per hour for half an hour reaches one household; the other is unplaced."""
    sc = scenario().replace(
        window=WindowParams(hours=0.5, slot_minutes=30),
        home_visits=HomeVisitParams(teams=1, visits_per_team_hour=2.0),
    )
    reg = registry([("A", 0, 0, RiskZone.SEALED, "c")], [("h1", "A", 1), ("h2", "A", 5)], [site("S1", 0, 0)])
    plan = make_plan(sc, reg)
    assert plan.mode.tolist() == [MODE_HOME, MODE_UNPLACED]
    assert "add teams" in plan.reason[1]
    # The bound charges the smallest household that must stay out; the plan left the 5-person one out.
    assert plan.summary["lower_bound"] < plan.summary["objective"]


def test_night_slots_are_used_only_when_the_day_is_full():
    """With day room no one is called at night; with too little day room the night takes the rest."""
    reg = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(40)], [site("S1", 0, 0, rate=8.0)])
    roomy = make_plan(scenario(), reg.__class__(reg.households, reg.buildings, (site("S1", 0, 0, rate=80.0),)))
    assert roomy.summary["window"]["night_slots_used"] == 0
    tight = make_plan(scenario(), reg)  # 80 people at 4 per slot fit in the 32 day slots
    assert tight.summary["window"]["night_slots_used"] == 0
    tiny = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(70)], [site("S1", 0, 0, rate=8.0)])
    night = make_plan(scenario(), tiny)  # 140 people > 32 day slots × 4
    assert night.summary["window"]["night_slots_used"] > 0
    assert night.summary["violations"] == 0
    night_slots = np.flatnonzero(night.grid.night)
    assert np.isin(night.slot, night_slots).sum() == night.summary["window"]["night_slots_used"]


def test_preferred_period_is_honoured_when_there_is_room():
    """Households preferring the evening are called in the evening."""
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2), ("h2", "A", 2)], [site("S1", 0, 0)],
                   preferred={"h2": 3})
    plan = make_plan(scenario(), reg)
    assert plan.grid.period[plan.slot[1]] == 3
    # h1 (no preference) goes with its building's evening call: 2 people × 24 slots × 0.1 of lateness
    # cost 4.8, less than the 5 a second call of the building would cost in cohesion.
    assert plan.slot[0] == plan.slot[1] == 24
    assert plan.summary["objective_parts"]["cohesion"] == 0
    # When the wait costs more (2 × 24 × 0.5 = 24 > 5), h1 is called first thing on its own.
    late = make_plan(scenario(lateness_per_slot=0.5), reg)
    assert late.grid.period[late.slot[1]] == 3 and late.slot[0] == 0


def test_far_building_is_assigned_but_flagged_over_max_walk():
    """A building 2 km from the only site still gets a slot, flagged as over the 15-minute walk."""
    reg = registry([("A", 2000, 0, P, "c")], [("h1", "A", 2)], [site("S1", 0, 0)])
    plan = make_plan(scenario(), reg)
    assert plan.mode[0] == MODE_SITE
    assert plan.summary["over_max_walk_households"] == 1
    assert plan_frames(plan)["assignments"]["over_max_walk"].tolist() == [1]


@pytest.mark.parametrize("limit", [0, 1000])
def test_repair_paths_never_overfill(limit: int):
    """Greedy (limit 0) and CP-SAT repair both keep every site-slot within capacity."""
    reg = random_city(7, 80, 3)
    plan = make_plan(scenario(repair_limit=limit), reg)
    assert plan.summary["violations"] == 0
    assert (plan.load() <= plan.grid.capacity).all()


def test_same_inputs_give_byte_identical_files(tmp_path: Path):
    """Two runs write identical files; plan.json differs only in its timing block."""
    reg = random_city(3, 40, 4, sealed_share=0.1)
    for name in ("a", "b"):
        write_plan(make_plan(scenario(), reg), tmp_path / name)
    for f in sorted((tmp_path / "a").iterdir()):
        other = tmp_path / "b" / f.name
        if f.name == "plan.json":
            import json

            a, b = json.loads(f.read_text()), json.loads(other.read_text())
            a.pop("timing"), b.pop("timing")
            assert a == b
        elif f.name == ".sampler-output.json":  # lists plan.json's size, which follows its timing block
            import json

            a, b = json.loads(f.read_text()), json.loads(other.read_text())
            a["files"].pop("plan.json"), b["files"].pop("plan.json")
            assert a == b
        else:
            assert f.read_bytes() == other.read_bytes(), f.name


def test_plan_directory_tables_agree_with_each_other(tmp_path: Path):
    """assignments, unplaced, site_load and buildings tell the same story."""
    reg = random_city(5, 50, 3, sealed_share=0.2)
    plan = make_plan(scenario(), reg)
    write_plan(plan, tmp_path / "p")
    a = pd.read_csv(tmp_path / "p" / "assignments.csv", dtype={"site_id": str}, keep_default_na=False)
    u = pd.read_csv(tmp_path / "p" / "unplaced.csv")
    load = pd.read_csv(tmp_path / "p" / "site_load.csv")
    b = pd.read_csv(tmp_path / "p" / "buildings.csv")
    assert len(a) + len(u) == len(reg.households)
    assert a["household_id"].is_unique
    assert (load["people"] <= load["capacity"]).all()
    assert load["people"].sum() == a.loc[a["mode"] == "site", "size"].sum()
    assert b["people"].sum() == a["size"].sum()
    assert set(a.loc[a["mode"] == "home", "household_id"]) == set(
        pd.read_csv(tmp_path / "p" / "home_visits.csv")["household_id"]
    )


def test_workbook_has_a_sheet_per_site(tmp_path: Path):
    """plan.xlsx opens in openpyxl with a summary sheet and one schedule sheet per site."""
    import openpyxl

    reg = random_city(2, 30, 4, sealed_share=0.2)
    plan = make_plan(scenario(), reg)
    write_plan(plan, tmp_path / "p")
    wb = openpyxl.load_workbook(tmp_path / "p" / "plan.xlsx", read_only=True)
    assert len(wb.sheetnames) in (1 + 4, 1 + 4 + 1)
    rows = list(wb[wb.sheetnames[1]].iter_rows(values_only=True))
    assert rows[1][:2] == ("首个时段", "采样时段")
    people = sum(r[7] for name in wb.sheetnames[1:5] for r in list(wb[name].iter_rows(values_only=True))[2:])
    assert people == plan.summary["site_people"]


def test_planner_beats_or_matches_the_greedy_baseline():
    """On random cities the optimised plan never costs more than nearest-site/first-free-slot."""
    from sampler.plan.baselines import greedy_plan

    for seed in range(5):
        reg = random_city(seed, 60, 4)
        ours, greedy = make_plan(scenario(), reg), greedy_plan(scenario(), reg)
        assert greedy.summary["violations"] == 0
        assert ours.summary["objective"] <= greedy.summary["objective"]


def test_household_flow_baseline_has_the_same_bound():
    """Grouping households by building does not change the LP bound: it is the same relaxation."""
    from sampler.plan.baselines import household_flow_plan

    reg = random_city(11, 40, 3)
    ours = make_plan(scenario(), reg)
    base, split = household_flow_plan(scenario(), reg)
    assert base.summary["lower_bound"] == pytest.approx(ours.summary["lower_bound"])
    assert split >= 0 and base.summary["violations"] == 0


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_workbook_written_by_a_forked_process_is_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Big plans build plan.xlsx in a forked process: same bytes as in-process; if the copy fails,
    the workbook is written in-process after all."""
    import os

    from sampler.planfiles import write as output

    plan = make_plan(scenario(), random_city(3, 40, 4, sealed_share=0.1))
    output.write_plan(plan, tmp_path / "here", workbook_process=False)
    output.write_plan(plan, tmp_path / "forked", workbook_process=True)

    def failing_copy(plan: object, path: Path) -> int:
        pid = os.fork()
        if pid == 0:
            os._exit(3)
        return pid

    monkeypatch.setattr(output, "_fork_workbook", failing_copy)
    output.write_plan(plan, tmp_path / "fallback", workbook_process=True)
    for name in ("forked", "fallback"):
        for f in sorted((tmp_path / "here").iterdir()):
            assert f.read_bytes() == (tmp_path / name / f.name).read_bytes(), (name, f.name)



def test_a_building_of_two_slots_is_called_in_two_slots_not_three():
    """Slots of 10 people; buildings A (15 people), B (20: two slots' worth) and C (120: twelve) in
    that queue order. Calling A first starts B mid-slot (A 10 | A 5 + B 5 | B 10 | B 5 + C 5 | …):
    B and C each in one call more than their people need, and holding the 5 places back would delay
    all of C. B first fills slots 0–1 exactly, C 2–13, A 14–15: the same people per slot (the same
    time of day), every building in its fewest calls."""
    reg = registry([("A", 0, 0, P, "c"), ("B", 0, 0, P, "c"), ("C", 0, 0, P, "c")],
                   [(f"a{i}", "A", 1) for i in range(15)] + [(f"b{i}", "B", 1) for i in range(20)]
                   + [(f"c{i}", "C", 1) for i in range(120)],
                   [site("S1", 0, 0)])
    plan = make_plan(scenario(), reg)
    assert plan.summary["violations"] == 0 and plan.summary["unplaced_households"] == 0
    assert plan.load()[0, :17].tolist() == [10] * 15 + [5, 0]
    b = reg.households.building
    assert sorted(set(plan.slot[b == 1].tolist())) == [0, 1]
    assert sorted(set(plan.slot[b == 2].tolist())) == list(range(2, 14))
    assert sorted(set(plan.slot[b == 0].tolist())) == [14, 15]
    assert plan.summary["objective_parts"]["cohesion"] == 0
    # Lateness 0.1 per person-slot: 10 people in each of slots 0–14 and 5 in slot 15.
    assert plan.summary["objective_parts"]["time_of_day"] == pytest.approx(0.1 * (10 * sum(range(15)) + 5 * 15))
    assert plan.objective() == pytest.approx(plan.summary["lower_bound"])
