"""Rounds (`sampler.plan.replan.plan_round`, `sampler plan --previous`): a round with nothing
changed keeps every household; one compound sealed moves exactly that compound's households to
home visits; a lifted compound goes back to sites; a closed site moves only its households."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from sampler.model import Registry, RiskZone
from sampler.params import CapacityParams, HomeVisitParams, Scenario, WindowParams
from sampler.plan.planner import MODE_HOME, MODE_SITE, Plan, make_plan
from sampler.plan.replan import plan_round
from sampler.planfiles.read import PlanFiles, read_plan
from sampler.planfiles.write import write_plan
from tests.sampler.cities import random_city
from tests.sampler.registry_files import BUILDINGS, write_city

runner = CliRunner()


def scenario() -> Scenario:
    return Scenario(capacity=CapacityParams(utilisation=1.0), window=WindowParams(hours=6.0, slot_minutes=30),
                    home_visits=HomeVisitParams(teams=8))


def planned(sc: Scenario, reg: Registry, root: Path) -> tuple[Plan, PlanFiles]:
    plan = make_plan(sc, reg)
    write_plan(plan, root / "plan", xlsx=False)
    return plan, read_plan(root / "plan")


def with_zone(reg: Registry, compound: str, zone: RiskZone) -> Registry:
    b = reg.buildings
    z = np.where(b.compound == compound, int(zone), b.zone).astype(np.int64)
    return replace(reg, buildings=replace(b, zone=z))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_round_with_nothing_changed_keeps_every_household(tmp_path: Path, seed: int) -> None:
    sc, reg = scenario(), random_city(seed, 12, 3, sealed_share=0.2)
    plan, files = planned(sc, reg, tmp_path)
    assert plan.summary["unplaced_households"] == 0
    new = plan_round(sc, reg, files)
    assert new.summary["stability"] == 1.0
    assert (new.change == "kept").all()
    for name in ("mode", "site", "slot", "team"):
        assert np.array_equal(getattr(new, name), getattr(plan, name)), name
    r = new.summary["round"]
    assert r["kept"] == len(reg.households) and r["moved"] == r["home"] == r["new"] == 0
    assert r["parent"]["directory"] == str(tmp_path / "plan")


def test_the_next_day_keeps_the_same_clock_slots(tmp_path: Path) -> None:
    """Round 2 is tomorrow: slots match by their index from the window start (06:00 → 06:00)."""
    sc, reg = scenario(), random_city(9, 10, 3)
    plan, files = planned(sc, reg, tmp_path)
    tomorrow = sc.replace(window=replace(sc.window, start="2022-11-24 06:00"))
    new = plan_round(tomorrow, reg, files)
    assert new.summary["stability"] == 1.0 and np.array_equal(new.slot, plan.slot)
    assert new.grid.labels()[0] == "2022-11-24 06:00"
    assert new.summary["round"]["parent"]["window_start"] == "2022-11-23 06:00"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_one_compound_sealed_moves_only_that_compounds_households(tmp_path: Path, seed: int) -> None:
    sc, reg = scenario(), random_city(seed, 12, 3)
    plan, files = planned(sc, reg, tmp_path)
    assert (plan.mode == MODE_SITE).all()
    sealed = with_zone(reg, "C2", RiskZone.SEALED)
    new = plan_round(sc, sealed, files)
    inside = sealed.buildings.compound[sealed.households.building] == "C2"
    assert inside.any()
    assert (new.change[inside] == "home").all() and (new.mode[inside] == MODE_HOME).all()
    assert (new.change[~inside] == "kept").all()
    assert np.array_equal(new.site[~inside], plan.site[~inside])
    assert np.array_equal(new.slot[~inside], plan.slot[~inside])
    assert new.summary["stability"] == pytest.approx(float((~inside).mean()), abs=1e-6)
    assert new.summary["violations"] == 0


def test_a_lifted_compound_goes_back_to_sites(tmp_path: Path) -> None:
    sc = scenario()
    reg = with_zone(random_city(5, 12, 3), "C1", RiskZone.SEALED)
    plan, files = planned(sc, reg, tmp_path)
    inside = reg.buildings.compound[reg.households.building] == "C1"
    assert (plan.mode[inside] == MODE_HOME).all()
    lifted = with_zone(reg, "C1", RiskZone.PRECAUTION)
    new = plan_round(sc, lifted, files)
    assert (new.mode[inside] == MODE_SITE).all() and (new.change[inside] == "moved").all()
    assert (new.change[~inside] == "kept").all()
    assert new.summary["violations"] == 0


def test_a_closed_site_moves_only_its_households_and_a_new_household_is_new(tmp_path: Path) -> None:
    sc, reg = scenario(), random_city(7, 12, 3)
    plan, files = planned(sc, reg, tmp_path)
    gone = reg.sites[0].id
    at_gone = plan.site == 0
    assert at_gone.any()
    fewer = replace(reg, sites=reg.sites[1:])
    new = plan_round(sc, fewer, files)
    assert not (new.change[at_gone] == "kept").any()
    assert (new.change[~at_gone] == "kept").all()
    assert gone not in [s.id for s in new.registry.sites]
    assert new.summary["violations"] == 0


def test_cli_plan_previous_records_stability_and_parent(tmp_path: Path) -> None:
    first = write_city(tmp_path / "r1")
    out1, out2 = tmp_path / "p1", tmp_path / "p2"
    assert runner.invoke(app, ["plan", str(first), "-o", str(out1), "--no-xlsx"]).exit_code == 0
    result = runner.invoke(app, ["plan", str(first), "--previous", str(out1), "-o", str(out2), "--no-xlsx"])
    assert result.exit_code == 0, result.output
    s = json.loads((out2 / "plan.json").read_text(encoding="utf-8"))
    assert s["stability"] == 1.0 and s["round"]["parent"]["directory"] == str(out1)
    assert "stability" in result.output
    # Round 2 with 幸福小区 (B1, B2) sealed: its households become home visits, H4 (东风村) keeps its slot.
    buildings = [list(r) for r in BUILDINGS]
    buildings[1][6] = buildings[2][6] = "封控区"
    second = write_city(tmp_path / "r2", buildings=buildings)
    out3 = tmp_path / "p3"
    result = runner.invoke(app, ["plan", str(second), "--previous", str(out1), "-o", str(out3), "--no-xlsx"])
    assert result.exit_code == 0, result.output
    a = read_plan(out3).assignments.set_index("household_id")
    assert a.loc[["H1", "H2", "H3"], "mode"].tolist() == ["home"] * 3
    assert a.loc[["H1", "H2", "H3"], "change"].tolist() == ["home"] * 3
    assert a.loc["H4", "change"] == "kept"
    s3 = json.loads((out3 / "plan.json").read_text(encoding="utf-8"))
    assert s3["stability"] == 0.25 and s3["round"]["home"] == 3


def test_cli_plan_previous_refuses_parts_and_a_missing_directory(tmp_path: Path) -> None:
    first = write_city(tmp_path / "r1")
    out = tmp_path / "p"
    result = runner.invoke(app, ["plan", str(first), "--previous", str(tmp_path / "nope"), "-o", str(out)])
    assert result.exit_code == 2 and "--previous" in result.output and not out.exists()
    result = runner.invoke(app, ["plan", str(first), "--previous", str(tmp_path), "--parts", "2", "-o", str(out)])
    assert result.exit_code == 2 and "--parts" in result.output and not out.exists()
