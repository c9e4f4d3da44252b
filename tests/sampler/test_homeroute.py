"""Home-visit routes (`sampler.plan.homeroute`): exact small cases, fallbacks, determinism, invariants
over random home-visit sets (Hypothesis), the plan's team-hours report and the simulator's replay."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sampler.model import Registry, RiskZone
from sampler.params import HomeVisitParams, Scenario, WalkParams, WindowParams
from sampler.plan import homeroute
from sampler.plan.homeroute import SAME_BUILDING_MIN, HomeRoutes, route_home_visits
from sampler.plan.planner import MODE_HOME, MODE_UNPLACED, Plan, make_plan
from sampler.planfiles.write import plan_frames
from tests.sampler.cities import random_city, registry, site

S = RiskZone.SEALED
P = RiskZone.PRECAUTION
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOOR = HomeVisitParams().door_minutes  # 60 / 6 − 4 = 6 minutes at a door
M_PER_MIN = HomeVisitParams().speed_m_per_min / WalkParams().detour_factor  # 50 m a minute on the street


def line_city(n_per_building: int = 2) -> tuple[Registry, np.ndarray]:
    """Three sealed buildings on a line, listed A (0 m), B (1,000 m), C (500 m): building order
    zig-zags A → B → C (1,500 m), the line order A → C → B walks 1,000 m."""
    reg = registry(
        [("A", 0, 0, S, "c"), ("B", 1000, 0, S, "c"), ("C", 500, 0, S, "c")],
        [(f"{b}{j}", b, 2) for b in "ABC" for j in range(n_per_building)],
        [site("S1", 5000, 5000)],
    )
    return reg, np.arange(3 * n_per_building)


def route(reg: Registry, queue: np.ndarray, hv: HomeVisitParams | None = None, slots: int = 48, night: np.ndarray | None = None,
          slot_minutes: int = 30) -> HomeRoutes:
    night = np.zeros(slots, dtype=bool) if night is None else night
    return route_home_visits(reg, queue, hv or HomeVisitParams(teams=1), WalkParams(), slot_minutes, night)


def route_of(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """The plan's stop and arrival arrays (a routed plan has both)."""
    assert plan.stop is not None and plan.arrival is not None
    return plan.stop, plan.arrival


def visit_sequence(team: np.ndarray, stop: np.ndarray, arrival: np.ndarray, t: int) -> np.ndarray:
    """Positions of team ``t``'s households in visiting order (stop, then arrival)."""
    rows = np.flatnonzero(team == t)
    return rows[np.lexsort((rows, arrival[rows], stop[rows]))]


def check_routes(building: np.ndarray, team: np.ndarray, stop: np.ndarray, slot: np.ndarray, arrival: np.ndarray,
                 slot_minutes: int, n_slots: int, door: float) -> None:
    """Invariants of the routes of one set of home households (all arrays per household)."""
    placed = slot >= 0
    assert (np.isnan(arrival) == ~placed).all()
    horizon = n_slots * slot_minutes
    assert (arrival[placed] + door <= horizon + 1e-6).all(), "a visit ends after the window"
    # The slot is the one the expected arrival falls in.
    assert (np.floor(arrival[placed] / slot_minutes + 1e-9).astype(np.int64) == slot[placed]).all()
    for t in np.unique(team[placed]):
        seq = visit_sequence(np.where(placed, team, -1), stop, arrival, int(t))
        assert (np.diff(arrival[seq]) > 0).all(), f"team {t}: arrivals do not grow along the route"
        s = stop[seq]
        assert s[0] == 1 and (np.diff(s) >= 0).all() and (np.diff(s) <= 1).all(), "stops are not 1, 2, 3 …"
        # One building per stop, one stop per building (its households visited together).
        pairs = {(int(a), int(b)) for a, b in zip(s, building[seq], strict=True)}
        assert len({p[0] for p in pairs}) == len(pairs) == len({p[1] for p in pairs})


# --- exact small cases ---------------------------------------------------------------------------------


def test_three_buildings_on_a_line_are_visited_in_line_order():
    """A, B, C listed in zig-zag order are routed A → C → B (or back), with the exact arrivals."""
    reg, queue = line_city()
    r = route(reg, queue)
    b = reg.households.building[queue]
    stop_of = {int(bb): int(s) for bb, s in zip(b, r.stop, strict=True)}
    assert stop_of[2] == 2  # C, in the middle of the line, is the second stop
    assert {stop_of[0], stop_of[1]} == {1, 3}
    seq = visit_sequence(r.team, r.stop, r.arrival, 1)
    hop = HomeVisitParams().building_minutes + 500 / M_PER_MIN  # 4 + 10 = 14 minutes
    first, second = DOOR + SAME_BUILDING_MIN, DOOR + hop
    expected = np.cumsum([0.0, first, second, first, second, first])
    assert r.arrival[seq] == pytest.approx(expected)  # 0, 6.5, 26.5, 33, 53, 59.5
    assert r.slot[seq].tolist() == [0, 0, 0, 1, 1, 1]
    assert (r.team == 1).all()
    rep = r.report
    assert rep["methods"] == {"routing": 1} and rep["stops"] == 3
    assert rep["travel_hours_routed"] == round(2 * hop / 60, 2)  # A → C → B: 2 × 14 min
    assert rep["travel_hours_building_order"] == round((4 + 1000 / M_PER_MIN + hop) / 60, 2)  # A → B → C: 24 + 14
    work = 6 * DOOR + 3 * SAME_BUILDING_MIN
    assert rep["team_hours_routed"] == round((work + 2 * hop) / 60, 2)
    assert rep["team_hours_building_order"] == round((work + 24 + hop) / 60, 2)
    assert rep["saved_percent"] > 0


def test_households_of_one_building_share_one_stop_in_call_down_order():
    """Five households in one building, three in another: two stops, doors 0.5 min apart."""
    reg = registry([("A", 0, 0, S, "c"), ("B", 300, 0, S, "c")],
                   [(f"a{j}", "A", 1) for j in range(5)] + [(f"b{j}", "B", 1) for j in range(3)],
                   [site("S1", 5000, 0)])
    r = route(reg, np.arange(8))
    assert r.stop.tolist() == [1] * 5 + [2] * 3
    assert np.diff(r.arrival[:5]) == pytest.approx([DOOR + SAME_BUILDING_MIN] * 4)
    assert r.arrival[5] - r.arrival[4] == pytest.approx(DOOR + 4 + 300 / M_PER_MIN)


def test_sealed_compound_is_one_stop_per_building_in_the_plan():
    """A sealed compound of three buildings (4 households each) and one team: three stops, one per building."""
    reg = registry([("A", 0, 0, S, "sealed"), ("B", 80, 0, S, "sealed"), ("C", 160, 0, S, "sealed"),
                    ("D", 0, 50, P, "open")],
                   [(f"{b}{j}", b, 2) for b in "ABC" for j in range(4)] + [("d0", "D", 3)],
                   [site("S1", 0, 50)])
    plan = make_plan(Scenario(home_visits=HomeVisitParams(teams=1)), reg)
    home = np.flatnonzero(plan.mode == MODE_HOME)
    assert len(home) == 12 and plan.mode[12] != MODE_HOME
    b, stop = reg.households.building[home], route_of(plan)[0][home]
    assert sorted({(int(x), int(y)) for x, y in zip(b, stop, strict=True)}, key=lambda p: p[1]) == [(0, 1), (1, 2), (2, 3)]
    assert plan.summary["home_routes"]["stops"] == 3
    frame = plan_frames(plan)["home_visits"]
    assert frame["stop"].tolist() == [1] * 4 + [2] * 4 + [3] * 4
    assert frame["arrival"].iloc[0] == "2022-11-23 06:00"


def test_a_team_that_cannot_reach_everyone_leaves_the_rest_unplaced_with_a_reason():
    """One team, a one-hour window, 20 households in a building (a visit every 6.5 min, 6 at the door):
    visits start at 0, 6.5, …, 52 (the ninth ends at 58), so 9 are visited and 11 left unplaced."""
    reg = registry([("A", 0, 0, S, "c")], [(f"h{j}", "A", 1) for j in range(20)], [site("S1", 0, 0)])
    sc = Scenario(window=WindowParams(hours=1.0), home_visits=HomeVisitParams(teams=1))
    plan = make_plan(sc, reg)
    assert plan.mode.tolist() == [MODE_HOME] * 9 + [MODE_UNPLACED] * 11
    assert all("add teams" in str(x) for x in plan.reason[9:])
    assert plan.summary["home_routes"]["unreached_households"] == 11
    assert plan.summary["unplaced_households"] == 11
    assert np.isnan(route_of(plan)[1][9:]).all() and (plan.slot[9:] == -1).all() and (plan.team[9:] == -1).all()
    assert route_of(plan)[1][:9] == pytest.approx(np.arange(9) * (DOOR + SAME_BUILDING_MIN))


def test_night_slots_before_a_later_day_never_send_a_team_back_in_time():
    """A window from 20:00 (day 20–22, night 22–06, day 06–20) and one team with 16.7 h of work: the
    slots it works are taken in time order, so arrivals grow along its route and every slot is a
    real one (before the fix the overflow went to 22:00 after the next day's visits)."""
    reg = registry([(f"B{i}", 100.0 * i, 0.0, S, "c") for i in range(6)],
                   [(f"h{i}-{j}", f"B{i}", 2) for i in range(6) for j in range(25)], [site("S1", 0, 0)])
    sc = Scenario(window=WindowParams(start="2022-11-23 20:00"), home_visits=HomeVisitParams(teams=1))
    plan = make_plan(sc, reg)
    home = np.flatnonzero(plan.mode == MODE_HOME)
    assert len(home) == 150
    check_routes(reg.households.building[home], plan.team[home], route_of(plan)[0][home], plan.slot[home],
                 route_of(plan)[1][home], 30, plan.grid.n, DOOR)
    assert plan.grid.night[plan.slot[home]].sum() > 0  # it does work at night, in its turn
    assert plan.summary["home_routes"]["teams_past_day_end"] == 1


def test_route_stays_inside_the_team_hours():
    """Every visit ends inside the window; with too little time the report counts who is unreached."""
    reg, queue = line_city(n_per_building=5)
    r = route(reg, queue, slots=2)  # one hour
    placed = r.slot >= 0
    assert (r.arrival[placed] + DOOR <= 60 + 1e-9).all()
    assert r.report["unreached_households"] == int((~placed).sum()) > 0
    check_routes(reg.households.building[queue], r.team, r.stop, r.slot, r.arrival, 30, 2, DOOR)


# --- fallbacks -----------------------------------------------------------------------------------------


def test_nearest_neighbour_fallback_gives_a_valid_route():
    """More stops than ``route_max_stops``: nearest neighbour from the first stop, A → C → B."""
    reg, queue = line_city()
    r = route(reg, queue, HomeVisitParams(teams=1, route_max_stops=2))
    assert r.report["methods"] == {"nearest-neighbour": 1}
    b = reg.households.building[queue]
    assert [int(b[r.stop == s][0]) for s in (1, 2, 3)] == [0, 2, 1]
    check_routes(b, r.team, r.stop, r.slot, r.arrival, 30, 48, DOOR)
    assert r.report["travel_hours_routed"] < r.report["travel_hours_building_order"]


def test_solver_without_a_solution_keeps_the_building_order(monkeypatch: pytest.MonkeyPatch):
    """If OR-Tools returns nothing the team walks its buildings in call-down order: still a valid route."""
    monkeypatch.setattr(homeroute, "_route_or_tools", lambda *a, **k: None)
    reg, queue = line_city()
    r = route(reg, queue)
    b = reg.households.building[queue]
    assert [int(b[r.stop == s][0]) for s in (1, 2, 3)] == [0, 1, 2]
    assert r.report["travel_hours_routed"] == r.report["travel_hours_building_order"]
    check_routes(b, r.team, r.stop, r.slot, r.arrival, 30, 48, DOOR)


def test_no_teams_or_no_households_schedule_nobody():
    reg, queue = line_city()
    none = route(reg, queue, HomeVisitParams(teams=0))
    assert (none.slot == -1).all() and none.report["teams_used"] == 0
    empty = route(reg, queue[:0])
    assert len(empty.slot) == 0 and empty.report["team_hours_routed"] == 0


# --- determinism and invariants --------------------------------------------------------------------------


def test_same_inputs_give_identical_routes():
    reg = random_city(11, 60, 3, extent_m=2500.0, sealed_share=1.0)
    queue = np.arange(len(reg.households))
    hv = HomeVisitParams(teams=3)
    a, b = route(reg, queue, hv), route(reg, queue, hv)
    for name in ("team", "stop", "slot"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist()
    assert np.array_equal(a.arrival, b.arrival, equal_nan=True)
    assert a.report == b.report
    assert a.report["methods"] == {"routing": 3}


START = st.sampled_from(["2022-11-23 06:00", "2022-11-23 20:00", "2022-11-23 13:15", "2022-11-23 23:00"])


@SETTINGS
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(1, 30), teams=st.integers(1, 4),
       hours=st.sampled_from([1.0, 3.0, 12.0, 24.0, 30.0]), start=START, extent=st.sampled_from([200.0, 3000.0]))
def test_invariants_over_random_home_visit_sets(seed, n_buildings, teams, hours, start, extent):
    """Everyone visited once or listed with a reason, no visit past the window, stops contiguous per
    building, arrivals growing along each route, and the route never longer than building order."""
    reg = random_city(seed, n_buildings, 1, extent_m=extent, sealed_share=1.0)
    sc = Scenario(window=WindowParams(start=start, hours=hours), home_visits=HomeVisitParams(teams=teams))
    plan = make_plan(sc, reg)
    n = len(reg.households)
    home = np.flatnonzero(plan.mode == MODE_HOME)
    out = np.flatnonzero(plan.mode == MODE_UNPLACED)
    assert len(home) + len(out) == n  # every household sealed: visited at home or unplaced
    assert all("add teams" in str(x) for x in plan.reason[out])
    assert ((plan.team[home] >= 1) & (plan.team[home] <= teams)).all()
    check_routes(reg.households.building[home], plan.team[home], route_of(plan)[0][home], plan.slot[home],
                 route_of(plan)[1][home], plan.grid.minutes, plan.grid.n, DOOR)
    rep = plan.summary["home_routes"]
    assert rep["unreached_households"] == len(out)
    assert rep["travel_hours_routed"] <= rep["travel_hours_building_order"]
    assert rep["team_hours_routed"] <= rep["team_hours_building_order"]
    frames = plan_frames(plan)
    assert sorted(frames["home_visits"]["household_id"]) == sorted(reg.households.id[home])


def _plan(routing: bool) -> Plan:
    reg = random_city(5, 40, 2, extent_m=2000.0, sealed_share=1.0)
    return make_plan(Scenario(home_visits=HomeVisitParams(teams=2, routing=routing)), reg)


def test_plan_reports_team_hours_with_and_without_routing():
    """The routed plan reports both; its total is never more than building order. Building order
    (routing off) schedules the same households without a route report."""
    routed, plain = _plan(True), _plan(False)
    rep = routed.summary["home_routes"]
    assert {"team_hours_routed", "team_hours_building_order", "saved_percent", "methods"} <= set(rep)
    assert 0 < rep["team_hours_routed"] <= rep["team_hours_building_order"]
    assert rep["travel_hours_routed"] < rep["travel_hours_building_order"]  # 40 random buildings: a real saving
    assert rep["team_hours_building_order"] - rep["team_hours_routed"] == pytest.approx(
        rep["travel_hours_building_order"] - rep["travel_hours_routed"], abs=0.02)
    assert "home_routes" not in plain.summary and plain.stop is None
    assert sorted(np.flatnonzero(routed.mode == MODE_HOME)) == sorted(np.flatnonzero(plain.mode == MODE_HOME))


# --- the simulator replays the routes ---------------------------------------------------------------------


@pytest.mark.parametrize("start", ["2022-11-23 06:00", "2022-11-23 20:00"])
def test_simulator_visits_in_route_order(start: str):
    """In the simulated trace each team rings the doors in the order of its planned route."""
    from sim.engine import run_replication
    from sim.inputs import from_plan
    from sim.params import SimParams

    reg = random_city(3, 30, 2, extent_m=2000.0, sealed_share=1.0)
    teams = 1 if start.endswith("20:00") else 3  # one team from 20:00: its route runs into the night
    plan = make_plan(Scenario(window=WindowParams(start=start), home_visits=HomeVisitParams(teams=teams)), reg)
    rec = run_replication(from_plan(plan, SimParams()), SimParams(), seed=4, trace=True)
    assert rec.trace is not None
    seen: dict[str, list[str]] = {}
    for _, text in rec.trace:
        m = re.fullmatch(r"visit (\S+) by team (\d+)", text)
        if m:
            seen.setdefault(m.group(2), []).append(m.group(1))
    home = np.flatnonzero(plan.mode == MODE_HOME)
    assert len(home) > 20
    ids = reg.households.id
    for t in np.unique(plan.team[home]):
        seq = visit_sequence(np.where(plan.mode == MODE_HOME, plan.team, -1), *route_of(plan), int(t))
        assert seen[str(t)] == ids[seq].tolist()
    assert sum(len(v) for v in seen.values()) == len(home)


def test_simulated_travel_is_the_planned_travel():
    """With the planner's door time and building move the simulator's travel between two stops is the
    route's hop: the time from one door's end to the next door is the planned walk or hop (two-hour
    slots: the whole route is in the first, so the team never waits for a slot)."""
    reg, _ = line_city()
    plan = make_plan(Scenario(window=WindowParams(slot_minutes=120), home_visits=HomeVisitParams(teams=1)), reg)
    assert (plan.slot[plan.mode == MODE_HOME] == 0).all()
    from sim.engine import run_replication
    from sim.inputs import from_plan
    from sim.params import SimParams

    params = replace(SimParams(), home_travel_min=HomeVisitParams().building_minutes)
    inputs = from_plan(plan, params)
    rec = run_replication(inputs, params, seed=1, trace=True)
    assert rec.trace is not None
    starts = [t for t, text in rec.trace if text.startswith("visit ")]
    ends = [t for t, text in rec.trace if text.startswith("end ")]
    gaps = np.array(starts[1:]) - np.array(ends[:-1])
    hop = 4 + 500 / M_PER_MIN
    assert gaps.tolist() == pytest.approx([SAME_BUILDING_MIN, hop, SAME_BUILDING_MIN, hop, SAME_BUILDING_MIN])
