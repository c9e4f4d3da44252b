"""`sampler roster`: staff files in English or Chinese, plan-driven demand, bad input writes nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.cli import app
from sampler.errors import InputError
from sampler.params import load_scenario
from sampler.roster.params import roster_params
from sampler.roster.rules import read_staff
from tests.sampler.registry_files import rows_text, write_city

runner = CliRunner()

STAFF = [
    ["staff_id", "name", "role", "site_id", "earliest", "latest"],
    *[[f"C{i}", f"采样{i}", "sampler", "S1" if i < 4 else "", "", ""] for i in range(7)],
    *[[f"R{i}", f"登记{i}", "registrar", "", "06:00", "2022-11-24 06:00"] for i in range(7)],
]
ZH_HEADERS = {"staff_id": "工号", "name": "姓名", "role": "岗位", "site_id": "采样点编号",
              "earliest": "最早开始", "latest": "最晚结束"}


def _staff_file(directory: Path, rows: list[list[str]], chinese: bool = False, encoding: str = "utf-8") -> Path:
    rows = [list(r) for r in rows]
    if chinese:
        rows[0] = [ZH_HEADERS[h] for h in rows[0]]
    path = directory / "staff.csv"
    path.write_bytes(rows_text(rows).encode(encoding))
    return path


def test_roster_command_writes_every_file(tmp_path: Path):
    """The command writes roster.csv, unstaffed.csv, roster.json and one xlsx sheet per site."""
    scenario = write_city(tmp_path)
    out = tmp_path / "roster"
    staff = _staff_file(tmp_path, STAFF, chinese=True, encoding="gb18030")
    result = runner.invoke(app, ["roster", str(scenario), "--staff", str(staff), "-o", str(out)])
    assert result.exit_code == 0, result.output
    stints = pd.read_csv(out / "roster.csv", dtype=str)
    assert list(stints.columns) == ["staff_id", "name", "role", "site_id", "table", "start", "end"]
    summary = json.loads((out / "roster.json").read_text(encoding="utf-8"))
    assert summary["filled"] + summary["unstaffed"] == summary["positions"]
    unstaffed = pd.read_csv(out / "unstaffed.csv")
    assert int(unstaffed["missing"].sum()) == summary["unstaffed"]
    assert set(stints.loc[stints["staff_id"].isin(["C0", "C1", "C2", "C3"]), "site_id"]) <= {"S1"}
    book = load_workbook(out / "roster.xlsx")
    assert book.sheetnames[0] == "我的班次"
    assert book.sheetnames[1:3] == [summary["site_names"]["S1"], summary["site_names"]["S2"]]
    assert [c.value for c in book["我的班次"][1]] == ["工号", "姓名", "岗位", "采样点", "采样台", "上岗", "下岗",
                                                     "时长（小时）"]
    assert book.sheetnames[3:] == (["缺岗"] if summary["unstaffed"] else [])
    assert "Roster" in result.output


def _plan_and_roster(tmp_path: Path, *options: str) -> tuple[Path, Path]:
    """Plan the test city, roster STAFF over that plan with ``options``: (plan dir, roster dir)."""
    scenario = write_city(tmp_path)
    plan, out = tmp_path / "plan", tmp_path / "roster"
    assert runner.invoke(app, ["plan", str(scenario), "-o", str(plan)]).exit_code == 0
    staff = _staff_file(tmp_path, STAFF)
    result = runner.invoke(app, ["roster", str(scenario), "--staff", str(staff), "--plan", str(plan), "-o", str(out),
                                 *options])
    assert result.exit_code == 0, result.output
    return plan, out


def test_plan_directory_limits_the_tables_staffed(tmp_path: Path):
    """With --plan (no tail, no minimum), each slot needs ceil(people / (rate × slot hours)) tables, not every table."""
    plan, out = _plan_and_roster(tmp_path, "--tail-slots", "0", "--min-open-tables", "0")
    load = pd.read_csv(plan / "site_load.csv", dtype={"site_id": str, "slot_start": str})
    rates = {"S1": 80.0, "S2": 60.0}
    expected = sum(min({"S1": 2, "S2": 1}[s], math.ceil(p / (rates[s] * 0.5))) * 2
                   for s, p in zip(load["site_id"], load["people"], strict=True))
    summary = json.loads((out / "roster.json").read_text(encoding="utf-8"))
    assert summary["positions"] == expected and expected < 2 * (2 * 36 + 30)
    assert (summary["params"]["tail_slots"], summary["params"]["min_open_tables"]) == (0, 0)


def test_plan_roster_keeps_a_tail_and_one_table_through_the_opening_hours(tmp_path: Path):
    """By default a used site keeps one table open while it is open and its planned tables one slot longer."""
    plan, out = _plan_and_roster(tmp_path)
    load = pd.read_csv(plan / "site_load.csv", dtype={"site_id": str, "slot_start": str})
    # Slots from 06:00 (0) to 06:00 next day (48); S1 is open 06:00-24:00 (slots 0-35), S2 07:00-22:00 (2-31).
    hours = {"S1": (0, 36, 2, 80.0), "S2": (2, 32, 1, 60.0)}
    expected = 0
    for site, (first, end, tables, rate) in hours.items():
        mine = load[(load["site_id"] == site) & (load["people"] > 0)]
        planned = [0] * 48
        for start, people in zip(mine["slot_start"], mine["people"], strict=True):
            clock = int(start[11:13]) * 60 + int(start[14:16])
            planned[((clock - 360) % 1440) // 30] = min(tables, math.ceil(people / (rate * 0.5)))
        base = [max(p, 1) if len(mine) and first <= t < end else p for t, p in enumerate(planned)]
        expected += 2 * sum(max(base[t], base[t - 1] if t else 0) for t in range(48))
    summary = json.loads((out / "roster.json").read_text(encoding="utf-8"))
    assert summary["positions"] == expected
    assert (summary["params"]["tail_slots"], summary["params"]["min_open_tables"]) == (1, 1)
    stints = pd.read_csv(out / "roster.csv", dtype=str)
    s1 = stints[(stints["site_id"] == "S1") & (stints["role"] == "sampler")]
    if summary["unstaffed"] == 0:  # staffed through closing at 24:00 and one slot after it
        assert s1["end"].max() == "2022-11-24 00:30"


@pytest.mark.parametrize(("row", "field"), [
    (["X1", "x", "sampler", "S9", "", ""], "site_id"),
    (["X1", "x", "sampler", "", "12:00", "2022-11-23 10:00"], "latest"),
    (["X1", "x", "cook", "", "", ""], "role"),
    (["", "x", "sampler", "", "", ""], "staff_id"),
    (["X1", "x", "sampler", "", "noon", ""], "earliest"),
    (["C0", "x", "sampler", "", "", ""], "staff_id"),
])
def test_bad_staff_rows_exit_two_and_write_nothing(tmp_path: Path, row: list[str], field: str):
    """A bad staff row names its field, exits with status 2 and leaves no output directory."""
    scenario = write_city(tmp_path)
    staff = _staff_file(tmp_path, [*STAFF, row])
    with pytest.raises(InputError) as info:
        read_staff(staff, load_scenario(scenario), ["S1", "S2"])
    assert [(i.row, i.field) for i in info.value.issues] == [(len(STAFF) + 1, field)]  # Excel's row (header = 1)
    out = tmp_path / "roster"
    result = runner.invoke(app, ["roster", str(scenario), "--staff", str(staff), "-o", str(out)])
    assert result.exit_code == 2 and "nothing was written" in result.output
    assert not out.exists()


def test_clock_times_before_the_window_start_mean_the_next_morning(tmp_path: Path):
    """'HH:MM' is on the first day, or the next day when before the start; '06:00' can end the window."""
    scenario = load_scenario(write_city(tmp_path))
    rows = [STAFF[0], ["A", "甲", "采样员", "", "14:00", "02:00"], ["B", "乙", "登记员", "S2", "2022-11-23 06:20", "06:00"]]
    people = read_staff(_staff_file(tmp_path, rows, chinese=True), scenario, ["S1", "S2"])
    assert [(m.role, m.site_id, m.earliest, m.latest) for m in people] == [
        ("sampler", "", 16, 40), ("registrar", "S2", 1, 48)]


def test_empty_staff_file_and_missing_column_are_input_errors(tmp_path: Path):
    """An empty staff file, a header-only one and one without a staff_id column are all refused."""
    scenario = load_scenario(write_city(tmp_path))
    for text, field in (("", "(file)"), ("staff_id,name\n", "(file)"), ("name,role\n甲,sampler\n", "staff_id")):
        path = tmp_path / "staff.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError) as info:
            read_staff(path, scenario, ["S1"])
        assert info.value.issues[0].field == field


def test_bad_roster_parameter_exits_two(tmp_path: Path):
    """A minimum stint longer than the PPE limit is refused before anything is solved."""
    scenario = write_city(tmp_path)
    out = tmp_path / "roster"
    result = runner.invoke(app, ["roster", str(scenario), "--staff", str(_staff_file(tmp_path, STAFF)),
                                 "--min-stint-hours", "5", "-o", str(out)])
    assert result.exit_code == 2 and "1 input issue(s)" in result.output
    assert not out.exists()
    with pytest.raises(InputError) as info:
        roster_params(load_scenario(scenario), min_stint_hours=5.0)
    assert info.value.issues[0].field == "roster.min_stint_hours"


def test_staff_file_is_read_like_a_registry_file(tmp_path: Path):
    """The registry reader reads staff files: GB18030 and XLSX give the same people as UTF-8, headers
    match with any case and spacing, and a missing file names its path and the flag's place."""
    scenario = load_scenario(write_city(tmp_path))
    rows = [STAFF[0], ["A", "甲", "采样员", "", "14:00", "02:00"], ["B", "乙", "登记员", "S2", "", ""]]
    utf8 = read_staff(_staff_file(tmp_path, rows, chinese=True), scenario, ["S1", "S2"])
    gbk = read_staff(_staff_file(tmp_path, rows, chinese=True, encoding="gb18030"), scenario, ["S1", "S2"])
    spaced = [[f" {h.upper().replace('_', ' _')} " for h in rows[0]], *rows[1:]]
    upper = read_staff(_staff_file(tmp_path, spaced), scenario, ["S1", "S2"])
    xlsx = tmp_path / "staff.xlsx"
    pd.DataFrame(rows[1:], columns=rows[0]).to_excel(xlsx, index=False)
    assert utf8 == gbk == upper == read_staff(xlsx, scenario, ["S1", "S2"])
    assert [m.id for m in utf8] == ["A", "B"]
    with pytest.raises(InputError) as info:
        read_staff(tmp_path / "nope.csv", scenario, ["S1"])
    issue = info.value.issues[0]
    assert (issue.field, issue.fix) == ("(file)", "check the path given on the command line")
