"""The forecast of the rest of the day (`sim.forecast`, `sim.resume`): exact small days, the
calibration's arithmetic, the plan's own simulation when nothing is checked in, determinism."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sampler.day.ledger import CHINA
from sampler.errors import InputError
from sim.engine import run_replication
from sim.forecast import (
    Checkins,
    ForecastDay,
    ForecastParams,
    busy_time,
    calibrate,
    forecast,
    model_rates,
    parse_at,
)
from sim.inputs import SimInputs
from sim.params import SimParams
from sim.records import FOLLOWED_UP, RETURNED, SAMPLED, UNSERVED
from sim.resume import Resume
from tests.sim.builders import inputs

# One person a minute per table: no registration, 60 s swabs, no noise, no hand-overs.
FIXED = SimParams(arrival="uniform", no_show=0.0, walk_in_share=0.0, registration_s=(0.0, 0.0, 0.0),
                  swab_s=(60.0, 60.0, 60.0), relief_teams=1, followup_reach=0.0)
START = dt.datetime(2022, 11, 23, 6, 0, tzinfo=CHINA)


def _day(sim_inputs: SimInputs, planned_per_table: float = 60.0, grids: list[str] | None = None) -> ForecastDay:
    """A ForecastDay whose registry is the site households then the home-visit households."""
    n_site, n_home = len(sim_inputs.ids), len(sim_inputs.home_ids)
    ids = np.concatenate([sim_inputs.ids, sim_inputs.home_ids]).astype(object)
    size = np.concatenate([sim_inputs.size, sim_inputs.home_size]).astype(np.int64)
    slot_end = np.concatenate([sim_inputs.slot_end, sim_inputs.home_slot_start + 30]).astype(np.int64)
    return ForecastDay(
        inputs=sim_inputs, rows=np.arange(n_site), home_rows=np.arange(n_site, n_site + n_home), ids=ids, size=size,
        grid=np.array(grids if grids is not None else ["G1"] * len(ids), dtype=object),
        planned_rate=sim_inputs.tables * planned_per_table, start=START, codes=np.array([""] * len(ids), dtype=object),
        site_of_row=np.concatenate([sim_inputs.site, np.full(n_home, -1)]).astype(np.int64), slot_end_of_row=slot_end,
        area="测试街道",
    )


def _checkins(rows: list[tuple[int, int, float, int]]) -> Checkins:
    return Checkins(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                    np.array([r[2] for r in rows], dtype=np.float64), np.array([r[3] for r in rows], dtype=np.int64))


def _site_finish(sim_inputs: SimInputs, params: SimParams, seed: np.random.SeedSequence) -> np.ndarray:
    """Last end of a registered household at each site in the plan's own simulation (0: none)."""
    rec = run_replication(sim_inputs, params, seed)
    mask = (rec.site >= 0) & np.isin(rec.status, [SAMPLED, RETURNED, FOLLOWED_UP, UNSERVED])
    out = np.zeros(sim_inputs.n_sites)
    np.maximum.at(out, rec.site[mask], rec.end[mask])
    return out


# A 12-hour window; one table planned at 60 people an hour; one person a minute is due over 8 hours.
STEADY = inputs([(f"h{i:03d}", 0, float(i), float(i + 1), 1) for i in range(480)], tables=(1,),
                hours=(0.0, 720.0), window_hours=12.0)


def test_a_site_at_half_its_planned_rate_finishes_later_and_is_flagged() -> None:
    """Checked in at 30 an hour for 4 hours where 60 were planned: the site's speed is calibrated
    to about half, its forecast finish moves past the window's end, and it is flagged 来不及."""
    day = _day(STEADY)
    half = _checkins([(i, 0, 2.0 * (i + 1), 1) for i in range(120)])  # one every 2 minutes up to 240
    planned = forecast(day, Checkins.none(), 0.0, FIXED, seed=1, replications=3)
    slow = forecast(day, half, 240.0, FIXED, seed=1, replications=3)
    cal = slow.calibration[0]
    assert cal.checked_in_people == 120 and cal.observed_rate == pytest.approx(30.0, rel=0.02)
    assert 0.5 < cal.speed < 0.7 and cal.scale == pytest.approx(1 / cal.speed)
    assert planned.sites()[0]["p_finish_in_window"] == 1.0 and not planned.sites()[0]["late"]
    assert float(planned.finish[0, 0]) == pytest.approx(480.5, abs=0.5)  # keeps up: the last one ends at 8 h
    site = slow.sites()[0]
    assert site["late"] and site["p_finish_in_window"] == 0.0 and slow.late_sites() == ["S1"]
    assert site["remaining_people"] == 360 and site["due_people"] == 240
    # 360 people left at 60 × speed an hour from minute 240
    assert float(slow.finish[0, 0]) == pytest.approx(240.0 + 360.0 / cal.speed, rel=1e-6)
    assert site["expected_finish"] > planned.sites()[0]["expected_finish"]
    assert "来不及" in slow.verdict() and "site 1" in slow.verdict()
    frame = slow.sites_frame()
    assert frame.loc[0, "是否来不及"] == "是" and frame.loc[0, "实测速率(人/时)"] == pytest.approx(30.0, rel=0.02)


def test_a_site_with_everything_sampled_finishes_at_at() -> None:
    """Every household of site 2 is checked in: it finishes at `at` in every replication; site 1's
    unchanged households are forecast as planned."""
    day_inputs = inputs([("a1", 0, 0.0, 30.0, 2), ("a2", 0, 300.0, 330.0, 1), ("b1", 1, 0.0, 30.0, 3),
                         ("b2", 1, 30.0, 60.0, 2)], tables=(1, 1), hours=(0.0, 720.0), window_hours=12.0)
    day = _day(day_inputs, grids=["G1", "G1", "G2", "G2"])
    done = _checkins([(0, 0, 20.0, 2), (2, 1, 10.0, 3), (3, 1, 50.0, 2)])
    result = forecast(day, done, 120.0, FIXED, seed=4, replications=5)
    assert (result.finish[:, 1] == 120.0).all()
    sites = result.sites()
    assert sites[1]["remaining_people"] == 0 and sites[1]["p_finish_in_window"] == 1.0 and not sites[1]["late"]
    assert sites[1]["expected_finish"] == "2022-11-23T08:00:00+08:00"
    assert sites[0]["remaining_people"] == 1 and 300.0 <= result.finish[0, 0] <= 331.0
    grids = {g["grid"]: g for g in result.grids()}
    assert grids["G2"]["expected_coverage"] == 1.0 and grids["G1"]["expected_coverage"] == 1.0
    assert result.to_json()["checkins"] == {"used": 3, "after_at": 0}


def test_households_closed_by_follow_ups_are_not_expected_and_stay_uncovered() -> None:
    """a2 (1 person, slot at 300 min) was found away: site 1 has nobody left, so it finishes at
    `at`, and G1's coverage stops at a1's 2 of 3 people; without the outcome a2 is forecast to come."""
    day_inputs = inputs([("a1", 0, 0.0, 30.0, 2), ("a2", 0, 300.0, 330.0, 1), ("b1", 1, 0.0, 30.0, 3)],
                        tables=(1, 1), hours=(0.0, 720.0), window_hours=12.0)
    day = _day(day_inputs, grids=["G1", "G1", "G2"])
    done = _checkins([(0, 0, 20.0, 2), (2, 1, 10.0, 3)])
    expected = forecast(day, done, 120.0, FIXED, seed=4, replications=3)
    assert expected.sites()[0]["remaining_people"] == 1 and (expected.finish[:, 0] > 300.0).all()
    away = forecast(day, done, 120.0, FIXED, seed=4, replications=3, closed=np.array([False, True, False]))
    assert away.sites()[0]["remaining_people"] == 0 and (away.finish[:, 0] == 120.0).all()
    grids = {g["grid"]: g for g in away.grids()}
    assert grids["G1"]["expected_coverage"] == pytest.approx(2 / 3, abs=1e-4) and grids["G2"]["expected_coverage"] == 1.0
    with pytest.raises(ValueError, match="one flag per registry household"):
        forecast(day, done, 120.0, FIXED, seed=4, replications=1, closed=np.array([True]))


def test_partly_sampled_household_keeps_its_remaining_members() -> None:
    """A household of 3 with 1 member checked in: 2 are left, their swabs take 2 minutes."""
    day = _day(inputs([("a1", 0, 0.0, 0.0, 3)], tables=(1,), hours=(0.0, 720.0), window_hours=12.0))
    result = forecast(day, _checkins([(0, 0, 1.0, 1)]), 60.0, FIXED, seed=0, replications=1)
    assert result.sites()[0]["remaining_people"] == 2 and float(result.finish[0, 0]) == pytest.approx(62.0)
    assert result.grids()[0]["expected_coverage"] == 1.0


def test_nothing_checked_in_at_the_start_is_the_plans_own_simulation() -> None:
    """With no check-ins at the window's start, every replication's site finishes are those of the
    plan's own simulation with the same seeds (common random numbers), under the default noise."""
    noisy = SimParams()
    day_inputs = inputs([(f"h{i:02d}", i % 2, 30.0 * (i // 4), 30.0 * (i // 4) + 30, 1 + i % 3) for i in range(40)],
                        tables=(1, 2), home=[("v1", 0, 60.0, 0, 2), ("v2", 0, 90.0, 1, 1)])
    day = _day(day_inputs)
    result = forecast(day, Checkins.none(), 0.0, noisy, seed=11, replications=4)
    children = np.random.SeedSequence(11).spawn(4)
    for i, child in enumerate(children):
        expected = _site_finish(day_inputs, noisy, child)
        assert np.allclose(result.finish[i], np.maximum(expected, 0.0)), i
    assert all(c.scale == 1.0 and c.observed_rate is None for c in result.calibration)


def test_resume_at_zero_with_nothing_done_gives_the_same_records(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`Resume(0, nothing sampled, speed 1)` changes no draw: households.csv is byte for byte the plan's."""
    day_inputs = inputs([(f"h{i:02d}", i % 2, 30.0 * (i // 4), 30.0 * (i // 4) + 30, 1 + i % 3) for i in range(40)],
                        tables=(1, 2), home=[("v1", 0, 60.0, 0, 2)])
    plain, resumed = tmp_path / "plain.csv", tmp_path / "resumed.csv"
    run_replication(day_inputs, SimParams(), 5).write_csv(plain)
    run_replication(day_inputs, SimParams(), 5, resume=Resume(0.0, np.zeros(40, np.int64))).write_csv(resumed)
    assert plain.read_bytes() == resumed.read_bytes()


def test_nothing_checked_in_later_keeps_the_planned_rates_and_queues_who_should_have_come() -> None:
    """At 10:00 with no check-ins the sites keep their planned speed and everyone who should have
    arrived is in the queue: the one table then works through them one a minute."""
    result = forecast(_day(STEADY), Checkins.none(), 240.0, FIXED, seed=2, replications=2)
    assert all(c.scale == 1.0 and c.observed_rate is None for c in result.calibration)
    assert result.finish[0, 0] == pytest.approx(240.0 + 480.0)  # 240 queued + 240 still to come, one a minute


def test_busy_time_follows_the_queue() -> None:
    """Q = 15, 30, 45, 60 people: bins 2–4 held ≥ 10 at both ends; bin 1 started empty."""
    people, minutes = busy_time(np.array([20.0, 20, 20, 20]), np.array([5.0, 5, 5, 5]), np.array([10.0, 10, 10, 10]),
                                need=10.0)
    assert (people, minutes) == (15.0, 30.0)
    # the queue drains (Lindley floor at 0): no busy bin after it ran dry
    people, minutes = busy_time(np.array([30.0, 0, 0, 30]), np.array([5.0, 40, 5, 5]), np.ones(4) * 10, need=10.0)
    assert (people, minutes) == (0.0, 0.0)


def test_calibration_is_the_gamma_posterior_mean() -> None:
    """speed = (k + n) / (k + m·T): n people over T busy staffed table-hours, model rate m."""
    day = _day(STEADY)
    half = _checkins([(i, 0, 2.0 * (i + 1), 1) for i in range(120)])
    for k in (10.0, 50.0, 500.0):
        cal = calibrate(day, half, 240.0, FIXED, ForecastParams(prior_people=k))[0]
        n, hours, m = cal.busy_people, cal.busy_hours, cal.model_rate
        assert m == pytest.approx(60.0) and n > 80 and hours > 2.5
        assert cal.speed == pytest.approx((k + n) / (k + m * hours))
        assert cal.speed_p05 < cal.speed < cal.speed_p95
        assert cal.rate == pytest.approx(cal.speed * m)
    # more prior weight pulls the speed towards 1
    speeds = [calibrate(day, half, 240.0, FIXED, ForecastParams(prior_people=k))[0].speed for k in (1.0, 50.0, 5000.0)]
    assert speeds[0] < speeds[1] < speeds[2] < 1.0 and speeds[0] == pytest.approx(0.5, abs=0.02)
    # a site that keeps up is never busy: no evidence, the planned rate exactly
    quick = _checkins([(i, 0, float(i + 1), 1) for i in range(240)])
    cal = calibrate(day, quick, 240.0, FIXED)[0]
    assert cal.observed_rate is None and cal.speed == 1.0 and cal.rate == cal.planned_rate == 60.0


def test_model_rates_count_registration_elderly_and_children() -> None:
    """60 s registration + 2 swabs of 30 s, one elderly (×1.5): 1 + 0.5 + 0.75 = 2.25 min for 2 people."""
    params = SimParams(registration_s=(60.0, 60.0, 60.0), swab_s=(30.0, 30.0, 30.0))
    day_inputs = replace(inputs([("a", 0, 0.0, 30.0, 2)]), elderly=np.array([1]))
    assert model_rates(day_inputs, params)[0] == pytest.approx(60 * 2 / 2.25)


def test_same_seed_same_forecast_and_workers_do_not_matter() -> None:
    """Same inputs and seed → the same forecast.json; 2 worker processes give the same numbers."""
    from sampler.executors import ProcessExecutor

    day = _day(inputs([(f"h{i:02d}", i % 2, 30.0 * (i // 4), 30.0 * (i // 4) + 30, 1 + i % 3) for i in range(40)],
                      tables=(1, 2)))
    done = _checkins([(i, i % 2, 30.0 * (i // 4) + 20, 1) for i in range(12)])
    a = forecast(day, done, 90.0, SimParams(), seed=3, replications=4).to_json()
    b = forecast(day, done, 90.0, SimParams(), seed=3, replications=4).to_json()
    assert json.dumps(a) == json.dumps(b)
    with ProcessExecutor(2) as pool:
        c = forecast(day, done, 90.0, SimParams(), seed=3, replications=4, executor=pool).to_json()
    assert json.dumps(a) == json.dumps(c)
    d = forecast(day, done, 90.0, SimParams(), seed=4, replications=4).to_json()
    assert d["seed"] == 4 and a["seed"] == 3


def test_checkins_after_at_are_left_out() -> None:
    """A check-in later than `at` does not count (a forecast of the past replays what was known)."""
    day = _day(STEADY)
    result = forecast(day, _checkins([(0, 0, 1.0, 1), (1, 0, 300.0, 1)]), 60.0, FIXED, seed=0, replications=1)
    assert result.checkins_used == 1 and result.checkins_after_at == 1
    assert result.sites()[0]["remaining_people"] == 479


@pytest.mark.parametrize(("text", "minute"), [("2022-11-23 12:00", 360.0), ("12:00", 360.0),
                                              ("2022-11-23T04:00:00Z", 360.0), ("2022-11-23T18:00", 720.0)])
def test_parse_at_reads_window_times(text: str, minute: float) -> None:
    assert parse_at(text, _day(STEADY)) == minute


@pytest.mark.parametrize("text", ["2022-11-23 05:59", "2022-11-24 06:00", "tomorrow", "25:00"])
def test_parse_at_refuses_times_outside_the_window(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_at(text, _day(STEADY))
    issue = err.value.issues[0]
    assert issue.field == "--at" and issue.value == text


def test_bad_arguments_are_input_errors() -> None:
    """Zero replications, a negative seed or a time outside the window name the field."""
    day = _day(STEADY)
    with pytest.raises(InputError) as err:
        forecast(day, Checkins.none(), 2000.0, FIXED, seed=-1, replications=0)
    assert {i.field for i in err.value.issues} == {"replications", "seed", "at"}


def test_grids_frame_has_chinese_headers() -> None:
    result = forecast(_day(STEADY), Checkins.none(), 0.0, FIXED, seed=0, replications=2)
    assert list(result.grids_frame().columns) == ["网格", "人数", "已采人数", "窗口结束预计覆盖率", "覆盖率P10", "覆盖率P90"]
    assert list(result.sites_frame().columns)[:2] == ["站点编号", "站点名称"]
    assert isinstance(result.grids_frame(), pd.DataFrame)
