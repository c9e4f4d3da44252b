"""End to end with the real planner: plan a small random city, write it, read it back, simulate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sampler.params import Scenario
from sampler.planfiles.read import read_plan
from sampler.planfiles.write import write_plan
from sim.inputs import prepare
from sim.params import SimParams
from sim.records import WALK_IN
from sim.replicate import replicate

planner = pytest.importorskip("sampler.plan.planner")
cities = pytest.importorskip("tests.sampler.cities")


def test_planned_city_is_simulated_household_by_household(tmp_path: Path) -> None:
    """Every household of a planner-made plan shows up once in the records; the summary is complete."""
    registry = cities.random_city(seed=4, n_buildings=40, n_sites=4, sealed_share=0.1)
    scenario = Scenario()
    plan = planner.make_plan(scenario, registry)
    write_plan(plan, tmp_path / "plan", xlsx=False)
    files = read_plan(tmp_path / "plan")
    inputs = prepare(scenario, registry, files)
    result = replicate(inputs, SimParams(), seed=2, replications=3)
    rec = result.records
    ids = rec.ids[rec.status != WALK_IN]
    assert sorted(ids.tolist()) == sorted(registry.households.id.tolist())
    assert len(np.unique(ids)) == len(ids)
    summary = result.summary()
    assert summary["replications"] == 3 and summary["plan_sha256"] == inputs.plan_sha256
    assert 0 < summary["figures"]["sampled_by_window_end"]["mean"] <= 1
    assert "replications (everyone swabbed in the window or closed by a follow-up" in result.verdict()


@pytest.mark.parametrize(("seed", "window_hours", "teams", "start"), [
    (4, 24.0, 4, "2022-04-02 06:00"),   # home visits (sealed buildings), everyone placed
    (7, 3.0, 1, "2022-04-02 22:30"),    # a short night window: unplaced households, sites closed at start
    (9, 30.0, 2, "2022-04-02 13:15"),   # a window past midnight
])
def test_plan_in_memory_joins_like_its_directory(tmp_path: Path, seed: int, window_hours: float, teams: int,
                                                 start: str) -> None:
    """`from_plan` (arrays) gives exactly the SimInputs `prepare` reads from the plan's files."""
    import dataclasses

    from sim.inputs import from_plan

    registry = cities.random_city(seed=seed, n_buildings=60, n_sites=4, sealed_share=0.2)
    hours = [(0, 1440), (420, 1260), (1200, 360), (0, 0)]  # all day, 07–21, 20–06 past midnight, all day
    registry = dataclasses.replace(registry, sites=tuple(
        dataclasses.replace(s, open_minute=o, close_minute=c) for s, (o, c) in zip(registry.sites, hours, strict=True)))
    scenario = Scenario()
    scenario = scenario.replace(
        window=dataclasses.replace(scenario.window, start=start, hours=window_hours),
        home_visits=dataclasses.replace(scenario.home_visits, teams=teams))
    plan = planner.make_plan(scenario, registry)
    write_plan(plan, tmp_path / "plan", xlsx=False)
    read = prepare(scenario, registry, read_plan(tmp_path / "plan"), SimParams(registrars_per_table=0.5))
    typed = from_plan(plan, SimParams(registrars_per_table=0.5))
    assert len(typed.unplaced_ids) + len(typed.home_ids) + len(typed.ids) == len(registry.households)
    assert len(typed.home_ids) and (seed != 7 or len(typed.unplaced_ids))
    assert read.plan_sha256 and typed.plan_sha256 == ""
    for f in dataclasses.fields(read):
        a, b = getattr(read, f.name), getattr(typed, f.name)
        if f.name == "plan_sha256":
            continue
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tolist() == b.tolist(), f.name
        else:
            assert a == b, f.name
