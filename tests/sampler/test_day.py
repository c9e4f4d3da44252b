"""The sampling day's domain: resident codes, check-in validation, coverage and the missed list."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampler.day.codes import (
    ALPHABET,
    CODE_BITS,
    CODE_LENGTH,
    code_secret,
    normalise_code,
    resident_codes,
)
from sampler.day.ledger import (
    DayPlan,
    Ledger,
    Outcome,
    coverage,
    due_mask,
    missed,
    validate_checkins,
)

SECRET = b"s" * 32
TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2022, 11, 23, 6, 0, tzinfo=TZ)


def day_plan(n: int = 4) -> DayPlan:
    """Households 0..n-1 of sizes 1..3 in two buildings of two grids; site A slots end at 30, 60, ..."""
    ids = np.array([f"H{i:04d}" for i in range(n)], dtype=object)
    return DayPlan(
        area="测试街道", household_ids=ids, codes=resident_codes("测试街道", ids, SECRET),
        size=np.array([1 + i % 3 for i in range(n)]), site=np.array([0 if i % 2 == 0 else 1 for i in range(n)]),
        slot_end=np.array([30 * (1 + i) for i in range(n)]), building=np.array([i % 2 for i in range(n)]),
        building_ids=np.array(["B1", "B2"], dtype=object), building_grid=np.array(["G1", "G2"], dtype=object),
        building_compound=np.array(["C1", "C1"], dtype=object), site_ids=["S1", "S2"],
        site_names=["一号点", "二号点"], start=START, hours=24,
        phones=np.array([f"1380000{i:04d}" for i in range(n)], dtype=object))


def at(minutes: float) -> str:
    return (START + dt.timedelta(minutes=minutes)).isoformat()


def test_codes_are_eight_unambiguous_symbols_stable_and_keyed():
    """Codes use 8 symbols without 0/O/1/I/L, repeat for the same area and secret, change with either."""
    ids = [f"H{i:05d}" for i in range(2000)]
    a = resident_codes("芝山街道", ids, SECRET)
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in a)
    assert not set("0O1IL") & set(ALPHABET)
    assert len(set(a)) == len(a)
    assert list(resident_codes("芝山街道", ids, SECRET)) == list(a)
    assert list(resident_codes("芝山街道", list(reversed(ids)), SECRET)) == list(reversed(a))
    assert sum(x == y for x, y in zip(resident_codes("芝山街道", ids, b"t" * 32), a, strict=True)) < 5
    assert sum(x == y for x, y in zip(resident_codes("别的街道", ids, SECRET), a, strict=True)) < 5
    assert 39.6 < CODE_BITS < 40


def test_colliding_codes_resolved_by_id_order(monkeypatch):
    """When two ids hash to one code, the smaller id keeps it and the other gets a fresh one."""
    from sampler.day import codes as mod

    real = mod._digests

    def clashing(secret, area, households, attempt):
        d = real(secret, area, households, attempt)
        if attempt == 0 and len(households) > 1:
            d[households.index("B")] = d[households.index("A")]
        return d

    monkeypatch.setattr(mod, "_digests", clashing)
    c = resident_codes("x", ["B", "A", "C"], SECRET)
    assert len(set(c)) == 3
    assert c[1] == mod._encode(real(SECRET, b"x", ["A"], 0))[0].decode()


def test_code_secret_from_env_or_private_key_file(tmp_path):
    """The secret comes from SAMPLER_CODE_SECRET (≥ 32 chars) or a 0600 key file made once."""
    assert code_secret({"SAMPLER_CODE_SECRET": "k" * 32}) == b"k" * 32
    with pytest.raises(ValueError, match="32"):
        code_secret({"SAMPLER_CODE_SECRET": "short"})
    first = code_secret({"SAMPLER_HOME": str(tmp_path)})
    assert code_secret({"SAMPLER_HOME": str(tmp_path)}) == first and len(first) >= 32
    assert (tmp_path / "code.key").stat().st_mode & 0o777 == 0o600


def test_normalise_code_reads_what_residents_type():
    assert normalise_code(" ab-cd 2345 ") == "ABCD2345"
    assert normalise_code("0o1i") == "OOII"


def test_checkin_exact_cases():
    """Twice for one household, at another site, too many people, after the window, unknown ids."""
    day = day_plan()
    ledger = Ledger.empty(day)
    c = day.codes
    rows = [
        {"id": "a", "code": c[2], "site_id": "S1", "at": at(50), "people": 2},      # 2 of 3
        {"id": "b", "code": c[2], "site_id": "S1", "at": at(55), "people": 2},      # 4 of 3: rejected
        {"id": "c", "code": c[2], "site_id": "S1", "at": at(56), "people": 1},      # 3 of 3
        {"id": "a", "code": c[2], "site_id": "S1", "at": at(50), "people": 2},      # re-send
        {"id": "d", "household_id": "H0001", "site_id": "S1", "at": at(20)},       # planned S2: counted at S1
        {"id": "e", "code": "ZZZZZZZZ", "site_id": "S1", "at": at(20), "people": 1},
        {"id": "f", "code": c[0], "site_id": "S9", "at": at(20), "people": 1},
        {"id": "g", "code": c[0], "site_id": "S1", "at": at(24 * 60 + 1), "people": 1},
        {"id": "h", "code": c[0], "site_id": "S1", "at": "2022-11-23T07:00:00", "people": 1},  # no offset
        {"id": "", "code": c[0], "site_id": "S1", "at": at(20), "people": 1},
        {"id": "i", "phone": "13800000003", "site_id": "home", "at": at(100), "people": 1},
    ]
    result = validate_checkins(day, ledger, rows)
    assert ledger.sampled_people.sum() == 0  # validation alone changes nothing
    ledger.apply(result.accepted)
    out = result.answer()
    assert out["accepted"] == 4 and out["duplicates"] == 1
    assert [r["index"] for r in out["rejected"]] == [1, 5, 6, 7, 8, 9]
    assert "more people" in out["rejected"][0]["reason"]
    assert list(ledger.sampled_people) == [0, 2, 3, 1]
    by_site = {r["key"]: r for r in coverage(day, ledger, "site", START + dt.timedelta(hours=2))}
    assert by_site["S1"]["sampled_households"] == 2 and by_site["S1"]["sampled_people"] == 5
    assert by_site["S2"]["sampled_people"] == 0 and by_site["S2"]["planned_people"] == 2 + 1
    assert by_site["home"]["sampled_people"] == 1
    # a second batch re-sending everything changes nothing
    again = validate_checkins(day, ledger, rows).answer()
    assert again["accepted"] == 0 and again["duplicates"] == 5  # a (twice), c, d, i


def test_missed_list_grace_outcomes_and_window_end():
    day = day_plan(6)
    ledger = Ledger.empty(day)
    ledger.apply(validate_checkins(day, ledger, [{"id": "x", "code": day.codes[0], "site_id": "S1", "at": at(10),
                                                  "people": 1}]).accepted)
    # at 100 min: slots ending 30, 60, 90 are due; with 30 min grace only 30 and 60 are overdue
    assert list(missed(day, ledger, START + dt.timedelta(minutes=100), grace_min=30)) == [1]
    assert sorted(missed(day, ledger, START + dt.timedelta(minutes=100), grace_min=0)) == [1, 2]
    ledger.record_outcome(1, Outcome.AWAY)
    ledger.record_outcome(2, Outcome.COMING)
    assert list(missed(day, ledger, START + dt.timedelta(minutes=100), grace_min=0)) == [2]
    end = START + dt.timedelta(hours=24)
    assert sorted(missed(day, ledger, end, grace_min=30)) == [2, 3, 4, 5]
    assert list(missed(day, ledger, end, grids=["G1"])) == [2, 4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 3), st.integers(0, 24 * 60), st.integers(0, 4),
                          st.integers(0, 30)), max_size=40),
       st.integers(0, 24 * 60 + 60), st.lists(st.integers(0, 11), max_size=4))
def test_totals_equal_accepted_and_missed_is_due_minus_sampled_minus_closed(events, minute, away):
    """For any batches and re-sends: coverage totals are the accepted check-ins; missed = due − sampled − closed."""
    day = day_plan(12)
    ledger = Ledger.empty(day)
    accepted_people = 0
    batch = [{"id": f"c{cid}", "code": day.codes[h], "site_id": ["S1", "S2", "home", "S1"][s], "at": at(t),
              "people": p} for h, s, t, p, cid in events]
    for part in (batch[: len(batch) // 2], batch, batch[len(batch) // 2:]):  # re-sends overlap
        accepted = validate_checkins(day, ledger, part).accepted
        ledger.apply(accepted)
        accepted_people += sum(r["people"] for r in accepted)
    for h in away:
        ledger.record_outcome(h, Outcome.REFUSED)
    when = START + dt.timedelta(minutes=minute)
    for by in ("area", "site", "grid", "compound", "building"):
        rows = coverage(day, ledger, by, when)
        assert sum(r["sampled_people"] for r in rows) == accepted_people == int(ledger.sampled_people.sum())
        assert sum(r["planned_people"] for r in rows) == int(day.size.sum())
    assert (ledger.sampled_people <= day.size).all()
    due = due_mask(day, when)
    expected = set(np.flatnonzero(due & ~ledger.sampled & ~ledger.closed).tolist())
    assert set(missed(day, ledger, when, grace_min=0).tolist()) == expected


def test_day_plan_from_a_real_plan_and_a_checkin_file(tmp_path):
    """A planned random city becomes a DayPlan; a Chinese-header CSV of check-ins applies to it."""
    from sampler.day.files import read_checkins
    from sampler.day.ledger import day_plan as from_plan
    from sampler.params import Scenario, WindowParams
    from sampler.plan.planner import MODE_SITE, make_plan
    from tests.sampler.cities import random_city

    plan = make_plan(Scenario(window=WindowParams(hours=6.0)), random_city(3, 20, 3))
    hh = plan.registry.households
    day = from_plan(plan, resident_codes(plan.scenario.area, hh.id, SECRET))
    assert len(day) == len(hh) and day.start.utcoffset() == dt.timedelta(hours=8)
    at_site = np.flatnonzero(plan.mode == MODE_SITE)
    assert (day.site[at_site] == plan.site[at_site]).all()
    assert (day.slot_end[at_site] == (plan.slot[at_site] + 1) * plan.grid.minutes).all()
    first, second = int(at_site[0]), int(at_site[1])
    site_id = day.site_ids[int(day.site[first])]
    text = ("采样记录编号,核酸码,户编号,采样点编号,采样时间,人数,试管编号\n"
            f"r1,{day.codes[first].lower()},,{site_id},{plan.grid.start:%Y-%m-%d} 06:40,1,T1\n"
            f",,{day.household_ids[second]},{site_id},{plan.grid.start:%Y-%m-%d %H:%M},,T2\n")
    path = tmp_path / "checkins.csv"
    path.write_text(text, encoding="utf-8-sig")
    rows = read_checkins(path)
    assert [r["row"] for r in rows] == [1, 2] and rows[0]["at"].endswith("+08:00")
    ledger = Ledger.empty(day)
    out = validate_checkins(day, ledger, rows)
    assert out.answer()["accepted"] == 2, out.answer()
    ledger.apply(out.accepted)
    assert ledger.sampled_people[first] == 1 and ledger.sampled_people[second] == hh.size[second]
    assert validate_checkins(day, ledger, read_checkins(path)).duplicates == 2  # the same file again


def test_checkin_file_errors_name_row_and_fix(tmp_path):
    from sampler.day.files import read_checkins
    from sampler.errors import InputError

    path = tmp_path / "c.csv"
    path.write_text("核酸码,采样点编号,采样时间\nABCDEFGH,S1,昨天上午\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_checkins(path)
    issue = exc.value.issues[0]
    assert (issue.row, issue.field, issue.value) == (2, "at", "昨天上午")  # the row Excel shows (header = 1)
    path.write_text("采样点编号,采样时间\nS1,2022-11-23 07:00\n", encoding="utf-8")
    with pytest.raises(InputError, match="code"):
        read_checkins(path)
