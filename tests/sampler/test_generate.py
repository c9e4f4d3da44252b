"""Synthetic city generator: determinism, census-like households, site coverage, zones, capacity, files, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from api.cli import app
from sampler.params import load_scenario
from sampler.plan.planner import make_plan
from sampler.registry.generate import (
    BUILDING_COLUMNS,
    HOUSEHOLD_COLUMNS,
    SITE_COLUMNS,
    City,
    daytime_capacity,
    generate_city,
    write_city,
)
from sampler.registry.read import load_registry

FILES = ("households.csv", "buildings.csv", "sites.csv", "scenario.yaml")
M_PER_DEG_LAT = 111_195.0


@pytest.fixture(scope="module")
def city() -> City:
    """A 20,000-household city shared by the statistical tests."""
    return generate_city(20_000, seed=11)


def _metres(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.column_stack([lon * M_PER_DEG_LAT * np.cos(np.radians(27.03)), lat * M_PER_DEG_LAT])


def test_same_seed_gives_byte_identical_files(tmp_path: Path):
    """Two runs with one seed write the same bytes; another seed writes different households."""
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_city(generate_city(3_000, seed=seed), tmp_path / name)
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert (tmp_path / "a" / "households.csv").read_bytes() != (tmp_path / "c" / "households.csv").read_bytes()


@pytest.mark.parametrize("n", [1, 7, 999, 4_321])
def test_exact_household_count_and_unique_ids(n: int):
    """The city has exactly the requested households, unique ids, and every building is used."""
    c = generate_city(n, seed=n)
    hh, b = c.households, c.buildings
    assert len(hh) == n
    assert hh["household_id"].is_unique and b["building_id"].is_unique and c.sites["site_id"].is_unique
    assert set(hh["building_id"]) == set(b["building_id"])
    rooms = hh["building_id"] + "/" + hh["unit"].fillna("") + "/" + hh["room"]
    assert rooms.is_unique


def test_households_look_like_the_census(city: City):
    """Mean size ≈ 2.6, 15–23 % aged 60+, some children, consistent special needs, valid phones."""
    hh = city.households
    assert 2.4 <= hh["size"].mean() <= 2.8
    assert 0.15 <= hh["elderly"].sum() / hh["size"].sum() <= 0.23
    assert 0.02 <= hh["children"].sum() / hh["size"].sum() <= 0.10
    assert (hh["elderly"] + hh["children"] <= hh["size"]).all()
    needs = hh["needs"].fillna("")
    alone = needs.str.contains("elderly_alone")
    assert alone.sum() > 0 and (hh.loc[alone, "size"] == 1).all() and (hh.loc[alone, "elderly"] == 1).all()
    for need in ("disabled", "bedridden", "pregnant", "infant"):
        assert needs.str.contains(need).any(), need
    assert (hh.loc[needs.str.contains("infant"), "children"] > 0).all()
    phone = hh["phone"].dropna()
    assert phone.str.fullmatch(r"1[3-9]\d{9}").all()
    assert 0.002 <= hh["phone"].isna().mean() <= 0.03
    assert 0.01 <= hh["preferred"].notna().mean() <= 0.06
    assert set(hh["preferred"].dropna()) == {"morning", "afternoon", "evening"}
    floors = hh["room"].astype(int) // 100
    assert floors.min() >= 1 and floors.max() <= 30


def test_buildings_are_within_a_walk_of_a_public_site(city: City):
    """At least 98 % of buildings lie within 750 m (15 min at 65 m/min, detour 1.3) of a public site."""
    b, s = city.buildings, city.sites
    public = s[s["serves"].isna()]
    dist, _ = cKDTree(_metres(public["lon"].to_numpy(), public["lat"].to_numpy())).query(
        _metres(b["lon"].to_numpy(), b["lat"].to_numpy()))
    assert (dist <= 750).mean() >= 0.98
    assert 2_000 <= city.people / len(public) <= 3_000
    assert (public["tables"] >= 2).all()
    assert 118.0 < b["lon"].mean() < 118.6 and 26.8 < b["lat"].mean() < 27.3


def test_sealed_and_controlled_compounds_with_exclusive_sites(city: City):
    """Sealed and controlled compounds exist; each exclusive site serves one controlled compound."""
    b, s = city.buildings, city.sites
    assert (b.groupby("compound")["risk_zone"].nunique() == 1).all()
    zones = b.groupby("compound")["risk_zone"].first()
    assert (zones == "sealed").sum() >= 1 and (zones == "controlled").sum() >= 1
    own = s[s["serves"].notna()]
    assert len(own) >= 1
    assert (zones.reindex(own["serves"]) == "controlled").all()
    assert len(own) <= (zones == "controlled").sum()


def test_capacity_and_home_visit_teams_fit_the_day(city: City):
    """Daytime capacity covers 1.3 × people and the teams visit every home household within 14 h."""
    assert daytime_capacity(city) >= 1.3 * city.people
    assert city.teams * 6 * 14 >= city.home_households > 0


def test_written_files_have_documented_headers_and_load(tmp_path: Path):
    """The files carry the English headers of docs/formats.md and load_registry accepts them as is."""
    c = generate_city(5_000, seed=2)
    write_city(c, tmp_path)
    for name, cols in (("households", HOUSEHOLD_COLUMNS), ("buildings", BUILDING_COLUMNS), ("sites", SITE_COLUMNS)):
        frame = pd.read_csv(tmp_path / f"{name}.csv", dtype=str, keep_default_na=False)
        assert tuple(frame.columns) == cols
        assert len(frame) == len(getattr(c, name))
    reg = load_registry(load_scenario(tmp_path / "scenario.yaml"))
    assert len(reg.households) == 5_000 and reg.people == c.people
    assert len(reg.sites) == len(c.sites)


def test_generated_city_plans_with_nobody_unplaced(tmp_path: Path):
    """A generated 10,000-household scenario is plannable: no one unplaced, no walk over 15 minutes."""
    write_city(generate_city(10_000, seed=0), tmp_path)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    plan = make_plan(scenario, load_registry(scenario))
    assert plan.summary["unplaced_households"] == 0
    assert plan.summary["over_max_walk_households"] == 0
    assert plan.summary["home_households"] > 0


def test_sites_option_sets_the_public_site_count():
    """--sites fixes the number of public sites."""
    c = generate_city(5_000, sites=3, seed=1)
    assert c.sites["serves"].isna().sum() == 3


def test_cli_generate_writes_the_files(tmp_path: Path):
    """`sampler generate --households 2000 -o DIR` exits 0, writes four files and prints a summary."""
    result = CliRunner().invoke(app, ["generate", "--households", "2000", "--seed", "1", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert all((tmp_path / "out" / f).is_file() for f in FILES)
    assert "households" in result.output and "2,000" in result.output


@pytest.mark.parametrize("seed", range(4))
def test_ten_thousand_households_have_every_zone(seed: int):
    """From 10,000 households on, every seed gives a sealed compound and a controlled one with its own site."""
    c = generate_city(10_000, seed=seed)
    zones = set(c.buildings["risk_zone"])
    assert zones == {"precaution", "controlled", "sealed"}
    assert c.sites["serves"].notna().sum() >= 1
