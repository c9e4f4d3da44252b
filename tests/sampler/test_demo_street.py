"""Demo street 芝山街道: encodings and headers as offices save them, reproducible build, clean load and plan."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from sampler.model import Registry, RiskZone
from sampler.params import Scenario, load_scenario
from sampler.plan.planner import make_plan
from sampler.registry.headers import canonical_name
from sampler.registry.read import load_registry

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo_street"
PLAN_SITES = ("芝山街道社区卫生服务中心", "二中", "芝城医院", "实验幼儿园", "芝山小学", "第一中学初中部",
              "西大村村部", "豪栋村村部", "马汶组活动中心")


def _make_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loaded() -> tuple[Scenario, Registry]:
    """The demo scenario and its registry, read once."""
    scenario = load_scenario(DEMO / "scenario.yaml")
    return scenario, load_registry(scenario)


def test_files_are_saved_as_chinese_offices_save_them():
    """households.csv is GB18030 (not UTF-8), the others UTF-8 with BOM; all headers are Chinese aliases."""
    raw = (DEMO / "households.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    header = raw.decode("gb18030").splitlines()[0].split(",")
    assert header[0] == "户编号"
    assert [canonical_name("households", h) for h in header] == [
        "household_id", "building_id", "unit", "room", "size", "elderly", "children", "contact", "phone",
        "needs", "preferred"]
    for name, kind in (("buildings.csv", "buildings"), ("sites.csv", "sites")):
        raw = (DEMO / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        header = raw.decode("utf-8-sig").splitlines()[0].split(",")
        assert all(canonical_name(kind, h) is not None for h in header)
        assert not any(h.isascii() for h in header)
    assert sum(f.stat().st_size for f in DEMO.iterdir()) < 2_000_000


def test_make_demo_rebuilds_the_committed_files_byte_for_byte(tmp_path: Path):
    """Running make_demo.py again writes exactly the committed files (fixed seed)."""
    _make_demo().main(tmp_path)
    for name in ("households.csv", "buildings.csv", "sites.csv", "scenario.yaml"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_demo_registry_has_the_plans_sites_and_zones(loaded: tuple[Scenario, Registry]):
    """Nine named public sites, a tenth serving only the controlled compound, one sealed compound."""
    scenario, reg = loaded
    assert scenario.area == "芝山街道"
    assert 10_000 <= len(reg.households) <= 12_000 and 26_000 <= reg.people <= 32_000
    public = [s for s in reg.sites if not s.serves]
    assert len(public) == 9
    for expected, site in zip(PLAN_SITES, public, strict=True):
        assert site.name.startswith(expected)
    (own,) = [s for s in reg.sites if s.serves]
    b = reg.buildings
    controlled = set(b.compound[b.zone == RiskZone.CONTROLLED].tolist())
    sealed = set(b.compound[b.zone == RiskZone.SEALED].tolist())
    assert controlled == set(own.serves) and len(controlled) == 1 and len(sealed) == 1
    assert len(set(b.grid.tolist())) >= 18


def test_demo_plans_cleanly_inside_the_day(loaded: tuple[Scenario, Registry]):
    """Everyone is placed, nobody walks over 15 minutes, no night slots, and sites are busy."""
    scenario, reg = loaded
    plan = make_plan(scenario, reg)
    s = plan.summary
    assert s["unplaced_households"] == 0
    assert s["over_max_walk_households"] == 0
    assert s["violations"] == 0
    assert s["window"]["night_slots_used"] == 0
    assert s["home_households"] > 290  # the sealed compound plus the disabled and bedridden
    assert s["site_people"] / s["capacity_people"] > 0.4
    hours = s["home_households"] / (scenario.home_visits.teams * scenario.home_visits.visits_per_team_hour)
    assert hours <= 14
    assert np.isfinite(s["walk_minutes"]["max"]) and s["walk_minutes"]["max"] <= 15
