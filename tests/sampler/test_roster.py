"""PPE shift rosters: exact small rosters, shortages, random instances, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sampler.errors import InputError
from sampler.model import Site
from sampler.params import Scenario, WindowParams, scenario_from_mapping
from sampler.roster.model import Limits
from sampler.roster.params import RosterParams, roster_params
from sampler.roster.rules import StaffMember, build_roster, demand, plan_tables
from tests.sampler.roster_check import check_roster


def _scenario(hours: float, start: str = "2022-11-23 06:00") -> Scenario:
    return Scenario(area="测试", window=WindowParams(start=start, hours=hours, slot_minutes=30))


def _site(sid: str, tables: int = 1, open_minute: int = 0, close_minute: int = 1440) -> Site:
    return Site(sid, f"site {sid}", 118.0, 27.0, tables, 80.0, open_minute, close_minute)


SAMPLERS_ONLY = RosterParams(registrars_per_table=0)


def test_one_table_four_slots_goes_to_the_only_person_who_can_do_two_hours():
    """Two hours, one table: only the person available all two hours can work (no 30-minute stints)."""
    staff = [StaffMember("A", "甲", "sampler", "", 0, 4), StaffMember("B", "乙", "sampler", "", 2, 4)]
    roster = build_roster(_scenario(2), [_site("S1")], staff, SAMPLERS_ONLY)
    rows = roster.stints.to_dict("records")
    assert rows == [{"staff_id": "A", "name": "甲", "role": "sampler", "site_id": "S1", "table": 1,
                     "start": "2022-11-23 06:00", "end": "2022-11-23 08:00"}]
    assert roster.unstaffed.empty and roster.summary()["filled"] == 4


def test_ppe_limit_forces_a_hand_over():
    """Four hours with a 2-hour PPE limit and a 1-hour rest: two people, one after the other."""
    params = RosterParams(registrars_per_table=0, max_ppe_hours=2)
    staff = [StaffMember("A", "甲", "sampler", "", 0, 8), StaffMember("B", "乙", "sampler", "S1", 0, 8)]
    roster = build_roster(_scenario(4), [_site("S1")], staff, params)
    spans = sorted((r.start[-5:], r.end[-5:]) for r in roster.stints.itertuples())
    assert spans == [("06:00", "08:00"), ("08:00", "10:00")]
    assert set(roster.stints["staff_id"]) == {"A", "B"} and roster.summary()["hand_overs"] == 1


def test_shortage_names_the_slots_nobody_can_staff():
    """One person available 06:00–08:00 for a 4-hour window leaves 08:00–10:00 unstaffed, slot by slot."""
    staff = [StaffMember("A", "甲", "sampler", "", 0, 4)]
    roster = build_roster(_scenario(4), [_site("S1")], staff, SAMPLERS_ONLY)
    assert roster.unstaffed["slot_start"].str[-5:].tolist() == ["08:00", "08:30", "09:00", "09:30"]
    assert roster.unstaffed["missing"].tolist() == [1, 1, 1, 1]
    s = roster.summary()
    assert (s["positions"], s["filled"], s["unstaffed"], s["unstaffed_hours"]) == (8, 4, 4, 2.0)


def test_demand_counts_registrars_and_respects_opening_hours():
    """Each open table needs a sampler and (by default) a registrar; closed slots need nobody."""
    site = _site("S1", tables=3, open_minute=7 * 60, close_minute=8 * 60)
    need, places = demand(_scenario(3), [site], RosterParams())
    assert need[0, 0].tolist() == [0, 0, 3, 3, 0, 0]
    assert need[0, 1].tolist() == [0, 0, 3, 3, 0, 0]
    assert (places == need).all()


def test_stagger_keeps_half_the_tables_open_at_hand_over():
    """Four tables over eight hours: no more than two tables change crew in one slot."""
    staff = [StaffMember(f"P{i}", f"p{i}", "sampler", "S1", 0, 16) for i in range(8)]
    params = RosterParams(registrars_per_table=0, max_ppe_hours=4, max_total_hours=4)
    roster = build_roster(_scenario(8), [_site("S1", tables=4)], staff, params)
    check_roster(roster, _scenario(8), [_site("S1", tables=4)], staff, params)
    later = roster.stints[roster.stints["start"] > "2022-11-23 06:00"]
    assert later.groupby("start").size().max() <= 2
    assert roster.summary()["unstaffed"] == 0


def test_plan_tables_keep_a_tail_and_a_table_open_through_the_opening_hours():
    """A planned stretch keeps its tables one slot longer (also past closing); a used site keeps one table open."""
    planned = np.array([[0, 3, 3, 1, 0, 0, 0, 0],    # site 0: open slots 1-5, planned 1-3
                        [0, 0, 0, 0, 0, 0, 0, 0]])   # site 1: open, but the plan does not use it
    is_open = np.array([[False, True, True, True, True, True, False, False],
                        [True] * 8])
    tables, used = np.array([3, 2]), np.array([True, False])
    out = plan_tables(planned, is_open, tables, used, tail_slots=1, min_open_tables=1)
    assert out.tolist() == [[0, 3, 3, 3, 1, 1, 1, 0], [0] * 8]
    assert plan_tables(planned, is_open, tables, used, 0, 0).tolist() == planned.tolist()
    assert plan_tables(planned, is_open, tables, used, 2, 0)[0].tolist() == [0, 3, 3, 3, 3, 1, 0, 0]
    assert plan_tables(planned, is_open, tables, used, 0, 5)[0].tolist() == [0, 3, 3, 3, 3, 3, 0, 0]


def test_negative_tail_or_minimum_tables_are_refused():
    """tail_slots and min_open_tables must be 0 or more, in the scenario and as overrides."""
    for key in ("tail_slots", "min_open_tables"):
        with pytest.raises(InputError) as info:
            scenario_from_mapping({"roster": {key: -1}})
        assert info.value.issues[0].field == f"roster.{key}"
        with pytest.raises(InputError) as info:
            roster_params(Scenario(), **{key: -1})
        assert info.value.issues[0].field == f"roster.{key}"


@st.composite
def instances(draw: st.DrawFn) -> tuple[Scenario, list[Site], list[StaffMember], RosterParams]:
    n_slots = draw(st.integers(4, 10))
    sites = [_site(f"S{k}", draw(st.integers(1, 3)), *draw(st.sampled_from([(0, 1440), (7 * 60, 9 * 60)])))
             for k in range(draw(st.integers(1, 2)))]
    staff = []
    for i in range(draw(st.integers(1, 6))):
        a = draw(st.integers(0, n_slots - 1))
        b = draw(st.integers(a + 1, n_slots))
        staff.append(StaffMember(f"P{i}", f"p{i}", draw(st.sampled_from(["sampler", "registrar"])),
                                 draw(st.sampled_from(["", *[s.id for s in sites]])), a, b))
    max_ppe = draw(st.sampled_from([1.0, 1.5, 2.0]))
    params = RosterParams(
        max_ppe_hours=max_ppe, min_stint_hours=draw(st.sampled_from([0.5, 1.0])) if max_ppe > 1 else 0.5,
        min_rest_hours=draw(st.sampled_from([0.0, 0.5, 1.0])), max_total_hours=draw(st.sampled_from([1.0, 2.0, 3.0])),
        registrars_per_table=draw(st.integers(0, 2)), stagger=draw(st.booleans()),
        max_variables=draw(st.sampled_from([1, 60_000])))
    return _scenario(n_slots / 2), sites, staff, params


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_rosters_keep_every_rule(case: tuple[Scenario, list[Site], list[StaffMember], RosterParams]):
    """On random small instances every rule holds and filled + unstaffed = positions."""
    scenario, sites, staff, params = case
    roster = build_roster(scenario, sites, staff, params)
    check_roster(roster, scenario, sites, staff, params)


def test_forced_decomposition_still_keeps_every_rule():
    """With a tiny variable budget people who may go anywhere get one site each; the rules still hold."""
    sites = [_site("S1", 2), _site("S2", 1)]
    staff = [StaffMember(f"P{i}", f"p{i}", "sampler", "", 0, 12) for i in range(6)]
    params = RosterParams(registrars_per_table=0, max_variables=1)
    roster = build_roster(_scenario(6), sites, staff, params)
    check_roster(roster, _scenario(6), sites, staff, params)
    assert roster.summary()["decomposed"] and roster.summary()["unstaffed"] == 0


def test_same_seed_gives_byte_identical_files(tmp_path: Path):
    """Two runs with the same seed write identical roster.csv, unstaffed.csv and roster.xlsx."""
    sites = [_site("S1", 3), _site("S2", 2, 7 * 60, 12 * 60)]
    staff = [StaffMember(f"P{i}", f"p{i}", "sampler" if i % 3 else "registrar", "", i % 4, 16) for i in range(12)]
    for name in ("a", "b"):
        build_roster(_scenario(8), sites, staff, RosterParams(seed=7)).write(tmp_path / name)
    for file in ("roster.csv", "unstaffed.csv", "roster.xlsx"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_parameters_come_from_the_roster_section_with_overrides():
    """The scenario's roster section sets parameters; keyword overrides win; unknown keys are refused."""
    scenario = scenario_from_mapping({"roster": {"max_ppe_hours": 3, "seed": 5}})
    params = roster_params(scenario, seed=9, stagger=None)
    assert (params.max_ppe_hours, params.seed, params.stagger) == (3.0, 9, True)
    assert params.limits(30) == Limits(min_len=4, max_len=6, rest=2, total=20)
    assert roster_params(Scenario()) == RosterParams()
    with pytest.raises(InputError) as info:
        scenario_from_mapping({"roster": {"max_ppe": 3}})
    assert info.value.issues[0].field == "roster.max_ppe"


def test_a_solver_out_of_time_still_returns_a_roster_that_keeps_every_rule():
    """With almost no solver time the greedy start (or what CP-SAT made of it) still keeps every rule."""
    sites = [_site("S1", 3), _site("S2", 2, 8 * 60, 12 * 60)]
    staff = [StaffMember(f"P{i}", f"p{i}", "sampler" if i % 3 else "registrar", "S1" if i % 4 == 0 else "",
                         (i % 3) * 2, 16) for i in range(14)]
    params = RosterParams(max_deterministic_time=1e-6, max_ppe_hours=3, min_stint_hours=1.5)
    roster = build_roster(_scenario(8), sites, staff, params)
    check_roster(roster, _scenario(8), sites, staff, params)
    assert roster.summary()["filled"] > 0
