"""Joining a plan directory with its registry, and refusing plans of another registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sampler.errors import InputError
from sampler.params import Scenario, scenario_from_mapping
from sampler.planfiles.read import read_plan
from sim.inputs import prepare
from sim.params import SimParams, sim_params
from tests.sim.builders import registry, write_plan_dir


def test_prepare_reads_times_sites_and_zones(tmp_path: Path) -> None:
    """Slots become minutes from the window start; opening hours and zones come along."""
    plan = read_plan(write_plan_dir(tmp_path / "plan"))
    inp = prepare(Scenario(), registry(), plan)
    assert inp.ids.tolist() == ["H1", "H2", "H3"]
    assert inp.slot_start.tolist() == [0.0, 0.0, 60.0]
    assert inp.slot_end.tolist() == [30.0, 30.0, 90.0]
    assert inp.site.tolist() == [0, 0, 1]
    assert inp.zone.tolist() == [0, 0, 1]
    assert inp.open_at.tolist() == [0.0, 60.0] and inp.close_at.tolist() == [960.0, 840.0]
    assert inp.home_ids.tolist() == ["H4"] and inp.home_team.tolist() == [0] and inp.home_zone.tolist() == [2]
    assert inp.unplaced_ids.tolist() == ["H5"]
    assert inp.people == 12
    assert len(inp.plan_sha256) == 64


def test_plan_of_another_registry_is_refused(tmp_path: Path) -> None:
    """A plan whose input hashes differ from the registry's names plan.json and the field."""
    plan = read_plan(write_plan_dir(tmp_path / "plan", {"households": "zz", "buildings": "bb", "sites": "cc"}))
    with pytest.raises(InputError) as exc:
        prepare(Scenario(), registry(), plan)
    issue = exc.value.issues[0]
    assert issue.file.endswith("plan.json") and issue.field == "inputs.households"


def test_unknown_household_is_refused(tmp_path: Path) -> None:
    """A plan row naming a household the registry lacks is reported with its row."""
    directory = write_plan_dir(tmp_path / "plan")
    path = directory / "assignments.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("H3,2345ABCF,B2", "H9,2345ABCF,B2"), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        prepare(Scenario(), registry(), read_plan(directory))
    issue = exc.value.issues[0]
    assert (issue.field, issue.row, issue.value) == ("household_id", 3, "H9")


def test_sim_section_defaults_and_errors() -> None:
    """An empty sim section gives the defaults; unknown keys and bad values are input errors."""
    assert sim_params(scenario_from_mapping({"sim": {}})) == SimParams()
    assert sim_params(scenario_from_mapping({"sim": {"no_show": 0.1}})).no_show == 0.1
    with pytest.raises(InputError) as exc:
        sim_params(scenario_from_mapping({"sim": {"no_shows": 0.1}}))
    assert exc.value.issues[0].field == "sim.no_shows"
    with pytest.raises(InputError) as exc:
        sim_params(scenario_from_mapping({"sim": {"no_show": 1.5, "shift_hours": 20}}))
    assert {i.field for i in exc.value.issues} == {"sim.no_show", "sim.shift_hours"}


def test_pooling_comes_from_the_scenario(tmp_path: Path) -> None:
    """Pool sizes per zone are the scenario's pooling section, in zone-code order."""
    sc = scenario_from_mapping({"pooling": {"precaution": 8, "controlled": 3, "sealed": 1}})
    inp = prepare(sc, registry(), read_plan(write_plan_dir(tmp_path / "plan")))
    assert inp.pooling == (8, 3, 1)
    assert np.array_equal(inp.size, [3, 2, 1])
