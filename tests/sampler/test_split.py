"""Planning a city in parts: invariants, balance, executor independence (local pool, Dask), bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from sampler.errors import InputError
from sampler.executors import DaskExecutor, ProcessExecutor, SerialExecutor
from sampler.model import Registry, RiskZone
from sampler.params import Scenario, load_scenario
from sampler.plan.planner import MODE_HOME, MODE_SITE, MODE_UNPLACED, Plan, make_plan
from sampler.plan.split import apportion_teams, bisect_buildings, partition, plan_in_parts
from sampler.planfiles.write import write_plan
from sampler.registry.generate import BUILDING_COLUMNS, generate_city, write_city
from sampler.registry.generate import write_csv as write_generated_csv
from sampler.registry.read import load_registry
from tests.sampler.cities import random_city

runner = CliRunner()
PLAN_FILES = ["assignments.csv", "site_load.csv", "buildings.csv", "home_visits.csv", "unplaced.csv", "sites.csv",
              "contacts.csv", "plan.json", "plan.xlsx"]


def city_dir(tmp: Path, households: int, seed: int, sites: int | None = None, district: bool = False) -> Path:
    """A generated city on disk (optionally with a 街道 column: east and west of the median longitude)."""
    city = generate_city(households, sites=sites, seed=seed)
    write_city(city, tmp)
    if district:
        b = city.buildings
        east = b["lon"].astype(float) > b["lon"].astype(float).median()
        frame = b[list(BUILDING_COLUMNS)].assign(district=np.where(east, "东城街道", "西城街道"))
        write_generated_csv(frame, tmp / "buildings.csv", headers=[*BUILDING_COLUMNS, "街道"])
    return tmp / "scenario.yaml"


def load(path: Path) -> tuple[Scenario, Registry]:
    sc = load_scenario(path)
    return sc, load_registry(sc)


def same_files(a: Path, b: Path) -> None:
    """Every file byte-identical; plan.json apart from its timing block."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) == sorted(
        [*PLAN_FILES, ".sampler-output.json"])
    ma, mb = (json.loads((d / ".sampler-output.json").read_text(encoding="utf-8")) for d in (a, b))
    ma["files"].pop("plan.json"), mb["files"].pop("plan.json")  # its size follows the timing block
    assert ma == mb
    for name in PLAN_FILES:
        if name == "plan.json":
            ja, jb = (json.loads((d / name).read_text(encoding="utf-8")) for d in (a, b))
            ja.pop("timing"), jb.pop("timing")
            assert ja == jb
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def check_invariants(sc: Scenario, reg: Registry, plan: Plan, out: Path) -> None:
    """The guarantees of an unsplit plan, checked on the arrays and on the written files."""
    hh, b = reg.households, reg.buildings
    write_plan(plan, out)
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    u = pd.read_csv(out / "unplaced.csv", dtype=str, keep_default_na=False)
    load = pd.read_csv(out / "site_load.csv")
    # every household exactly once, as one row (never split)
    assert sorted([*a["household_id"], *u["household_id"]]) == sorted(hh.id.tolist())
    assert a["household_id"].is_unique
    # no site-slot over capacity
    assert plan.summary["violations"] == 0
    assert (plan.load() <= plan.grid.capacity).all()
    assert (load["people"] <= load["capacity"]).all()
    # sealed at home; controlled only at a site serving its compound, or at home
    zone = b.zone[hh.building]
    assert not ((zone == RiskZone.SEALED) & (plan.mode == MODE_SITE)).any()
    controlled_at_site = np.flatnonzero((zone == RiskZone.CONTROLLED) & (plan.mode == MODE_SITE))
    for h in controlled_at_site:
        assert b.compound[hh.building[h]] in reg.sites[plan.site[h]].serves
    at = plan.mode == MODE_SITE
    assert (plan.site[at] >= 0).all() and (plan.slot[at] >= 0).all()
    assert (plan.site[plan.mode == MODE_UNPLACED] == -1).all()
    home = plan.mode == MODE_HOME
    assert (plan.team[home] >= 1).all() and (plan.team[home] <= sc.home_visits.teams).all()
    # score: the sums of the parts, a valid gap
    s = plan.summary
    parts = s["split"]["part_list"]
    assert s["objective"] == pytest.approx(sum(p["objective"] for p in parts), abs=1e-6)
    assert s["lower_bound"] == pytest.approx(sum(p["lower_bound"] for p in parts), abs=1e-6)
    assert s["lower_bound"] <= s["objective"] + 1e-9 and 0.0 <= s["gap"] <= 1.0
    assert sum(p["households"] for p in parts) == len(hh) and sum(p["sites"] for p in parts) == len(reg.sites)
    assert sum(p["home_teams"] for p in parts) == sc.home_visits.teams


@pytest.mark.parametrize(("households", "seed", "parts"), [(3000, 1, 2), (4000, 2, 3), (6000, 3, 5)])
def test_split_plan_keeps_every_invariant(tmp_path: Path, households: int, seed: int, parts: int):
    """Generated cities (sealed and controlled compounds, home visits) split by count."""
    sc, reg = load(city_dir(tmp_path / "city", households, seed))
    part = partition(sc, reg, parts=parts)
    plan = plan_in_parts(sc, reg, part, SerialExecutor())
    check_invariants(sc, reg, plan, tmp_path / "plan")
    assert plan.summary["split"]["parts"] == parts
    # each building and each site in exactly one part; exclusive sites with their compounds
    assert part.building_part.shape == (len(reg.buildings),) and set(part.building_part.tolist()) == set(range(parts))
    for i, s in enumerate(reg.sites):
        if s.serves:
            members = np.isin(reg.buildings.compound, s.serves)
            assert (part.building_part[members] == part.site_part[i]).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(4, 30), n_sites=st.integers(4, 6),
       parts=st.integers(1, 4), sealed=st.sampled_from([0.0, 0.3]))
def test_invariants_hold_on_random_split_cities(seed, n_buildings, n_sites, parts, sealed, tmp_path_factory):
    """Random small cities, any number of parts: the same guarantees as an unsplit plan."""
    reg = random_city(seed, n_buildings, n_sites, sealed_share=sealed)
    sc = Scenario()
    plan = plan_in_parts(sc, reg, partition(sc, reg, parts=parts), SerialExecutor())
    check_invariants(sc, reg, plan, tmp_path_factory.mktemp("plan"))


def test_one_part_is_the_unsplit_plan(tmp_path: Path):
    """--parts 1 writes the same files as a plain plan; plan.json only adds the split block."""
    sc, reg = load(city_dir(tmp_path / "city", 3000, 4))
    write_plan(make_plan(sc, reg), tmp_path / "whole")
    write_plan(plan_in_parts(sc, reg, partition(sc, reg, parts=1), SerialExecutor()), tmp_path / "one")
    for name in PLAN_FILES:
        if name != "plan.json":
            assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    whole, one = (json.loads((tmp_path / d / "plan.json").read_text(encoding="utf-8")) for d in ("whole", "one"))
    assert one.pop("split")["walk_cost"]["households_nearest_site_in_other_part"] == 0
    whole.pop("timing"), one.pop("timing")
    assert one == whole


def test_parts_are_balanced_and_compact(tmp_path: Path):
    """Bisection parts hold about the same people, and are separated by straight cuts."""
    sc, reg = load(city_dir(tmp_path / "city", 20_000, 5))
    for n in (2, 3, 4, 7):
        part = partition(sc, reg, parts=n)
        people = np.bincount(part.building_part[reg.households.building], weights=reg.households.size, minlength=n)
        per_building = np.bincount(reg.households.building, weights=reg.households.size)
        # each cut misses its share by at most one building: a few buildings over ⌈log2 n⌉ levels
        assert np.abs(people - people.mean()).max() <= per_building.max() * np.ceil(np.log2(n)) + 1e-9
        assert people.max() / people.mean() < 1.1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 200), parts=st.integers(1, 9))
def test_bisection_gives_separable_parts(seed, n, parts):
    """Every point in exactly one part, every part non-empty, and each pair of parts split by an
    axis-parallel line (their bounding boxes do not overlap)."""
    parts = min(parts, n)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (n, 2)).round(0)  # rounding makes ties
    part = bisect_buildings(xy, rng.integers(0, 5, n).astype(float), parts)
    assert sorted(set(part.tolist())) == list(range(parts))
    boxes = [(xy[part == k].min(axis=0), xy[part == k].max(axis=0)) for k in range(parts)]
    for i in range(parts):
        for j in range(i + 1, parts):
            (lo_i, hi_i), (lo_j, hi_j) = boxes[i], boxes[j]
            assert (hi_i <= lo_j).any() or (hi_j <= lo_i).any()


def test_teams_follow_home_visit_demand():
    """Teams sum to the total, every part with demand gets one when there are enough, none without."""
    assert apportion_teams(10, np.array([100, 0, 300, 100])).tolist() == [2, 0, 6, 2]
    assert apportion_teams(3, np.array([5, 1, 0, 1])).tolist() == [1, 1, 0, 1]
    assert apportion_teams(2, np.array([5, 1, 9])).tolist() == [1, 0, 1]
    assert apportion_teams(0, np.array([5, 1])).tolist() == [0, 0]
    out = apportion_teams(17, np.array([40, 7, 0, 13, 90]))
    assert out.sum() == 17 and out[2] == 0 and (out[[0, 1, 3, 4]] >= 1).all()


def test_local_pool_gives_the_same_bytes_as_serial(tmp_path: Path):
    """ProcessExecutor(2) and SerialExecutor write identical plan directories."""
    sc, reg = load(city_dir(tmp_path / "city", 5000, 6))
    part = partition(sc, reg, parts=3)
    write_plan(plan_in_parts(sc, reg, part, SerialExecutor()), tmp_path / "serial")
    with ProcessExecutor(2) as pool:
        write_plan(plan_in_parts(sc, reg, part, pool), tmp_path / "pool")
    same_files(tmp_path / "serial", tmp_path / "pool")


def test_dask_cluster_gives_the_same_bytes_as_serial(tmp_path: Path):
    """A two-process Dask LocalCluster and SerialExecutor write identical plan directories."""
    distributed = pytest.importorskip("distributed")
    sc, reg = load(city_dir(tmp_path / "city", 5000, 7))
    part = partition(sc, reg, parts=3)
    write_plan(plan_in_parts(sc, reg, part, SerialExecutor()), tmp_path / "serial")
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
          distributed.Client(cluster) as client, DaskExecutor(client=client) as dask):
        write_plan(plan_in_parts(sc, reg, part, dask), tmp_path / "dask")
    same_files(tmp_path / "serial", tmp_path / "dask")


def test_cli_split_by_district_column(tmp_path: Path):
    """--split-by 街道 plans one part per district, buildings whole, and reports the split."""
    path = city_dir(tmp_path / "city", 4000, 8, district=True)
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(path), "-o", str(out), "--split-by", "街道", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "parts" in result.output and "split walk cost" in result.output
    s = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert s["split"]["parts"] == 2 and s["split"]["column"] == "district"
    assert sorted(p["name"] for p in s["split"]["part_list"]) == ["东城街道", "西城街道"]
    assert s["violations"] == 0
    # a building's households all sit in one district's part: its sites are that part's sites
    sc, reg = load(path)
    part = partition(sc, reg, column="district")
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    at = a[a["mode"] == "site"]
    site_part = dict(zip([x.id for x in reg.sites], part.site_part.tolist(), strict=True))
    b_part = dict(zip(reg.buildings.id.tolist(), part.building_part.tolist(), strict=True))
    assert (at["site_id"].map(site_part) == at["building_id"].map(b_part)).all()
    # the district column is what the split followed (buildings of exclusive compounds may follow their compound)
    names = np.array(part.names, dtype=object)
    assert (names[part.building_part] == reg.buildings.districts()).mean() > 0.99


def test_cli_parts_with_workers_matches_serial(tmp_path: Path):
    """`sampler plan --parts 3 --workers 2` writes the same plan as `--workers 1`."""
    path = city_dir(tmp_path / "city", 3000, 9)
    for workers in ("1", "2"):
        result = runner.invoke(app, ["plan", str(path), "-o", str(tmp_path / f"w{workers}"), "--parts", "3",
                                     "--workers", workers])
        assert result.exit_code == 0, result.output
    same_files(tmp_path / "w1", tmp_path / "w2")


@pytest.mark.parametrize(("args", "field"), [
    (["--parts", "0"], "--parts"),
    (["--parts", "100000"], "--parts"),
    (["--split-by", "楼层"], "--split-by"),
    (["--split-by", "lat"], "--split-by"),
    (["--parts", "2", "--split-by", "grid"], "--parts"),
    (["--workers", "2"], "--workers"),
    (["--parts", "2", "--workers", "0"], "--workers"),
    (["--split-by", "district"], "district"),  # the buildings file has no district column
    (["--parts", "2", "--dask", "tcp://127.0.0.1:1", "--dask-timeout", "1"], "--dask"),
])
def test_bad_split_options_write_nothing(tmp_path: Path, args: list[str], field: str):
    """Each bad option exits 2 with a table naming it, and no plan directory appears."""
    path = city_dir(tmp_path / "city", 800, 10, sites=4)
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(path), "-o", str(out), *args])
    assert result.exit_code == 2, result.output
    assert "input issue" in result.output and field in result.output
    assert not out.exists() and not (tmp_path / ".plan.partial").exists()


def test_partition_errors_name_the_command_line():
    """The library raises InputError with the command line as the file."""
    reg = random_city(1, 5, 2)
    with pytest.raises(InputError) as err:
        partition(Scenario(), reg, parts=6)
    assert err.value.issues[0].file == "<command line>" and err.value.issues[0].field == "--parts"
    with pytest.raises(InputError) as err:
        partition(Scenario(), reg, parts=3)  # three parts with residents, two public sites
    assert "public sites" in err.value.issues[0].fix


def test_cli_dask_address_matches_local_pool(tmp_path: Path):
    """`--dask ADDRESS` of a running scheduler plans the same bytes as `--workers 2`."""
    distributed = pytest.importorskip("distributed")
    path = city_dir(tmp_path / "city", 3000, 11)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = runner.invoke(app, ["plan", str(path), "-o", str(tmp_path / "dask"), "--parts", "2",
                                     "--dask", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["plan", str(path), "-o", str(tmp_path / "pool"), "--parts", "2", "--workers", "2"])
    assert result.exit_code == 0, result.output
    same_files(tmp_path / "dask", tmp_path / "pool")
