"""End to end with the real planner: plan a small random city, write it, read it back, simulate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sampler.params import Scenario
from sampler.planfiles.read import read_plan
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
    plan.write(tmp_path / "plan", xlsx=False)
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
    assert "replications; longest wait p95" in result.verdict()
