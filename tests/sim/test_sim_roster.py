"""Staffing from a roster: tables open exactly as rostered, registrars as rostered, bad rosters refused."""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampler.errors import InputError
from sampler.params import Scenario, scenario_from_mapping
from sim.engine import run_replication
from sim.params import SimParams
from sim.records import UNSERVED, WALK_IN
from sim.staff import interval_calendar
from sim.staffing import read_roster, use_roster
from tests.sim.builders import inputs

FIXED = SimParams(arrival="uniform", no_show=0.0, walk_in_share=0.0, registration_s=(30.0, 30.0, 30.0),
                  swab_s=(60.0, 60.0, 60.0), relief_teams=1)
HEADER = "staff_id,name,role,site_id,table,start,end\n"


def _scenario(area: str = "测试街道") -> Scenario:
    return scenario_from_mapping({"area": area, "window": {"start": "2022-11-23 06:00", "hours": 24}})


def _roster(directory: Path, rows: list[str], meta: Mapping[str, object] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "roster.csv").write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    if meta is not None:
        (directory / "roster.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return directory


# ---------------------------------------------------------------- the calendar


def test_interval_calendar_answers_by_bisection() -> None:
    """Staffed 60–120 and 120–180 (a hand-over) and 300–330 on table 1; table 2 never."""
    cal = interval_calendar([[(120.0, 180.0), (60.0, 120.0), (300.0, 330.0)], []])
    assert cal.tables == 2 and cal.open_at == 60.0
    assert cal.starts[0] == (60.0, 300.0) and cal.ends[0] == (180.0, 330.0) and cal.handover_at[0] == (120.0,)
    assert [cal.next_staffed(0, t) for t in (0.0, 90.0, 180.0, 200.0, 330.0)] == [60.0, 90.0, 300.0, 300.0, float("inf")]
    assert cal.next_start(0, 170.0, 5.0) == 170.0  # fits before 180
    assert cal.next_start(0, 178.0, 5.0) == 300.0  # would overrun the crew's end: next stretch
    assert cal.next_start(0, 100.0, 40.0) == 100.0  # runs across the rostered hand-over
    assert cal.next_start(0, 310.0, 30.0) == float("inf")
    assert cal.next_staffed(1, 0.0) == float("inf")
    assert cal.gaps(0, 400.0) == [(180.0, 300.0), (330.0, 400.0)]
    assert cal.staffed_minutes(400.0) == 150.0 and cal.staffed_minutes(150.0) == 90.0
    events = list(cal.events())
    assert events == [(60.0, 0, "open"), (120.0, 0, "handover"), (180.0, 0, "close"),
                      (300.0, 0, "open"), (330.0, 0, "close")]


# ---------------------------------------------------------------- exact small day


def test_table_staffed_0800_to_1000_serves_nobody_outside_those_hours(tmp_path: Path) -> None:
    """One site, one table rostered 08:00–10:00 (minutes 120–240 of a 06:00 window)."""
    day = inputs([("early", 0, 60.0, 60.0, 2), ("mid", 0, 150.0, 150.0, 1), ("edge", 0, 238.0, 238.0, 2),
                  ("late", 0, 250.0, 250.0, 1)], hours=(0.0, 960.0))
    roster = _roster(tmp_path / "roster", ["C1,采样一,sampler,S1,1,2022-11-23 08:00,2022-11-23 10:00"])
    staffing = read_roster(roster, _scenario(), day)
    assert staffing.shifts == ((((120.0, 240.0),),),)
    assert staffing.registrars.tolist() == [0]
    rec = run_replication(use_roster(day, staffing), FIXED, seed=1, trace=True)
    assert rec.trace == [
        (60.0, "arrive early"),
        (120.0, "start early at S1 table 1"),  # dispatched (and logged) at 60, ahead of the opening
        (120.0, "open S1 table 1"),
        (122.5, "end early"),
        (150.0, "arrive mid"),
        (150.0, "start mid at S1 table 1"),
        (151.5, "end mid"),
        (238.0, "arrive edge"),
        (238.0, "unserved edge at S1: no staffed table"),  # 2.5 min would end after 10:00
        (240.0, "close S1 table 1"),
        (250.0, "arrive late"),
        (250.0, "unserved late at S1: no staffed table"),
    ]
    served = np.isfinite(rec.start)
    assert (rec.start[served] >= 120.0).all() and (rec.end[served] <= 240.0).all()
    assert sorted(rec.ids[rec.status == UNSERVED].tolist()) == ["edge", "late"]
    assert rec.staffed_minutes.tolist() == [120.0]


def test_unserved_households_fail_the_target_and_count_as_missed(tmp_path: Path) -> None:
    """Unserved households are not sampled: no tube, the target is missed, they go to follow-up."""
    from sim.stats import replication_stats

    day = inputs([("a", 0, 150.0, 150.0, 2), ("b", 0, 300.0, 300.0, 3)], hours=(0.0, 960.0))
    staffing = read_roster(_roster(tmp_path / "r", ["C1,x,sampler,S1,1,2022-11-23 08:00,2022-11-23 10:00"]),
                           _scenario(), day)
    rec = run_replication(use_roster(day, staffing), FIXED, seed=2)
    b = rec.ids.tolist().index("b")
    assert rec.status[b] == UNSERVED and rec.tube[b] == -1 and np.isnan(rec.result[b])
    figures = replication_stats(rec, FIXED).figures
    assert figures["unserved_households"] == 1 and figures["missed_people"] == 3
    assert figures["target_met"] is False
    assert figures["sampled_by_window_end"] == pytest.approx(2 / 5)
    assert rec.to_frame()["status"].tolist().count("unserved") == 1


# ---------------------------------------------------------------- short roster, same seed

BUSY = inputs([(f"h{i}", 0, (i // 40) * 30.0, (i // 40) * 30.0 + 30, 1 + i % 3) for i in range(480)],
              tables=(2,), hours=(0.0, 360.0))


def test_fewer_rostered_people_wait_longer_on_the_same_seed(tmp_path: Path) -> None:
    """Two tables rostered all morning vs one table: the short roster's p95 wait is longer."""
    from sim.stats import replication_stats

    scenario = _scenario()
    full = _roster(tmp_path / "full", ["C1,a,sampler,S1,1,2022-11-23 06:00,2022-11-23 09:00",
                                       "C2,b,sampler,S1,1,2022-11-23 09:00,2022-11-23 14:00",
                                       "C3,c,sampler,S1,2,2022-11-23 06:00,2022-11-23 10:00",
                                       "C4,d,sampler,S1,2,2022-11-23 10:00,2022-11-23 14:00"])
    short = _roster(tmp_path / "short", ["C1,a,sampler,S1,1,2022-11-23 06:00,2022-11-23 09:00",
                                         "C2,b,sampler,S1,1,2022-11-23 09:00,2022-11-23 14:00"])
    params = replace(FIXED, arrival="lateness", no_show=0.03, walk_in_share=0.02,
                     registration_s=(10.0, 20.0, 60.0), swab_s=(12.0, 25.0, 45.0))
    figures, records = {}, {}
    for name, path in (("full", full), ("short", short)):
        records[name] = run_replication(use_roster(BUSY, read_roster(path, scenario, BUSY)), params, seed=11)
        figures[name] = replication_stats(records[name], params).figures
    assert figures["short"]["wait_p95_min"] > figures["full"]["wait_p95_min"] + 10
    assert figures["short"]["sampled_by_window_end"] < figures["full"]["sampled_by_window_end"]
    assert figures["short"]["unserved_households"] > 0 == figures["full"]["unserved_households"]
    # Both tables rostered through the day (hand-overs back to back) = always-staffed shift calendar.
    always = run_replication(BUSY, params, seed=11)
    assert np.array_equal(records["full"].start, always.start, equal_nan=True)  # (ties may pick
    assert np.array_equal(records["full"].end, always.end, equal_nan=True)  # another idle table)


def test_roster_runs_are_seeded(tmp_path: Path) -> None:
    """Same roster and seed → identical records."""
    path = _roster(tmp_path / "r", ["C1,a,sampler,S1,1,2022-11-23 06:00,2022-11-23 09:00",
                                    "C3,c,sampler,S1,2,2022-11-23 07:00,2022-11-23 12:00",
                                    "R1,e,registrar,S1,1,2022-11-23 07:00,2022-11-23 10:00"])
    day = use_roster(BUSY, read_roster(path, _scenario(), BUSY))
    a, b = run_replication(day, SimParams(), seed=4), run_replication(day, SimParams(), seed=4)
    assert np.array_equal(a.end, b.end, equal_nan=True) and np.array_equal(a.status, b.status)
    assert a.trace is None


# ---------------------------------------------------------------- registrars from the roster


def test_rostered_registrars_are_the_sites_mean(tmp_path: Path) -> None:
    """registrars = round(tables × registrar-minutes / sampler-minutes) per site; none without samplers."""
    day = inputs([("a", 0, 0.0, 30.0, 1), ("b", 1, 0.0, 30.0, 1)], tables=(4, 2))
    path = _roster(tmp_path / "r", [
        *[f"C{k},x,sampler,S1,{k},2022-11-23 06:00,2022-11-23 10:00" for k in (1, 2, 3, 4)],
        "R1,y,registrar,S1,1,2022-11-23 06:00,2022-11-23 10:00",
        "R2,y,registrar,S1,2,2022-11-23 06:00,2022-11-23 08:00",
        "R3,z,registrar,S2,1,2022-11-23 06:00,2022-11-23 08:00",
    ])
    staffing = read_roster(path, _scenario(), day)
    # S1: 6 registrar-hours over 16 sampler-hours × 4 tables = 1.5 → 2; S2: no samplers → 0
    assert staffing.registrars.tolist() == [2, 0]
    assert staffing.sampler_minutes.tolist() == [960.0, 0.0]
    assert staffing.shifts[1] == ((), ())  # S2 unrostered: both tables closed
    staffed = use_roster(day, staffing)
    assert staffed.registrars.tolist() == [2, 0] and staffed.roster == staffing.shifts


# ---------------------------------------------------------------- bad rosters


@pytest.mark.parametrize(("row", "field"), [
    ("C1,x,sampler,S9,1,2022-11-23 08:00,2022-11-23 10:00", "site_id"),
    ("C1,x,sampler,S1,3,2022-11-23 08:00,2022-11-23 10:00", "table"),
    ("C1,x,cook,S1,1,2022-11-23 08:00,2022-11-23 10:00", "role"),
    ("C1,x,sampler,S1,1,2022-11-22 08:00,2022-11-22 10:00", "start"),  # another day's window
    ("C1,x,sampler,S1,1,2022-11-23 08:00,2022-11-24 08:00", "end"),  # past the window end
    ("C1,x,sampler,S1,1,8 o'clock,2022-11-23 10:00", "start"),
    ("C1,x,sampler,S1,1,2022-11-23 10:00,2022-11-23 08:00", "end"),
])
def test_bad_rows_name_file_row_field_and_value(tmp_path: Path, row: str, field: str) -> None:
    """Each bad row is an InputIssue naming roster.csv, its row, the field and the value."""
    day = inputs([("a", 0, 0.0, 30.0, 1)], tables=(2,))
    path = _roster(tmp_path / "r", ["C0,ok,sampler,S1,1,2022-11-23 06:00,2022-11-23 08:00", row])
    with pytest.raises(InputError) as exc:
        read_roster(path, _scenario(), day)
    issue = exc.value.issues[0]
    assert issue.file.endswith("roster.csv") and issue.row == 2 and issue.field == field
    assert issue.value and issue.fix


@pytest.mark.parametrize(("meta", "field"), [
    ({"area": "别的街道", "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}, "area"),
    ({"area": "测试街道", "window": {"start": "2022-12-01 06:00", "hours": 24, "slot_minutes": 30}}, "window.start"),
    ({"area": "测试街道", "window": {"start": "2022-11-23 06:00", "hours": 12, "slot_minutes": 30}}, "window.hours"),
])
def test_roster_of_another_area_or_window_is_refused(tmp_path: Path, meta: dict[str, object], field: str) -> None:
    """roster.json next to roster.csv must be of the scenario's area and window."""
    day = inputs([("a", 0, 0.0, 30.0, 1)])
    path = _roster(tmp_path / "r", ["C0,ok,sampler,S1,1,2022-11-23 06:00,2022-11-23 08:00"], meta)
    with pytest.raises(InputError) as exc:
        read_roster(path / "roster.csv", _scenario(), day)  # the csv path works like the directory
    assert [i.field for i in exc.value.issues] == [field]
    assert exc.value.issues[0].file.endswith("roster.json")


def test_same_area_and_window_pass(tmp_path: Path) -> None:
    """A roster.json of this scenario (hours written as an int) is accepted."""
    day = inputs([("a", 0, 0.0, 30.0, 1)])
    meta = {"area": "测试街道", "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}
    path = _roster(tmp_path / "r", ["C0,ok,sampler,S1,1,2022-11-23 06:00,2022-11-23 08:00"], meta)
    assert read_roster(path, _scenario(), day).shifts == ((((0.0, 120.0),),),)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage\x81\x00", b"", b"who,when\nC1,08:00\n"])
def test_unreadable_roster_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    """Bytes that are no CSV, an empty file or a CSV without the roster columns."""
    (tmp_path / "roster.csv").write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_roster(tmp_path / "roster.csv", _scenario(), inputs([("a", 0, 0.0, 30.0, 1)]))
    assert exc.value.issues[0].file.endswith("roster.csv")


def test_missing_roster_is_an_input_error(tmp_path: Path) -> None:
    """A directory without roster.csv names --roster."""
    with pytest.raises(InputError) as exc:
        read_roster(tmp_path, _scenario(), inputs([("a", 0, 0.0, 30.0, 1)]))
    assert exc.value.issues[0].field == "--roster"


# ---------------------------------------------------------------- random rosters (Hypothesis)

stint = st.tuples(st.integers(0, 47), st.integers(1, 8))  # start slot, length in slots (30 min)


@st.composite
def rostered_days(draw: st.DrawFn) -> tuple:
    """Random households at two sites and a random roster of sampler stints per table."""
    rows = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 40), st.integers(1, 6)), min_size=1, max_size=60))
    hh = [(f"h{i}", s, slot * 30.0, slot * 30.0 + 30, size) for i, (s, slot, size) in enumerate(rows)]
    tables = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    roster = tuple(tuple(tuple(sorted((a * 30.0, min(a + n, 48) * 30.0) for a, n in draw(st.lists(stint, max_size=4))))
                         for _ in range(c)) for c in tables)
    day = replace(inputs(hh, tables=tables), roster=roster,
                  registrars=np.array([draw(st.integers(0, 3)), draw(st.integers(0, 3))]))
    params = SimParams(no_show=draw(st.floats(0, 0.3)), walk_in_share=draw(st.floats(0, 0.3)))
    return day, params, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(rostered_days())
def test_rostered_tables_serve_only_while_staffed(case: tuple) -> None:
    """Every planned household once; served ones start after arriving, inside one staffed stretch of
    their table, one at a time; unserved ones have no swab and no tube."""
    day, params, seed = case
    rec = run_replication(day, params, seed)
    planned = Counter(rec.ids[rec.status != WALK_IN].tolist())
    walk_ins_unserved = (rec.status == UNSERVED) & np.char.startswith(rec.ids.astype(str), "W-")
    assert planned - Counter(rec.ids[walk_ins_unserved].tolist()) == Counter(day.ids.tolist())
    unserved = rec.status == UNSERVED
    assert np.isnan(rec.start[unserved]).all() and (rec.table[unserved] == -1).all()
    assert (rec.tube[unserved] == -1).all()
    served = (rec.site >= 0) & np.isfinite(rec.start)
    assert (rec.start[served] >= rec.arrival[served]).all()
    for s in range(day.n_sites):
        cal = interval_calendar(day.roster[s])
        for k in range(int(day.tables[s])):
            rows = served & (rec.site == s) & (rec.table == k)
            order = np.argsort(rec.start[rows])
            starts, ends = rec.start[rows][order], rec.end[rows][order]
            assert (starts[1:] >= ends[:-1] - 1e-9).all()
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                i = bisect.bisect_right(cal.ends[k], a)
                assert i < len(cal.ends[k]) and cal.starts[k][i] <= a and b <= cal.ends[k][i] + 1e-9
