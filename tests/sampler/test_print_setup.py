"""Every workbook the product writes prints on A4, and reads in Chinese.

plan.xlsx (`sampler plan`), roster.xlsx (`sampler roster`) and notices.xlsx (`sampler notices`)
are the product's workbooks (simulate, what-if and forecast write CSV and PNG only; a test below
fails when a new module starts writing XLSX so that it is added here). Each of their sheets is
opened with openpyxl and its page set-up asserted: A4, fit to one page wide, header rows repeated
on every page (print titles), landscape when its columns are wider than a portrait page, and a
width for every column it fills.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from api.cli import app
from sampler.planfiles.write import summary_rows
from sampler.roster.rules import Roster
from tests.sampler.registry_files import rows_text, write_city

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
PORTRAIT_MAX_WIDTH = 105  # column-width units that fit across a portrait A4 page scaled to fit

STAFF = [
    ["工号", "姓名", "岗位", "采样点编号", "最早开始", "最晚结束"],
    *[[f"C{i}", f"采样{i}", "采样员", "", "", ""] for i in range(6)],
    *[[f"R{i}", f"登记{i}", "登记员", "", "", ""] for i in range(6)],
]


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan the test city, roster it and write its notices: the three workbooks."""
    base = tmp_path_factory.mktemp("books")
    scenario = write_city(base)
    plan, roster, notices = base / "plan", base / "roster", base / "notices"
    assert runner.invoke(app, ["plan", str(scenario), "-o", str(plan)]).exit_code == 0
    staff = base / "staff.csv"
    staff.write_text(rows_text(STAFF), encoding="utf-8")
    r = runner.invoke(app, ["roster", str(scenario), "--staff", str(staff), "--plan", str(plan), "-o", str(roster)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["notices", str(plan), "-o", str(notices)])
    assert r.exit_code == 0, r.output
    return {"plan": plan / "plan.xlsx", "roster": roster / "roster.xlsx", "notices": notices / "notices.xlsx"}


def assert_prints_on_a4(ws: Worksheet, where: str) -> None:
    """A4, fit to width (any number of pages tall), print titles, widths, landscape when wide."""
    ps = ws.page_setup
    assert str(ps.paperSize) == "9", f"{where}: paper {ps.paperSize}"  # 9 = A4
    assert ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage, where
    assert int(ps.fitToWidth) == 1 and int(ps.fitToHeight) == 0, where
    assert ws.print_title_rows and re.fullmatch(r"\$1:\$[1-9]", ws.print_title_rows), f"{where}: {ws.print_title_rows}"
    used = ws.max_column
    widths = [ws.column_dimensions[get_column_letter(c)].width for c in range(1, used + 1)]
    assert all(w and 5 <= w <= 40 for w in widths), f"{where}: widths {widths}"
    wide = sum(widths) > PORTRAIT_MAX_WIDTH
    assert ps.orientation == ("landscape" if wide else "portrait") or (not wide and ps.orientation is None), \
        f"{where}: {sum(widths)} wide, {ps.orientation}"


@pytest.mark.parametrize("name", ["plan", "roster", "notices"])
def test_every_sheet_prints_on_a4(books: dict[str, Path], name: str) -> None:
    """Every sheet of every workbook is set up for A4 with its header rows on each page."""
    book = load_workbook(books[name])
    assert book.worksheets
    for ws in book.worksheets:
        assert_prints_on_a4(ws, f"{name}.xlsx[{ws.title}]")


def test_no_other_module_writes_a_workbook() -> None:
    """Only the three writers tested here produce XLSX (a new one must be added to this test)."""
    writers = set()
    for path in [*(ROOT / "sampler").rglob("*.py"), *(ROOT / "sim").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bwrite_xlsx\(|openpyxl\.Workbook\(|Workbook\(\)|xlsxwriter", text):
            writers.add(path.relative_to(ROOT).as_posix())
    assert writers == {"sampler/io/xlsx.py", "sampler/planfiles/write.py", "sampler/roster/rules.py",
                       "sampler/notify/notices.py", "sampler/registry/templates.py"}


@pytest.mark.parametrize("name", ["persons.xlsx", "households.xlsx", "compounds.xlsx", "sites.xlsx"])
def test_templates_print_on_a4(name: str) -> None:
    """The blank registry templates (`sampler template`) print like every other workbook."""
    import io

    from sampler.registry.templates import template_bytes

    for ws in load_workbook(io.BytesIO(template_bytes(name))).worksheets:
        assert_prints_on_a4(ws, f"{name}[{ws.title}]")


def test_plan_summary_reads_in_chinese(books: dict[str, Path]) -> None:
    """The summary sheet labels every figure in Chinese (no code names), counts are whole numbers
    and the gap is a percentage; the site table's header is Chinese too."""
    ws = load_workbook(books["plan"]).worksheets[0]
    assert ws.title == "汇总"
    labels = {row[0].value: row[1].value for row in ws.iter_rows(min_row=2) if row[0].value}
    assert not [k for k in labels if re.fullmatch(r"[A-Za-z_ ]+", str(k))]
    for key in ("登记户数", "登记人数", "上门采样户数", "未安排户数", "步行超过上限户数", "下界", "最优性差距"):
        assert key in labels, key
    for key in ("登记户数", "登记人数", "到采样点户数", "上门采样户数", "未安排户数", "未安排人数", "采样台数"):
        assert isinstance(labels[key], int), (key, labels[key])
    assert re.fullmatch(r"\d+\.\d\d %", str(labels["最优性差距"]))
    assert labels["采样点编号"] == "采样点"  # the site table's header row


def test_summary_rows_round_people_and_show_the_gap() -> None:
    """Counts stored as floats come out whole; gap 0.0028 reads 0.28 %; missing figures stay blank."""
    rows = {r[0]: r[1] for r in summary_rows({"area": "芝山街道", "households": 10970.0, "people": 28593.4,
                                               "lower_bound": 169217.04, "gap": 0.002815})}
    assert rows["登记户数"] == 10970 and isinstance(rows["登记户数"], int)
    assert rows["登记人数"] == 28593
    assert rows["下界"] == 169217.0 and rows["最优性差距"] == "0.28 %"
    assert rows["目标函数值"] is None and rows["步行时间 平均 / P95（分钟）"] == ""


def _roster(site_names: dict[str, str], unstaffed: bool) -> Roster:
    stints = pd.DataFrame([
        ("R1", "登记一", "registrar", "S1", 1, "2022-11-23 06:00", "2022-11-23 10:00"),
        ("C1", "采样一", "sampler", "S1", 1, "2022-11-23 06:00", "2022-11-23 10:00"),
        ("C1", "采样一", "sampler", "S2", 2, "2022-11-23 14:00", "2022-11-23 16:30"),
        ("C2", "采样二", "sampler", "S3", 1, "2022-11-23 06:00", "2022-11-23 08:00"),
    ], columns=["staff_id", "name", "role", "site_id", "table", "start", "end"])
    short = pd.DataFrame([("S2", "2022-11-23 06:00", "registrar", 1)] if unstaffed else [],
                         columns=["site_id", "slot_start", "role", "missing"])
    info = {"area": "芝山街道", "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30},
            "sites": list(site_names), "site_names": site_names}
    return Roster(stints=stints, unstaffed=short, info=info)


def test_roster_book_names_sites_and_lists_each_persons_shifts(tmp_path: Path) -> None:
    """Sheets are named by site name within Excel's rules (≤31 characters, no []:*?/\\, unique);
    我的班次 lists each person's stints by 工号 with Chinese roles; 缺岗 lists unfilled positions."""
    long = "芝山街道社区卫生服务中心第一中学初中部东操场临时采样点北区"
    names = {"S1": "A区/1号楼[东]:采样点?", "S2": long, "S3": long}
    _roster(names, unstaffed=True).write(tmp_path / "r")
    book = load_workbook(tmp_path / "r" / "roster.xlsx")
    titles = book.sheetnames
    assert titles[0] == "我的班次" and titles[-1] == "缺岗"
    sites = titles[1:-1]
    assert sites[0] == "A区_1号楼_东__采样点_" and sites[1] == long[:31] and sites[2] == long[:29] + "~2"
    assert all(len(t) <= 31 and not re.search(r"[\[\]:*?/\\]", t) for t in titles)
    assert len({t.lower() for t in titles}) == len(titles)
    mine = [[c.value for c in row] for row in book["我的班次"].iter_rows()]
    assert mine[0] == ["工号", "姓名", "岗位", "采样点", "采样台", "上岗", "下岗", "时长（小时）"]
    assert [r[:5] for r in mine[1:]] == [["C1", "采样一", "采样员", names["S1"], 1], ["C1", "采样一", "采样员", long, 2],
                                         ["C2", "采样二", "采样员", long, 1], ["R1", "登记一", "登记员", names["S1"], 1]]
    assert [r[7] for r in mine[1:]] == [4.0, 2.5, 2.0, 4.0]
    site1 = [[c.value for c in row] for row in book[sites[0]].iter_rows()]
    assert site1[0] == [f"{names['S1']}（S1）排班", None, None, None, None, None, None]
    assert site1[1] == ["采样台", "岗位", "工号", "姓名", "上岗", "下岗", "时长（小时）"]
    assert [r[1] for r in site1[2:]] == ["采样员", "登记员"]  # samplers first at each table
    short = [[c.value for c in row] for row in book["缺岗"].iter_rows()]
    assert short == [["采样点", "时段开始", "岗位", "缺少人数"], [long, "2022-11-23 06:00", "登记员", 1]]
    for ws in book.worksheets:
        assert_prints_on_a4(ws, f"roster.xlsx[{ws.title}]")


def test_roster_book_without_names_falls_back_to_ids(tmp_path: Path) -> None:
    """A roster without site names (an older roster.json) names sheets by id; no 缺岗 when full."""
    roster = _roster({"S1": "", "S2": "", "S3": ""}, unstaffed=False)
    roster.info.pop("site_names")
    roster.write(tmp_path / "r")
    assert load_workbook(tmp_path / "r" / "roster.xlsx").sheetnames == ["我的班次", "S1", "S2", "S3"]
