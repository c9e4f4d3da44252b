"""Generated scenarios size their labs for the population, so results arrive inside the window; a
Xi'an-shaped city (proxy size) is feasible with Xi'an's tables per person and infeasible with half."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from sampler.params import load_scenario
from sampler.plan.planner import make_plan
from sampler.planfiles.read import read_plan
from sampler.planfiles.write import write_plan
from sampler.registry.generate import (
    XIAN_PEOPLE,
    XIAN_TUBES_PER_DAY,
    City,
    _sim_section,
    generate_city,
    lab_tubes_per_hour,
    write_city,
)
from sampler.registry.read import load_registry
from sim.params import sim_params
from sim.replicate import simulate

# Xi'an, December 2021: 12.3 M people, 5,219 public sites, 11,669 tables.
XIAN_PEOPLE_PER_SITE = 12_300_000 / 5_219  # ≈ 2,357
XIAN_PEOPLE_PER_TABLE = 12_300_000 / 11_669  # ≈ 1,054
HOUSEHOLDS = 20_000


def test_lab_capacity_scales_like_xian_with_the_default_as_a_floor():
    assert lab_tubes_per_hour(XIAN_PEOPLE) == 66_700  # 1.6 M / 24 h = 66,667 → hundreds up
    assert lab_tubes_per_hour(1_000_000) == 5_500
    assert lab_tubes_per_hour(50_000) == 3_000  # one city lab, the simulator's default
    assert _sim_section(cast(City, type("C", (), {"people": 12_300_000}))).endswith("sim: {lab_tubes_per_hour: 66700}")
    assert _sim_section(cast(City, type("C", (), {"people": 50_000}))) == "sim: {}"


def _plan_and_simulate(tmp_path: Path, people_per_table: float, lab: float | None) -> tuple[dict, dict]:
    """A generated 20,000-household city (≈ 52,000 people, 23 sites) shaped like Xi'an: people per site
    and per table (the generator keeps at least two tables a public site, so "half" is ~46 of 63)."""
    city = generate_city(HOUSEHOLDS, sites=max(1, round(HOUSEHOLDS * 2.62 / XIAN_PEOPLE_PER_SITE)), seed=4,
                         people_per_table=(people_per_table, people_per_table))
    write_city(city, tmp_path)
    sc = load_scenario(tmp_path / "scenario.yaml")
    reg = load_registry(sc)
    plan = make_plan(sc, reg)
    write_plan(plan, tmp_path / "plan", xlsx=False)
    if plan.summary["unplaced_households"]:
        return plan.summary, {}
    params = sim_params(sc, None if lab is None else {"lab_tubes_per_hour": lab})
    result = simulate(sc, reg, read_plan(tmp_path / "plan"), params, seed=1, replications=2)
    return plan.summary, result.summary()["figures"]


@pytest.mark.parametrize("per_capita_lab", [False, True])
def test_xian_shaped_city_with_xian_tables_gets_its_results_inside_the_window(tmp_path: Path, per_capita_lab: bool):
    """With the generated scenario's lab (the default floor at this size) and with Xi'an's lab rate per
    person exactly (no floor: what a 12.3 M city gets), results arrive for nearly everyone by the window end."""
    people = HOUSEHOLDS * 2.62
    lab = people * XIAN_TUBES_PER_DAY / XIAN_PEOPLE / 24 if per_capita_lab else None  # ≈ 283 tubes/h
    summary, figures = _plan_and_simulate(tmp_path, XIAN_PEOPLE_PER_TABLE, lab)
    assert summary["unplaced_households"] == 0
    assert figures["results_by_window_end"]["mean"] >= 0.9


def test_xian_shaped_city_with_half_its_tables_is_infeasible(tmp_path: Path):
    """Half of Xi'an's tables per person: ~2,108 people a table against 80 × 0.85 × 24 ≈ 1,632 a day."""
    summary, _ = _plan_and_simulate(tmp_path, 2 * XIAN_PEOPLE_PER_TABLE, None)
    assert summary["unplaced_households"] > 0
    assert summary["shortfall"]["tables"] > 0
    assert summary["shortfall"]["sites"][0]["slot_start"] == "2022-11-23 06:00"
