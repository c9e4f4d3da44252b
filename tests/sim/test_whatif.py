"""What-if staffing: ranges, base staffing files, sweeps, the minimum search, minus one, executors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sampler.errors import InputError
from sampler.executors import ProcessExecutor, SerialExecutor
from sampler.params import Scenario
from sim.params import SimParams
from sim.whatif.axes import parse_range
from sim.whatif.jobs import LevelResult, WhatifRun, evaluate_levels
from sim.whatif.levels import grid_levels, make_base, read_base_staffing, surely_short
from sim.whatif.params import WhatifParams
from sim.whatif.search import find_minimum, minus_one
from tests.sampler import cities

SCENARIO = Scenario()
PARAMS = SimParams()


@pytest.fixture(scope="module")
def city():
    """About 4,200 people at three small sites open 06:00–22:00 (the window starts at 06:00):
    one table each cannot hold them, eight can."""
    reg = cities.random_city(seed=4, n_buildings=200, n_sites=3)
    sites = tuple(dataclasses.replace(s, open_minute=360, close_minute=1320) for s in reg.sites)
    return dataclasses.replace(reg, sites=sites)


def _run(city, reps: int = 5, executor=None, **kw) -> WhatifRun:
    return WhatifRun(SCENARIO, city, PARAMS, WhatifParams(replications=reps, **kw), seed=7, executor=executor)


# --- ranges and files -------------------------------------------------------------------------


def test_ranges_include_both_ends_and_lists_are_sorted():
    assert parse_range("tables", "0.5:1.0:0.25") == [0.5, 0.75, 1.0]
    assert parse_range("home_teams", "4:10:3") == [4, 7, 10]
    assert parse_range("lab", "3000,1000,2000") == [1000, 2000, 3000]
    assert parse_range("relief", "2:2") == [2]


@pytest.mark.parametrize(("axis", "text", "fix"), [
    ("tables", "1.5:0.5:0.1", "range is empty"),
    ("home_teams", "-2:4", "cannot be negative"),
    ("home_teams", "1.5,2", "whole numbers"),
    ("tables", "0:1:0.5", "must be positive"),
    ("tables", "0.5:1:0", "positive step"),
    ("lab", ",", "list is empty"),
    ("lab", "many", "START:STOP:STEP"),
    ("nurses", "1:3", "use one of"),
])
def test_bad_ranges_say_what_to_do(axis: str, text: str, fix: str):
    with pytest.raises(InputError) as err:
        parse_range(axis, text)
    issue = err.value.issues[0]
    assert fix in issue.fix and issue.file == "<command line>"


def test_base_staffing_file_sets_tables_and_names_bad_rows(city, tmp_path):
    good = tmp_path / "staffing.csv"
    good.write_bytes("采样点编号,采样台数,登记员\nS1,5,2\nS2,1,0\n".encode("gb18030"))
    tables, registrars = read_base_staffing(good, city)
    assert tables == [city.sites[0].tables, 5, 1]
    assert registrars == [0, 2, 0]

    bad = tmp_path / "bad.csv"
    bad.write_text("site_id,tables\nS9,3\nS0,-1\nS1,2\nS1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_base_staffing(bad, city)
    got = {(i.row, i.field, i.value) for i in err.value.issues}
    assert got == {(2, "site_id", "S9"), (3, "tables", "-1"), (5, "site_id", "S1")}  # rows as Excel shows them
    assert all(i.file == str(bad) for i in err.value.issues)


def test_levels_round_tables_per_site_and_keep_one_table(city):
    base = make_base(SCENARIO, city, PARAMS, tables=[4, 3, 1])
    grid = grid_levels(base, {"tables": [0.25, 1.0], "home_teams": [2, 6]})
    assert [(v["tables"], lv.tables, lv.home_teams) for v, lv in grid] == [
        (0.25, (1, 1, 1), 2), (0.25, (1, 1, 1), 6), (1.0, (4, 3, 1), 2), (1.0, (4, 3, 1), 6)]
    lv = base.level({"registrars": 0.5})
    assert lv.registrars == (2, 2, 1)  # half a registrar per table, rounded half up per site
    assert lv.staff == 8 + 5 + base.home_teams


def test_surely_short_compares_capacity_bounds(city):
    one = dataclasses.replace(city, sites=tuple(dataclasses.replace(s, tables=1, rate=1.0) for s in city.sites))
    lots = dataclasses.replace(city, sites=tuple(dataclasses.replace(s, tables=50, rate=100.0) for s in city.sites))
    assert surely_short(SCENARIO, one)
    assert not surely_short(SCENARIO, lots)


# --- sweeps and search ------------------------------------------------------------------------


def _binomial_noise(reps: int) -> float:
    return 2 * math.sqrt(0.25 / reps)


def test_more_tables_never_make_things_worse_beyond_noise(city):
    """Under common random numbers: unplaced households never rise with more tables, and the
    probability of meeting the window and the coverage never fall by more than noise."""
    run = _run(city, reps=10)
    base = make_base(SCENARIO, city, PARAMS)
    rows = evaluate_levels(run, grid_levels(base, {"tables": [1, 2, 3, 4, 6, 8]}))
    unplaced = [r.unplaced_households for r in rows]
    assert unplaced == sorted(unplaced, reverse=True) and unplaced[0] > 0 and unplaced[-1] == 0
    noise = _binomial_noise(10)
    for i, low in enumerate(rows):
        for high in rows[i + 1:]:
            assert high.probability >= low.probability - noise
            assert high.figure("sampled_by_window_end") >= low.figure("sampled_by_window_end") - 0.01
    assert rows[-1].probability > rows[0].probability


def test_minimum_meets_target_and_one_fewer_at_bottleneck_does_not(city):
    run = _run(city)
    base = make_base(SCENARIO, city, PARAMS)
    ranges = {"tables": [1, 2, 3, 4, 5, 6, 7, 8]}
    m = find_minimum(run, base, ranges)
    assert m.found and m.best is not None and m.best.meets
    fewer = m.fewer_at_bottleneck
    assert fewer is not None and not fewer.meets
    diff = [a - b for a, b in zip(m.best.level.tables, fewer.level.tables, strict=True)]
    assert sorted(diff) == [0, 0, 1]
    assert m.bottlenecks[0] == city.sites[diff.index(1)].id
    # a fresh run (no cache) of the two levels agrees
    again = _run(city)
    best, below = again.evaluate([(m.best.level, {}), (fewer.level, {})])
    assert best.meets and not below.meets
    # and the search simulated fewer levels than the full sweep
    assert run.simulations < len(grid_levels(base, ranges)) * 5


def test_search_reports_an_unreachable_target(city):
    run = _run(city)
    m = find_minimum(run, make_base(SCENARIO, city, PARAMS), {"tables": [0.5, 1.0]})
    assert not m.found and "misses the target" in m.reason and m.best is not None


def test_minus_one_keeps_the_plan_and_hurts_the_site(city):
    run = _run(city)
    base = make_base(SCENARIO, city, PARAMS)
    best = run.one(base.level({"tables": 3}))
    frame = minus_one(run, best, sites=2)
    assert len(frame) == 2 and run.plans == 1  # no re-planning for a team lost on the day
    assert (frame["tables_after"] == frame["tables"] - 1).all()
    assert (frame["site_wait_p95_min_after"] >= frame["site_wait_p95_min"]).all()
    assert run.minus_one_simulations == 2 * 5


def test_sweep_results_do_not_depend_on_the_executor(city):
    base = make_base(SCENARIO, city, PARAMS)
    grid = grid_levels(base, {"tables": [2, 4], "lab": [500, 3000]})

    def rows(executor) -> list[dict]:
        return [r.row() for r in evaluate_levels(_run(city, reps=3, executor=executor), grid)]

    serial = rows(SerialExecutor())
    with ProcessExecutor(2) as pool:
        assert rows(pool) == serial


def test_dask_local_cluster_gives_exactly_the_local_results(city):
    distributed = pytest.importorskip("distributed")
    from sampler.executors import DaskExecutor

    base = make_base(SCENARIO, city, PARAMS)
    grid = grid_levels(base, {"tables": [2, 3]})
    serial = [r.row() for r in evaluate_levels(_run(city, reps=3), grid)]
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client, DaskExecutor(client=client) as ex):
        on_dask = [r.row() for r in evaluate_levels(_run(city, reps=3, executor=ex), grid)]
    assert on_dask == serial


def test_level_result_bottlenecks_prefer_sites_over_the_wait_limit(city):
    run = _run(city, reps=2)
    res = run.one(make_base(SCENARIO, city, PARAMS).level({"tables": 2}))
    sites = res.sites()
    worst = str(sites.sort_values("wait_p95_min", ascending=False)["site_id"].iloc[0])
    assert res.bottlenecks(max_p95=-1.0)[0] == worst  # every site is "over" a negative limit
    fake = LevelResult(res.level, res.stats, unplaced_households=3, meets=False,
                       plan_fill=(0.5, 1.0, 0.2))
    assert fake.bottlenecks(max_p95=1e9) == ["S1"]
    assert np.isfinite(res.figure("wait_p95_min"))


def test_registrars_shorten_waits_without_replanning(city):
    """A registrar per table takes registration off the tables: same plan, shorter waits."""
    run = _run(city, reps=4)
    base = make_base(SCENARIO, city, PARAMS)
    without, with_reg = run.evaluate([(base.level({"tables": 1.5, "registrars": 0}), {}),
                                      (base.level({"tables": 1.5, "registrars": 1}), {})])
    assert run.plans == 1
    assert sum(with_reg.level.registrars) == sum(with_reg.level.tables)
    assert with_reg.figure("wait_p95_min") < without.figure("wait_p95_min")


def test_home_team_bisection_finds_the_smallest_team_count():
    """With sealed compounds, too few home-visit teams leave households unplaced; the search
    returns the fewest teams that meet the target, and one team fewer was simulated and fails."""
    reg = cities.random_city(seed=5, n_buildings=120, n_sites=3, sealed_share=0.3)
    reg = dataclasses.replace(reg, sites=tuple(dataclasses.replace(s, tables=8, open_minute=360, close_minute=1320)
                                               for s in reg.sites))
    run = WhatifRun(SCENARIO, reg, PARAMS, WhatifParams(replications=3), seed=1)
    m = find_minimum(run, make_base(SCENARIO, reg, PARAMS), {"home_teams": [1, 2, 3, 4, 6, 8, 12, 16]})
    assert m.found and m.best is not None
    teams = m.best.level.home_teams
    tried = {r.level.home_teams: r.meets for r in run.history if r.step == "bisect home_teams"}
    assert tried[max(t for t in tried if t < teams)] is False
    assert all(ok for t, ok in tried.items() if t >= teams)


def test_replications_are_chunked_per_worker_in_order():
    from sim.whatif.jobs import chunks

    seeds = np.random.SeedSequence(3).spawn(10)
    parts = chunks(seeds, 3)
    assert [len(p) for p in parts] == [3, 4, 3]
    assert [s for p in parts for s in p] == seeds
    assert chunks(seeds[:2], 8) == [[seeds[0]], [seeds[1]]]
