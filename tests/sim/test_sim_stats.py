"""Statistics from records on a case small enough to work out by hand."""

from __future__ import annotations

import math

import pytest

from sim.engine import run_replication
from sim.params import SimParams
from sim.stats import coverage_curve, replication_stats
from tests.sim.builders import inputs

# One table, 30 one-person households all arriving at minute 0, 1.5 min each (30 s + 60 s).
FIXED = SimParams(arrival="uniform", no_show=0.0, walk_in_share=0.0, registration_s=(30.0, 30.0, 30.0),
                  swab_s=(60.0, 60.0, 60.0), relief_teams=1)
RUSH = inputs([(f"h{i:02d}", 0, 0.0, 0.0, 1) for i in range(30)], queue_m=20.0, hours=(0.0, 60.0))


def test_site_waits_queue_and_status() -> None:
    """Waits are 0, 1.5, …, 43.5 min; 29 wait at first; 19 minutes are 忙碌 (virtual wait ≥ 25)."""
    stats = replication_stats(run_replication(RUSH, FIXED, seed=0), FIXED)
    site = stats.sites.iloc[0]
    assert site["wait_max_min"] == pytest.approx(43.5)
    assert site["wait_p50_min"] == pytest.approx(21.0)  # the 15th person of 30
    assert site["wait_p95_min"] == pytest.approx(42.0)  # the 29th person
    assert site["share_wait_over_limit"] == pytest.approx(9 / 30)
    assert site["max_queue_people"] == 29 and site["max_queue_m"] == 29.0
    assert site["queue_over_space"] == 1
    assert (site["minutes_smooth"], site["minutes_busy"], site["minutes_jammed"]) == (41, 19, 0)
    assert site["utilisation"] == pytest.approx(45.0 / 60.0)


def test_coverage_and_target() -> None:
    """Everyone is sampled by minute 45; the target is met; 95 % takes 28.5 of the 30 services."""
    rec = run_replication(RUSH, FIXED, seed=0)
    curve = coverage_curve(rec)
    assert curve.loc[curve["minute"] == 10.0, "sampled"].item() == pytest.approx(6 / 30)
    assert curve.loc[curve["minute"] == 50.0, "sampled"].item() == 1.0
    figures = replication_stats(rec, FIXED).figures
    assert figures["target_met"] is True
    assert figures["hours_to_95"] == pytest.approx(43.5 / 60)  # 29th person done at 43.5
    assert figures["hours_to_100"] == pytest.approx(45.0 / 60)
    assert figures["missed_people"] == 0


def test_missed_people_block_full_coverage() -> None:
    """With everyone a no-show who never returns and no follow-up, nobody is sampled, 95 % is never
    reached, the target is missed and the verdict's figures name all 30 people as remaining."""
    params = SimParams(no_show=1.0, no_show_return=0.0, walk_in_share=0.0, followup_reach=0.0)
    figures = replication_stats(run_replication(RUSH, params, seed=0), params).figures
    assert figures["missed_households"] == 30 and figures["sampled_by_window_end"] == 0.0
    assert math.isnan(figures["hours_to_95"])
    assert figures["target_met"] is False and figures["remaining_people"] == 30
    assert figures["remaining_top_sites"][0][1] == 30


@pytest.mark.parametrize(("closed", "home", "status"), [(0.0, 0.0, "followed_up"), (1.0, 0.0, "closed"),
                                                        (0.0, 1.0, "followup_home")])
def test_grid_workers_follow_up_every_no_show(closed: float, home: float, status: str) -> None:
    """Every no-show reached: all come after the call, all are closed, or all are swabbed at home;
    closed households count as done for the target, and nobody remains."""
    from sim.records import STATUS

    params = SimParams(no_show=1.0, no_show_return=0.0, walk_in_share=0.0, followup_reach=1.0,
                       followup_closed=closed, followup_home=home, followup_delay_min=(5.0, 10.0))
    rec = run_replication(RUSH, params, seed=0)
    assert {STATUS[s] for s in rec.status} == {status}
    figures = replication_stats(rec, params).figures
    assert figures["remaining_people"] == 0 and figures["target_met"] is True
    assert figures["missed_households"] == 0
    if status == "closed":
        assert figures["closed_households"] == 30 and figures["sampled_by_window_end"] == 0.0
    else:
        assert figures["sampled_by_window_end"] == 1.0
