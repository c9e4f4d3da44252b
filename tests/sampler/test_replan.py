"""Same-day re-plan (`sampler.plan.replan.replan`, `sampler replan`): exact small cases (a closed
site, a full afternoon, a missed household re-placed after at + lead), invariants over random
cities and check-in sets, the CLI with its bad input, and sms/notices writing only the news."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from sampler.commands import ui
from sampler.errors import InputError
from sampler.model import RiskZone
from sampler.params import CapacityParams, HomeVisitParams, Scenario, WindowParams
from sampler.plan.planner import MODE_HOME, MODE_SITE, MODE_UNPLACED, Plan, make_plan
from sampler.plan.replan import replan
from sampler.planfiles.read import PlanFiles, news_only, read_plan
from sampler.planfiles.write import write_plan
from tests.sampler.cities import random_city, registry, site
from tests.sampler.registry_files import HOUSEHOLDS, rows_text, write_city

P = RiskZone.PRECAUTION
runner = CliRunner()


def scenario(hours: float = 4.0, **planner: object) -> Scenario:
    sc = Scenario(capacity=CapacityParams(utilisation=1.0), window=WindowParams(hours=hours, slot_minutes=30),
                  home_visits=HomeVisitParams(teams=4))
    return sc.replace(planner=replace(sc.planner, **planner)) if planner else sc


def planned(sc: Scenario, reg, root: Path) -> tuple[Plan, PlanFiles]:  # type: ignore[no-untyped-def]
    plan = make_plan(sc, reg)
    write_plan(plan, root / "plan", xlsx=False)
    return plan, read_plan(root / "plan")


def test_a_closed_site_moves_only_its_households(tmp_path: Path) -> None:
    """S1 closes from the start: A's four households (at S1) go to S2 after B's, which keep slot 0."""
    # rate 8/h × 0.5 h = 4 people per slot at each site.
    reg = registry([("A", 0, 0, P, "c"), ("B", 600, 0, P, "c")],
                   [("a1", "A", 2), ("a2", "A", 2), ("a3", "A", 2), ("a4", "A", 2), ("b1", "B", 2), ("b2", "B", 2)],
                   [site("S1", 0, 0, rate=8.0), site("S2", 600, 0, rate=8.0)])
    sc = scenario()
    plan, files = planned(sc, reg, tmp_path)
    assert plan.site.tolist() == [0, 0, 0, 0, 1, 1] and plan.slot.tolist() == [0, 0, 1, 1, 0, 0]
    new = replan(sc, reg, files, np.zeros(6, dtype=bool), 0.0, lead_minutes=0.0, close={"S1"})
    assert new.change.tolist() == ["moved"] * 4 + ["kept"] * 2
    assert new.site.tolist() == [1] * 6
    assert new.slot.tolist() == [1, 1, 2, 2, 0, 0]
    s = new.summary
    assert s["violations"] == 0 and s["unplaced_households"] == 0
    r = s["replan"]
    assert (r["sampled"], r["kept"], r["moved"], r["home"], r["unplaced"]) == (0, 2, 4, 0, 0)
    assert r["closed_sites"] == ["S1"] and r["replanned"]["households"] == 4
    assert r["parent"]["directory"] == str(tmp_path / "plan") and len(r["parent"]["plan_json_sha256"]) == 64
    assert new.grid.capacity[0].sum() == 0  # closed from the cutoff (here: the window start)


def _full_afternoon(with_second_site: bool) -> tuple[Scenario, object, np.ndarray]:
    """One site of 4 people per slot, six households of 4: every slot full. The first is sampled,
    the second missed, the third's slot starts before the cutoff (at 60 + lead 30 = slot 3)."""
    sites = [site("S1", 0, 0, rate=8.0)] + ([site("S2", 600, 0, rate=8.0)] if with_second_site else [])
    reg = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 4) for i in range(6)], sites)
    return scenario(hours=3.0, cohesion_penalty=0.0), reg, np.array([True] + [False] * 5)


def test_a_full_afternoon_leaves_the_missed_unplaced_with_the_reason(tmp_path: Path) -> None:
    sc, reg, sampled = _full_afternoon(False)
    plan, files = planned(sc, reg, tmp_path)
    assert plan.slot.tolist() == [0, 1, 2, 3, 4, 5]
    new = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0)
    assert new.change.tolist() == ["sampled", "unplaced", "unplaced", "kept", "kept", "kept"]
    assert new.mode.tolist() == [MODE_SITE, MODE_UNPLACED, MODE_UNPLACED, MODE_SITE, MODE_SITE, MODE_SITE]
    assert new.slot.tolist()[3:] == [3, 4, 5]
    assert all("no capacity left" in str(x) for x in new.reason[1:3])
    assert new.summary["replan"]["unplaced"] == 2 and new.summary["violations"] == 0


def test_a_full_afternoon_sends_the_missed_to_the_other_site_after_the_cutoff(tmp_path: Path) -> None:
    sc, reg, sampled = _full_afternoon(True)
    plan, files = planned(sc, reg, tmp_path)
    near = plan.site == 0
    assert near.all()  # S2 is farther: the plan fills S1 first
    new = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0)
    assert new.change.tolist() == ["sampled", "moved", "moved", "kept", "kept", "kept"]
    assert new.site[1:3].tolist() == [1, 1] and new.slot[1:3].tolist() == [3, 3 + 1]
    assert new.summary["replan"]["cutoff"] == new.grid.labels()[3]


def test_a_missed_household_is_re_placed_at_the_first_slot_after_at_plus_lead(tmp_path: Path) -> None:
    """Room everywhere: h4 missed its slot 0; at 120 + lead 30 its new slot is slot 5 (08:30)."""
    reg = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(1, 5)], [site("S1", 0, 0, rate=40.0)])
    sc = scenario()
    plan, files = planned(sc, reg, tmp_path)
    assert plan.slot.tolist() == [0, 0, 0, 0]
    new = replan(sc, reg, files, np.array([True, True, True, False]), 120.0, lead_minutes=30.0)
    assert new.change.tolist() == ["sampled"] * 3 + ["moved"]
    assert new.slot.tolist() == [0, 0, 0, 5] and new.site.tolist() == [0, 0, 0, 0]
    r = new.summary["replan"]
    assert (r["at"], r["cutoff"], r["lead_minutes"]) == ("2022-11-23 08:00", "2022-11-23 08:30", 30.0)
    assert r["moved_people"] == 2
    assert r["replanned"]["gap"] == pytest.approx(0.0, abs=1e-9)


def _room_case() -> tuple[Scenario, object, np.ndarray]:
    """S1 (4 people a slot) is the only site A can reach; S2 serves B's compound only. a1 (A) and
    b2 miss slots 0 and 2; b3–b5 hold S1's slots 3–5, the slots left after at 60 + lead 30."""
    reg = registry([("A", 0, 0, P, "cA"), ("B", 100, 0, P, "cB")],
                   [("a1", "A", 4)] + [(f"b{i}", "B", 4) for i in range(1, 6)],
                   [site("S1", 0, 0, rate=8.0), site("S2", 1000, 0, rate=8.0, serves=("cB",))])
    return scenario(hours=3.0, cohesion_penalty=0.0, candidate_sites=1), reg, np.array([False, True] + [False] * 4)


def test_a_kept_booking_moves_only_when_that_places_someone(tmp_path: Path) -> None:
    """Without making room a1 is unplaced (S1 is full of kept bookings); with it exactly one of
    b3–b5 moves to S2 (B's own site) and a1 takes its place at S1; the others keep theirs."""
    sc, reg, sampled = _room_case()
    plan, files = planned(sc, reg, tmp_path)
    assert (plan.site == 0).all() and plan.slot.tolist() == [0, 1, 2, 3, 4, 5]
    stay = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0, make_room=False)
    assert stay.change.tolist() == ["unplaced", "sampled", "moved", "kept", "kept", "kept"]
    assert stay.site[2] == 1 and stay.summary["replan"]["made_room"]["second_pass"] is False
    new = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0)
    change = new.change.tolist()
    assert change[:3] == ["moved", "sampled", "moved"] and sorted(change[3:]) == ["kept", "kept", "moved"]
    assert new.site[0] == 0 and new.slot[0] >= 3
    moved_b = 3 + change[3:].index("moved")
    assert new.site[moved_b] == 1 and new.slot[moved_b] >= 3 and new.site[2] == 1
    assert new.summary["violations"] == 0 and new.summary["unplaced_households"] == 0
    assert (new.load() <= new.grid.capacity).all()
    assert new.summary["replan"]["made_room"] == {"released": 3, "moved": 1, "placed": 1, "second_pass": True}


def test_no_room_to_make_keeps_every_booking(tmp_path: Path) -> None:
    """The same city without B's own site: nobody could move anywhere useful, nothing is released."""
    sc, reg, sampled = _full_afternoon(False)
    _, files = planned(sc, reg, tmp_path)
    new = replan(sc, reg, files, sampled, 60.0, lead_minutes=30.0)
    assert new.summary["replan"]["made_room"] == {"released": 0, "moved": 0, "placed": 0, "second_pass": False}


def test_follow_up_outcomes_decide_who_is_re_booked(tmp_path: Path) -> None:
    """Grid workers' outcomes: away and refused get no new slot (closed, listed with the outcome),
    at home becomes a home visit after the cutoff, coming is re-booked as any missed household;
    an outcome on a sampled household changes nothing; no SMS for the closed ones."""
    reg = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(1, 7)], [site("S1", 0, 0, rate=40.0)])
    sc = scenario()
    plan, files = planned(sc, reg, tmp_path)
    assert (plan.slot == 0).all()
    sampled = np.array([True, True, False, False, False, False])
    outcomes = ["away", "", "away", "home_visit", "coming", "refused"]
    new = replan(sc, reg, files, sampled, 120.0, lead_minutes=30.0, outcomes=outcomes)
    assert new.change.tolist() == ["sampled", "sampled", "closed", "home", "moved", "closed"]
    assert new.mode.tolist() == [MODE_SITE, MODE_SITE, MODE_UNPLACED, MODE_HOME, MODE_SITE, MODE_UNPLACED]
    assert new.slot[3] >= 5 and new.slot[4] == 5
    assert "away" in new.reason[2] and "不在本区域" in new.reason[2] and "拒绝" in new.reason[5]
    assert "在家" in new.reason[3]
    r = new.summary["replan"]
    assert (r["closed"], r["home"], r["moved"], r["unplaced"]) == (2, 1, 1, 0)
    assert "shortfall" not in new.summary  # nobody is short of tables for the closed ones
    assert new.summary["objective_parts"]["unplaced"] == 0 and new.summary["closed_households"] == 2
    write_plan(new, tmp_path / "new", xlsx=False)
    got = read_plan(tmp_path / "new")
    assert sorted(got.unplaced["household_id"]) == ["h3", "h6"]
    assert sorted(news_only(got).assignments["household_id"]) == ["h4", "h5"]
    with pytest.raises(ValueError, match="unknown follow-up"):
        replan(sc, reg, files, sampled, 120.0, outcomes=["gone"] * 6)


def test_fewer_tables_drop_the_last_called_and_count_the_sampled(tmp_path: Path) -> None:
    """S1 goes from 2 tables to 1 (8 → 4 people per slot): in each slot ahead the last called of
    the slot lose their place; nobody kept or placed exceeds the new capacity."""
    reg = registry([("A", 0, 0, P, "c"), ("B", 900, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(8)],
                   [site("S1", 0, 0, tables=2, rate=8.0), site("S2", 900, 0, rate=40.0)])
    sc = scenario()
    plan, files = planned(sc, reg, tmp_path)
    assert (plan.site == 0).all() and plan.slot.tolist() == [0] * 4 + [1] * 4
    new = replan(sc, reg, files, np.zeros(8, dtype=bool), 0.0, lead_minutes=0.0, tables={"S1": 1})
    assert new.change.tolist() == ["kept", "kept", "moved", "moved", "kept", "kept", "moved", "moved"]
    assert new.summary["violations"] == 0
    load = new.load()
    assert (load <= new.grid.capacity).all() and new.grid.capacity[0, 0] == 4


def test_a_new_site_takes_a_closed_sites_households_and_re_plans_chain(tmp_path: Path) -> None:
    """S1 closes, S3 opens next to it: A's households move to S3 from the cutoff. The re-plan's
    own plan directory re-plans again (its sites.csv has S3): nothing more to move, all kept."""
    reg = registry([("A", 0, 0, P, "c")], [(f"h{i}", "A", 2) for i in range(4)],
                   [site("S1", 0, 0, rate=40.0), site("S2", 900, 0, rate=40.0)])
    sc = scenario()
    plan, files = planned(sc, reg, tmp_path)
    assert (plan.site == 0).all() and (plan.slot == 0).all()
    new = replan(sc, reg, files, np.zeros(4, dtype=bool), 0.0, lead_minutes=30.0, close={"S1"},
                 extra_sites=[site("S3", 100, 0, rate=40.0)])
    assert [s.id for s in new.registry.sites] == ["S1", "S2", "S3"]
    assert new.site.tolist() == [2] * 4 and new.slot.tolist() == [1] * 4
    assert new.change.tolist() == ["moved"] * 4 and new.summary["replan"]["new_sites"] == ["S3"]
    assert new.grid.capacity[2, 0] == 0 and new.grid.capacity[2, 1] == 20  # opens at the cutoff
    write_plan(new, tmp_path / "new", xlsx=False)
    again = replan(sc, reg, read_plan(tmp_path / "new"), np.zeros(4, dtype=bool), 30.0, lead_minutes=0.0)
    assert again.change.tolist() == ["kept"] * 4 and again.site.tolist() == [2] * 4
    assert again.grid.capacity[0, 1:].sum() == 0  # S1 stays closed: capacities come from the parent


def test_bad_changes_name_the_option_and_value(tmp_path: Path) -> None:
    reg = registry([("A", 0, 0, P, "c")], [("h1", "A", 2)], [site("S1", 0, 0)])
    sc = scenario()
    _, files = planned(sc, reg, tmp_path)
    no = np.zeros(1, dtype=bool)
    with pytest.raises(InputError) as exc:
        replan(sc, reg, files, no, 0.0, close={"S9"}, tables={"S1": 0, "S7": 2})
    got = {(i.field, i.value) for i in exc.value.issues}
    assert got == {("--close", "S9"), ("--tables", "S1=0"), ("--tables", "S7=2")}
    with pytest.raises(InputError) as exc:
        replan(sc, reg, files, no, 999.0)
    assert exc.value.issues[0].field == "at"
    with pytest.raises(InputError) as exc:  # a plan of another day's window
        replan(scenario(hours=6.0), reg, files, no, 0.0)
    assert exc.value.issues[0].field == "window.slots"


@pytest.mark.parametrize("variant", ["clean", "blank people", "by household id", "late rows", "unknown code"])
def test_checkins_in_arrays_agree_with_the_row_by_row_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 variant: str) -> None:
    """The array path of sampled_from_checkins gives what validate_checkins gives, row by row."""
    import sampler.plan.replan as rp

    sc, reg = scenario(), random_city(4, 8, 2)
    plan, files = planned(sc, reg, tmp_path)
    a = files.assignments
    rows = [{"id": f"c{i}", "code": r.code.lower() if i % 3 == 0 else r.code, "household_id": "", "phone": "",
             "site_id": r.site_id or "home", "at": f"2022-11-23T{6 + i % 2:02d}:10:00+08:00",
             "people": "" if variant == "blank people" and i % 2 else str(r.size), "tube": "", "row": i + 1}
            for i, r in enumerate(a.itertuples())]
    if variant == "by household id":
        rows[0] = {**rows[0], "code": "", "household_id": a["household_id"].iloc[0]}
    if variant == "late rows":
        rows[1] = {**rows[1], "at": "2022-11-23T09:50:00+08:00"}
    if variant == "unknown code":
        rows[2] = {**rows[2], "code": "ZZZZZZZZ"}
    rows.append({**rows[0], "people": "1"})  # the same id again: a duplicate, counted once

    real, used = rp._sampled_fast, []
    monkeypatch.setattr(rp, "_sampled_fast", lambda *args: used.append(real(*args)) or used[-1])

    def both() -> list[object]:
        out: list[object] = []
        for fast in (True, False):
            if not fast:
                monkeypatch.setattr(rp, "_sampled_fast", lambda *args: None)
            try:
                sampled, later = rp.sampled_from_checkins(files, reg, rows, 120.0, "x.csv")
                out.append((sampled.tolist(), later))
            except InputError as exc:
                out.append([(i.row, i.field, i.value) for i in exc.issues])
        return out

    fast, slow = both()
    assert fast == slow
    assert (used[0] is not None) == (variant in ("clean", "blank people", "late rows"))  # the array path ran
    if variant == "unknown code":
        assert fast == [(3, "code", "ZZZZZZZZ")]
    elif variant == "late rows":
        assert fast[1] == 1  # type: ignore[index]
    else:
        assert sum(fast[0]) > 0  # type: ignore[index, arg-type]


def test_checkins_read_from_a_file_agree_with_the_same_rows_as_dicts(tmp_path: Path) -> None:
    """read_checkins keeps a file's columns (`CheckinRows`); its rows are the dicts validation
    reads, and the array path on the columns gives what it gives on the dicts."""
    from sampler.day.files import CheckinRows, read_checkins
    from sampler.plan.replan import sampled_from_checkins

    sc, reg = scenario(), random_city(4, 8, 2)
    _plan, files = planned(sc, reg, tmp_path)
    a = files.assignments
    export = pd.DataFrame({"code": [c.lower() if i % 3 == 0 else c for i, c in enumerate(a["code"])],
                           "site_id": a["site_id"].fillna("").replace("", "home"),
                           "at": [f"2022-11-23 {6 + i % 3:02d}:10" for i in range(len(a))], "people": ""})
    export.loc[1, "people"] = "1"
    path = tmp_path / "checkins.csv"
    export.to_csv(path, index=False)
    rows = read_checkins(path)
    assert isinstance(rows, CheckinRows) and len(rows) == len(a)
    first = rows[0]
    assert first["at"] == "2022-11-23T06:10:00+08:00" and first["people"] is None and first["row"] == 1
    assert first["id"].startswith("file-") and rows[1]["people"] == "1" and rows[-1] == rows[len(a) - 1]
    as_dicts = list(rows)
    assert as_dicts[1:3] == rows[1:3]
    by_columns = sampled_from_checkins(files, reg, rows, 100.0, str(path))
    by_dicts = sampled_from_checkins(files, reg, as_dicts, 100.0, str(path))
    assert by_columns[0].tolist() == by_dicts[0].tolist() and by_columns[1] == by_dicts[1]
    assert 0 < by_columns[0].sum() < len(a) and by_columns[1] > 0  # the window opens 06:00: 08:10 is after at
    bad = tmp_path / "bad.csv"
    export.assign(at=["9:61"] + list(export["at"][1:])).to_csv(bad, index=False)
    with pytest.raises(InputError) as exc:
        read_checkins(bad)
    assert [(i.row, i.field, i.value) for i in exc.value.issues] == [(2, "at", "9:61")]


def test_a_re_plan_keeps_the_codes_residents_were_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The codes come from the parent's contacts, not from this machine's secret (the SMS and the
    lookups of the day keep working); a parent without codes gets codes made afresh."""
    sc, reg = scenario(), random_city(5, 10, 2)
    monkeypatch.setenv("SAMPLER_CODE_SECRET", "a" * 40)
    _plan, files = planned(sc, reg, tmp_path)
    sent = dict(zip(files.contacts["household_id"], files.contacts["code"], strict=True))
    monkeypatch.setenv("SAMPLER_CODE_SECRET", "b" * 40)
    new = replan(sc, reg, files, np.zeros(len(reg.households), dtype=bool), 60.0, close={reg.sites[0].id})
    write_plan(new, tmp_path / "new", xlsx=False)
    again = read_plan(tmp_path / "new")
    assert dict(zip(again.contacts["household_id"], again.contacts["code"], strict=True)) == sent
    fresh = make_plan(sc, reg)
    write_plan(fresh, tmp_path / "fresh", xlsx=False)
    other = read_plan(tmp_path / "fresh").contacts
    assert set(other["code"]).isdisjoint(sent.values())  # another secret: other codes
    no_codes = replace(files, contacts=files.contacts.assign(code=""))
    assert replan(sc, reg, no_codes, np.zeros(len(reg.households), dtype=bool), 60.0).codes is None


# --- invariants over random cities and check-in sets ---------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n_buildings=st.integers(2, 10), n_sites=st.integers(1, 4),
       at=st.integers(0, 240), lead=st.sampled_from([0, 15, 30, 45]), share=st.floats(0.0, 1.0),
       n_close=st.integers(0, 2), sealed=st.sampled_from([0.0, 0.3]), fewer=st.booleans())
def test_replan_invariants(tmp_path_factory: pytest.TempPathFactory, seed: int, n_buildings: int, n_sites: int,
                           at: int, lead: int, share: float, n_close: int, sealed: float, fewer: bool) -> None:
    sc = scenario(hours=5.0)
    reg = random_city(seed, n_buildings, n_sites, sealed_share=sealed)
    plan, files = planned(sc, reg, tmp_path_factory.mktemp("p"))
    rng = np.random.default_rng(seed)
    due = (plan.mode != MODE_UNPLACED) & ((plan.slot + 1) * 30 <= at)
    sampled = due & (rng.random(len(due)) < share)
    close = {s.id for s in rng.permutation(np.array(reg.sites, dtype=object))[:min(n_close, n_sites - 1)]}
    tables = {reg.sites[-1].id: 1} if fewer and reg.sites[-1].id not in close else {}
    new = replan(sc, reg, files, sampled, float(at), lead_minutes=float(lead), close=close, tables=tables)
    again = replan(sc, reg, files, sampled, float(at), lead_minutes=float(lead), close=close, tables=tables)
    for name in ("mode", "site", "slot", "team"):
        assert np.array_equal(getattr(new, name), getattr(again, name)), name
    assert new.change.tolist() == again.change.tolist()
    # Sampled: untouched.
    for name in ("mode", "site", "slot", "team"):
        assert np.array_equal(getattr(new, name)[sampled], getattr(plan, name)[sampled]), name
    assert (new.change[sampled] == "sampled").all()
    # Kept: the same site and slot, at or after the cutoff.
    cutoff = -(-(at + lead) // 30)
    kept = new.change == "kept"
    assert np.array_equal(new.site[kept], plan.site[kept]) and np.array_equal(new.slot[kept], plan.slot[kept])
    # Moved, new home visits and newly placed: nothing before at + lead.
    moved = np.isin(new.change, ["moved", "home", "new"])
    assert (new.slot[moved] * 30 >= at + lead).all()
    assert (new.slot[moved] >= cutoff).all()
    # Capacity with the bookings, the closed sites from the cutoff.
    assert new.summary["violations"] == 0
    assert (new.load() <= new.grid.capacity).all()
    ids = [s.id for s in new.registry.sites]
    for sid in close:
        i = ids.index(sid)
        assert not ((new.site == i) & (new.slot >= cutoff) & ~sampled).any()
    # Every unsampled household placed, or listed with its reason.
    rest = ~sampled & (plan.mode != MODE_UNPLACED)
    placed = (new.mode == MODE_SITE) | (new.mode == MODE_HOME)
    assert all(str(x) for x in new.reason[rest & ~placed])
    assert (new.change[rest & ~placed] == "unplaced").all()
    # Sealed buildings stay at home.
    sealed_hh = reg.buildings.zone[reg.households.building] == RiskZone.SEALED
    assert not ((new.mode == MODE_SITE) & sealed_hh & ~sampled).any()
    # Counts add up.
    r = new.summary["replan"]
    assert sum(r[k] for k in ("sampled", "kept", "moved", "home", "new", "unplaced", "closed")) == len(reg.households)
    # Making room never places fewer, and moves kept bookings only when it places more.
    still = replan(sc, reg, files, sampled, float(at), lead_minutes=float(lead), close=close, tables=tables,
                   make_room=False)
    room = r["made_room"]
    assert r["unplaced"] == still.summary["replan"]["unplaced"] - room["placed"]
    assert room["moved"] <= room["released"] and (room["placed"] > 0) == room["second_pass"]
    if not room["second_pass"]:
        assert new.change.tolist() == still.change.tolist()


# --- the CLI -------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide consoles, so error tables are not cut before their file and value; ``_width`` is put
    back as it was (None: follow the terminal), where setting ``width`` back would freeze it."""
    monkeypatch.setattr(ui.console, "_width", 3000)
    monkeypatch.setattr(ui.err_console, "_width", 3000)


HOUSES = [HOUSEHOLDS[0], *[[f"H{i}", ("B1", "B2", "B3")[i % 3], "1", str(100 + i), str(1 + i % 4),
                            str(i % 2), "0", "张", f"1380013{i:04d}", "", ""] for i in range(240)]]
HEADER = ["核酸码", "采样点编号", "采样时间", "人数"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 240-household city planned once; a check-in export of every second household whose slot
    ended by 08:00 (the others missed)."""
    root = tmp_path_factory.mktemp("city")
    scenario_path = write_city(root, households=HOUSES)
    plan = root / "plan"
    result = runner.invoke(app, ["plan", str(scenario_path), "-o", str(plan), "--no-xlsx"])
    assert result.exit_code == 0, result.output
    a = pd.read_csv(plan / "assignments.csv", dtype=str, keep_default_na=False)
    a = a[(a["mode"] == "site") & (a["slot_end"] <= "2022-11-23 08:00")].iloc[::2]
    rows = [HEADER, *[[r.code, r.site_id, r.slot_end.replace("08:00", "07:55") + ":00", r.size]
                      for r in a.itertuples()]]
    checkins = root / "采样记录.csv"
    checkins.write_text(rows_text(rows), encoding="utf-8-sig")
    return {"scenario": scenario_path, "plan": plan, "checkins": checkins, "root": root, "sampled": len(a)}  # type: ignore[dict-item]


def _run(city: dict[str, Path], out: Path, *extra: str, at: str = "2022-11-23 08:00"):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["replan", str(city["scenario"]), "--plan", str(city["plan"]), "--checkins",
                               str(city["checkins"]), "--at", at, "-o", str(out), "--no-xlsx", *extra])


def test_cli_replan_writes_a_plan_with_its_changes(city: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "new"
    result = _run(city, out, "--tables", "S1=1", "--lead", "30")
    assert result.exit_code == 0, result.output
    s = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    r = s["replan"]
    assert r["sampled"] == city["sampled"] and r["tables"] == {"S1": 1} and r["lead_minutes"] == 30.0
    assert r["at"] == "2022-11-23 08:00" and r["cutoff"] == "2022-11-23 08:30"
    assert s["violations"] == 0 and r["parent"]["directory"] == str(city["plan"])
    files = read_plan(out)
    a = files.assignments
    assert set(a["change"]) <= {"sampled", "kept", "moved", "home", "new"}
    assert (a["change"] == "sampled").sum() == city["sampled"]
    moved = a[a["change"].isin(["moved", "home"])]
    assert len(moved) == r["moved"] + r["home"] and len(moved) > 0
    assert (moved["slot_start"] >= "2022-11-23 08:30").all()
    load = files.site_load
    assert (load["people"] <= load["capacity"]).all()
    assert "Re-plan" in result.output and "moved" in result.output
    # sms and notices on the re-plan: only the news.
    sms = tmp_path / "sms.csv"
    res = runner.invoke(app, ["sms", str(out), "-o", str(sms)])
    assert res.exit_code == 0, res.output
    texts = pd.read_csv(sms, dtype=str, encoding="utf-8-sig")
    invalid = pd.read_csv(tmp_path / "sms_invalid.csv", dtype=str, encoding="utf-8-sig")
    assert len(texts) + len(invalid) == len(moved)
    assert (texts["send_at"] >= "2022-11-23 08:00").all()  # from the re-plan's time on, not the evening before
    notices = tmp_path / "notices"
    res = runner.invoke(app, ["notices", str(out), "-o", str(notices)])
    assert res.exit_code == 0, res.output
    affected = set(moved["building_id"])
    written = {p.stem for p in notices.glob("*.html") if not p.stem.startswith(("grid-", "index"))}
    assert len(written) == len(affected)
    assert len(news_only(files, whole_buildings=True).assignments) == a["building_id"].isin(affected).sum()


def test_cli_plan_without_change_column_still_reads(city: dict[str, Path]) -> None:
    """A plan written before re-plans existed has no change column: it reads, and news_only keeps it whole."""
    files = read_plan(city["plan"])
    assert "change" not in files.assignments.columns
    assert news_only(files) is files


@pytest.mark.parametrize(("extra", "field", "value"), [
    (("--close", "S9"), "--close", "S9"),
    (("--tables", "S1:4"), "--tables", "S1:4"),
    (("--tables", "S1=x,S2=2"), "--tables", "S1=x"),
    (("--lead", "-5"), "--lead", "-5"),
])
def test_cli_bad_options_exit_2_and_write_nothing(city: dict[str, Path], tmp_path: Path, extra: tuple[str, ...],
                                                  field: str, value: str) -> None:
    out = tmp_path / "new"
    result = _run(city, out, *extra)
    assert result.exit_code == 2, result.output
    assert field in result.output and value in result.output
    assert not out.exists()


def test_cli_at_outside_the_window_exits_2(city: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "new"
    result = _run(city, out, at="2022-11-25 08:00")
    assert result.exit_code == 2 and "--at" in result.output and "inside the window" in result.output
    assert not out.exists()


def test_cli_checkins_of_another_plan_name_file_row_and_value(city: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "other.csv"
    bad.write_text(rows_text([HEADER, ["ZZZZZZZZ", "S1", "2022-11-23 07:00:00", "1"]]), encoding="utf-8")
    out = tmp_path / "new"
    result = runner.invoke(app, ["replan", str(city["scenario"]), "--plan", str(city["plan"]), "--checkins",
                                 str(bad), "--at", "08:00", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "other.csv" in result.output and "ZZZZZZZZ" in result.output
    assert not out.exists()


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.text("ABCDEFGH", min_size=1, max_size=10), max_size=60),
       extra=st.lists(st.text("ABCDEFGHZ", min_size=1, max_size=10), max_size=20), skip=st.integers(0, 5))
def test_positions_agree_with_a_dictionary(keys: list[str], extra: list[str], skip: int) -> None:
    """`positions` (hash of Arrow texts, or of packed integers when all have one width ≤ 8 bytes,
    on sliced arrays too): the first place of each value in the keys, −1 where it is absent."""
    import pyarrow as pa

    from sampler.plan.replan import positions

    values = keys[::2] + extra
    sliced = pa.array(["pad"] * skip + keys, type=pa.large_string()).slice(skip)
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    want = [first.get(v, -1) for v in values]
    assert positions(keys, values).tolist() == want
    assert positions(sliced, values).tolist() == want
