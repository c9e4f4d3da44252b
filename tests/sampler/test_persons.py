"""Person-level rosters (花名册) and files as planners have them: titles above the header, UTF-16
text, .xls, float phones, landlines, identity numbers (never written anywhere), compounds and
Chinese map coordinates."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from sampler.errors import InputError
from sampler.params import load_scenario, parse_mapping, scenario_from_mapping
from sampler.registry.address import parse_address
from sampler.registry.crs import (
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)
from sampler.registry.idcard import check_char, parse_ids
from sampler.registry.persons import SPREAD_M
from sampler.registry.read import load_registry

runner = CliRunner()
HEADER = ["姓名", "身份证号", "性别", "与户主关系", "住址", "联系电话", "网格", "特殊人群"]


def idn(birth: str, seq: str = "001", region: str = "990101") -> str:
    """A made-up identity number with a valid check digit (region 99: no such province)."""
    body = region + birth + seq
    return body + check_char(body)


def bad_check(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


# Three address styles, two households at one address (two 户主), a pregnant resident, an infant,
# an elderly resident living alone, a float phone and a landline.
ROSTER = [
    ["张伟", idn("19500101", "011"), "男", "户主", "湖绣家园3号楼2单元501室", "13812345678.0", "网格一", ""],
    ["李娜", idn("19520101", "022"), "女", "配偶", "湖绣家园3号楼2单元501室", "", "网格一", ""],
    ["王芳", idn("19900101", "022"), "女", "户主", "3栋2单元502", "0572-2345678", "网格一", "孕妇"],
    ["王小", idn("20220301", "013"), "男", "子", "3栋2单元502", "", "网格一", ""],
    ["赵强", idn("19800101", "031"), "男", "户主", "湖绣家园3-1-101", "13900000002", "网格一", ""],
    ["钱多", idn("19850101", "041"), "男", "户主", "湖绣家园3-1-101", "13900000003", "网格一", ""],
    ["孙老", idn("19400101", "051"), "男", "户主", "东风村12号", "13900000001", "网格二", ""],
]
COMPOUNDS = [["小区", "经度", "纬度", "风险区", "网格"],
             ["湖绣家园", "120.0873", "30.8941", "防范区", "网格一"],
             ["东风村", "120.0900", "30.9000", "管控区", "网格二"]]
SITES = [["site_id", "name", "lon", "lat", "tables"], ["S1", "湖绣家园采样点", "120.0875", "30.8945", "2"],
         ["S2", "东风村村部", "120.0902", "30.9002", "1"]]


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def write_roster(directory: Path, rows: list[list[str]] | None = None, *, header: list[str] | None = None,
                 titles: int = 0, form: str = "csv", compounds: list[list[str]] | None = None,
                 crs: str = "wgs84", extra: str = "") -> Path:
    """Write persons (csv, utf16 txt, xlsx or xls), compounds, sites and scenario.yaml; returns the scenario."""
    directory.mkdir(parents=True, exist_ok=True)
    table = [["芝山街道居民花名册（2022年11月）"], ["制表单位：湖绣社区"]][:titles] + [header or HEADER] + \
        [list(r) for r in (ROSTER if rows is None else rows)]
    name = {"csv": "persons.csv", "utf16": "persons.txt", "xlsx": "persons.xlsx", "xls": "persons.xls"}[form]
    path = directory / name
    if form == "csv":
        path.write_text(_csv(table), encoding="utf-8-sig")
    elif form == "utf16":  # Excel's "Unicode 文本": UTF-16 LE with BOM, tab-separated
        path.write_bytes("\r\n".join("\t".join(r) for r in table).encode("utf-16") + "\r\n".encode("utf-16-le"))
    elif form == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        for r in table:
            book.active.append(r)
        book.save(path)
    else:
        import xlwt

        book = xlwt.Workbook()
        sheet = book.add_sheet("花名册")
        for i, r in enumerate(table):
            for j, v in enumerate(r):
                sheet.write(i, j, v)
        book.save(str(path))
    (directory / "compounds.csv").write_text(_csv(compounds or COMPOUNDS), encoding="utf-8")
    (directory / "sites.csv").write_text(_csv(SITES), encoding="utf-8")
    scenario = directory / "scenario.yaml"
    scenario.write_text(f"""area: 芝山街道
registry: {{persons: {name}, compounds: compounds.csv, sites: sites.csv, crs: {crs}}}
window: {{start: "2022-11-23 06:00", hours: 24, slot_minutes: 30}}
home_visits: {{teams: 1}}
{extra}""", encoding="utf-8")
    return scenario


def households_by_id(registry) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    hh, b = registry.households, registry.buildings
    return {str(hh.id[i]): (str(b.id[hh.building[i]]), str(hh.unit[i]), str(hh.room[i]), int(hh.size[i]),
                            int(hh.elderly[i]), int(hh.children[i]), str(hh.contact[i]), str(hh.phone[i]),
                            hh.row(i, b).needs) for i in range(len(hh))}


def test_three_address_styles_group_into_households_and_buildings(tmp_path: Path) -> None:
    """Residents become households (one per 户主 at an address) in buildings parsed from three styles."""
    reg = load_registry(load_scenario(write_roster(tmp_path)))
    got = households_by_id(reg)
    assert got == {
        "湖绣家园-3-2-501": ("湖绣家园-3", "2", "501", 2, 2, 0, "张伟", "13812345678", ()),
        "湖绣家园-3-2-502": ("湖绣家园-3", "2", "502", 2, 0, 1, "王芳", "0572-2345678", ("pregnant", "infant")),
        "湖绣家园-3-1-101": ("湖绣家园-3", "1", "101", 1, 0, 0, "赵强", "13900000002", ()),
        "湖绣家园-3-1-101~2": ("湖绣家园-3", "1", "101", 1, 0, 0, "钱多", "13900000003", ()),
        "东风村-12号": ("东风村-12号", "", "", 1, 1, 0, "孙老", "13900000001", ("elderly_alone",)),
    }
    b = reg.buildings
    assert b.id.tolist() == ["湖绣家园-3", "东风村-12号"]
    assert b.name.tolist() == ["3号楼", "12号"] and b.zone.tolist() == [0, 1] and b.grid.tolist() == ["网格一", "网格二"]
    assert reg.people == len(ROSTER) and reg.hashes.keys() == {"persons", "compounds", "sites"}


def test_household_ids_and_ages(tmp_path: Path) -> None:
    """Exact ids (no identity number in them), sizes, elderly and children counts."""
    reg = load_registry(load_scenario(write_roster(tmp_path)))
    hh = reg.households
    assert hh.id.tolist() == ["湖绣家园-3-2-501", "湖绣家园-3-2-502", "湖绣家园-3-1-101", "湖绣家园-3-1-101~2", "东风村-12号"]
    assert hh.size.tolist() == [2, 2, 1, 1, 1]
    assert hh.elderly.tolist() == [2, 0, 0, 0, 1] and hh.children.tolist() == [0, 1, 0, 0, 0]
    assert [hh.row(i, reg.buildings).needs for i in range(len(hh))] == [
        (), ("pregnant", "infant"), (), (), ("elderly_alone",)]


def test_grouping_by_household_number_wins_over_address(tmp_path: Path) -> None:
    """With a 户号, residents sharing it are one household even without a 户主 or at different rooms."""
    rows = [r + [h] for r, h in zip(ROSTER, ["A1", "A1", "A2", "A2", "A1", "A3", "A4"], strict=True)]
    reg = load_registry(load_scenario(write_roster(tmp_path, rows, header=[*HEADER, "户号"])))
    hh = reg.households
    assert hh.id.tolist() == ["A1", "A2", "A3", "A4"] and hh.size.tolist() == [3, 2, 1, 1]
    assert hh.contact.tolist() == ["张伟", "王芳", "钱多", "孙老"]


def test_address_without_head_is_one_household_and_columns_win(tmp_path: Path) -> None:
    """No 户主 at an address: one household; 小区/楼栋/单元/房号 columns are used where the address is blank."""
    header = ["姓名", "与户主关系", "住址", "小区", "楼栋", "单元", "房号", "联系电话"]
    rows = [["甲", "子", "湖绣家园5号楼1单元101", "", "", "", "", "13800000001"],
            ["乙", "女", "湖绣家园5号楼1单元101", "", "", "", "", ""],
            ["丙", "户主", "", "湖绣家园", "6号楼", "2单元", "201室", "13800000002"]]
    reg = load_registry(load_scenario(write_roster(tmp_path, rows, header=header)))
    assert reg.households.id.tolist() == ["湖绣家园-5-1-101", "湖绣家园-6-2-201"]
    assert reg.households.size.tolist() == [2, 1] and reg.buildings.name.tolist() == ["5号楼", "6号楼"]


@pytest.mark.parametrize("form", ["csv", "utf16", "xlsx", "xls"])
def test_title_rows_are_skipped_and_rows_numbered_as_excel_shows_them(tmp_path: Path, form: str) -> None:
    """Two title rows above the header: the header is found, and a bad address is reported at its
    Excel row (title 1, notes 2, header 3, first resident 4)."""
    rows = [list(r) for r in ROSTER]
    rows[2][4] = "不知道哪里"
    with pytest.raises(InputError) as err:
        load_registry(load_scenario(write_roster(tmp_path, rows, titles=2, form=form)))
    (issue,) = err.value.issues
    assert (issue.row, issue.field, issue.value) == (6, "住址", "不知道哪里")
    assert "3号楼2单元501室" in issue.fix
    rows[2][4] = "3栋2单元502"
    reg = load_registry(load_scenario(write_roster(tmp_path / "ok", rows, titles=2, form=form)))
    assert reg.people == len(ROSTER) and len(reg.households) == 5


def test_unknown_compound_is_named_with_row_and_value(tmp_path: Path) -> None:
    rows = [list(r) for r in ROSTER]
    rows[0][4] = "幸福里3号楼2单元501室"
    with pytest.raises(InputError) as err:
        load_registry(load_scenario(write_roster(tmp_path, rows)))
    assert [(i.row, i.value) for i in err.value.issues] == [(2, "幸福里3号楼2单元501室")]
    assert "compounds file" in err.value.issues[0].fix


def test_float_phones_repaired_landlines_and_several_numbers_are_warnings(tmp_path: Path) -> None:
    """13812345678.0 is repaired; a landline or two numbers in one cell are warnings naming the row,
    and the household is kept with its number (so it is on the no-SMS list)."""
    rows = [list(r) for r in ROSTER]
    rows[4][5] = "13900000002;13900000009"
    reg = load_registry(load_scenario(write_roster(tmp_path, rows)))
    got = {(w.row, w.fix.split(":")[0]): w.value for w in reg.warnings if w.field == "联系电话"}
    assert got == {(4, "a landline cannot receive the SMS"): "057****5678",
                   (6, "several numbers in one cell"): "139****0009",
                   (4, "no member of this household has a mobile number"): "(not a mobile)",
                   (6, "no member of this household has a mobile number"): "(not a mobile)"}
    hh = reg.households
    assert hh.phone.tolist()[0] == "13812345678"
    assert hh.phone.tolist()[2] == "13900000002;13900000009"


def test_bad_check_digit_is_a_warning_that_never_shows_the_number(tmp_path: Path) -> None:
    rows = [list(r) for r in ROSTER]
    rows[1][1] = bad_check(rows[1][1])
    rows[3][1] = "12345"
    reg = load_registry(load_scenario(write_roster(tmp_path, rows)))
    ids = [w for w in reg.warnings if w.field == "身份证号"]
    assert [(w.row, "check digit" in w.fix, w.value) for w in ids] == [(5, False, "(not shown)"), (3, True, "(not shown)")]
    assert all(rows[1][1] not in str(w) and "12345" not in w.value for w in reg.warnings)
    assert reg.households.elderly.tolist()[0] == 2  # the age is still read from a bad check digit
    assert reg.households.children.tolist()[1] == 0  # an unreadable number gives no age


def test_identity_numbers() -> None:
    """GB 11643: the standard example's check digit, ages on a day, sex, 15-digit numbers, bad dates."""
    assert check_char("11010519491231002") == "X"
    facts = parse_ids(pa.array(["11010519491231002X", "11010519491231002x", bad_check("11010519491231002X"),
                                "110105491231002", "110105194913310021", "", "abc", "110105201911230011"]),
                      dt.date(2022, 11, 23))
    assert facts.age.tolist() == [72, 72, 72, 72, -1, -1, -1, 3]
    assert facts.sex.tolist() == [2, 2, 2, 2, 0, 0, 0, 1]
    assert facts.bad_check.tolist() == [False, False, True, False, False, False, False, check_char(
        "11010520191123001") != "1"]
    assert facts.malformed.tolist() == [False, False, False, False, True, False, True, False]


def test_address_styles() -> None:
    assert parse_address("湖绣家园3号楼2单元501室") == ("湖绣家园", "3", "2", "501")
    assert parse_address("3栋2单元501") == ("", "3", "2", "501")
    assert parse_address("3-2-501") == ("", "3", "2", "501")
    assert parse_address("吴兴区芝山街道湖绣家园１２幢一单元３０２") == ("吴兴区芝山街道湖绣家园", "12", "1", "302")
    assert parse_address("东风村12号") == ("东风村", "12号", "", "")
    assert parse_address("湖绣家园") is None and parse_address("") is None


def test_compounds_locate_buildings_on_a_deterministic_spiral(tmp_path: Path) -> None:
    """Buildings without a row of their own spread around the compound point SPREAD_M·√k apart;
    a building row of the compounds file gives that building its own point and zone."""
    rows = [["户主", f"湖绣家园{b}号楼1单元101"] for b in (10, 2, 1)]
    header = ["与户主关系", "住址"]
    reg = load_registry(load_scenario(write_roster(tmp_path, rows, header=header)))
    b = reg.buildings
    assert b.name.tolist() == ["1号楼", "2号楼", "10号楼"]  # natural order
    assert (b.lon[0], b.lat[0]) == (120.0873, 30.8941)
    metres = np.hypot((b.lon - 120.0873) * 111_320 * np.cos(np.radians(30.8941)), (b.lat - 30.8941) * 111_320)
    assert np.allclose(metres, SPREAD_M * np.sqrt([0, 1, 2]))
    again = load_registry(load_scenario(write_roster(tmp_path / "again", rows, header=header)))
    assert again.buildings.lon.tolist() == b.lon.tolist()
    own = [*COMPOUNDS[:2], ["湖绣家园", "120.1000", "30.9000", "封控区", "", "2"]]
    own[0] = [*COMPOUNDS[0], "楼栋"]
    own[1] = [*COMPOUNDS[1], ""]
    reg = load_registry(load_scenario(write_roster(tmp_path / "own", rows, header=header, compounds=own)))
    assert (reg.buildings.lon[1], reg.buildings.lat[1], reg.buildings.zone[1]) == (120.1, 30.9, 2)
    assert reg.buildings.zone.tolist() == [0, 2, 0]


def test_gcj02_and_bd09_reference_values() -> None:
    lon, lat = wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
    assert (float(lon[0]), float(lat[0])) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    back = gcj02_to_wgs84(lon, lat)
    assert (float(back[0][0]), float(back[1][0])) == pytest.approx((116.404, 39.915), abs=1e-9)
    b_lon, b_lat = gcj02_to_bd09(lon, lat)
    assert (float(b_lon[0]), float(b_lat[0])) == pytest.approx((116.41662724378733, 39.922699552216216), abs=1e-6)
    w_lon, w_lat = to_wgs84(b_lon, b_lat, "bd09")
    assert (float(w_lon[0]), float(w_lat[0])) == pytest.approx((116.404, 39.915), abs=5e-6)  # < 1 m
    assert to_wgs84(np.array([2.35]), np.array([48.85]), "gcj02")[0][0] == 2.35  # outside China: unchanged


@settings(max_examples=200, deadline=None)
@given(st.floats(73.5, 134.7), st.floats(18.2, 53.5))
def test_inverse_round_trips_within_a_metre(lon: float, lat: float) -> None:
    g = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    w = gcj02_to_wgs84(*g)
    b = bd09_to_gcj02(*gcj02_to_bd09(*g))
    for x, y, x0, y0 in ((w[0][0], w[1][0], lon, lat), (b[0][0], b[1][0], g[0][0], g[1][0])):
        metres = np.hypot((x - x0) * 111_320 * np.cos(np.radians(y0)), (y - y0) * 111_320)
        assert metres < 1.0


def test_scenario_crs_converts_compounds_and_sites(tmp_path: Path) -> None:
    """registry.crs: gcj02 turns the compounds' and sites' coordinates into WGS-84."""
    plain = load_registry(load_scenario(write_roster(tmp_path / "w")))
    gcj = load_registry(load_scenario(write_roster(tmp_path / "g", crs="gcj02")))
    expect = gcj02_to_wgs84(np.array([120.0873]), np.array([30.8941]))
    assert gcj.buildings.lon[0] == pytest.approx(expect[0][0]) and gcj.buildings.lat[0] == pytest.approx(expect[1][0])
    assert gcj.sites[0].lon != plain.sites[0].lon
    with pytest.raises(InputError) as err:
        load_scenario(write_roster(tmp_path / "x", crs="mars"))
    assert err.value.issues[0].field == "registry.crs"


def test_unquoted_yaml_times_are_explained() -> None:
    data = parse_mapping("window: {night: [22:00, '06:00']}\n", "s.yaml")
    with pytest.raises(InputError) as err:
        scenario_from_mapping(data, "s.yaml")
    (issue,) = err.value.issues
    assert (issue.field, issue.value) == ("window.night", "22:00")
    assert "1320" in issue.fix and 'quote' in issue.fix


def test_person_level_scenario_plans_end_to_end_and_no_id_number_is_written(tmp_path: Path) -> None:
    """plan + sms + notices on a roster: everyone placed; no identity number in any file written
    nor anywhere in the planning registry."""
    rng = np.random.default_rng(3)
    rows, numbers = [], []
    for b in range(1, 9):
        for u in (1, 2):
            for room in (101, 102, 201, 202):
                for k in range(int(rng.integers(1, 4))):
                    number = idn(f"{1940 + int(rng.integers(0, 80))}0{1 + int(rng.integers(0, 9))}15",
                                 f"{len(rows) % 1000:03d}")
                    numbers.append(number)
                    style = (f"湖绣家园{b}号楼{u}单元{room}室", f"{b}栋{u}单元{room}", f"{b}-{u}-{room}")[len(rows) % 3]
                    rows.append([f"居民{len(rows)}", number, "男", "户主" if k == 0 else "子女", style,
                                 f"139{len(rows):08d}" if k == 0 else "", "网格一", ""])
    rows[3][5] = "0572-2345678"  # a landline: the household is on the no-SMS call list
    compounds = [COMPOUNDS[0], COMPOUNDS[1]]  # one compound: addresses without its name are in it
    scenario = write_roster(tmp_path / "in", rows, titles=1, form="xlsx", compounds=compounds)
    reg = load_registry(load_scenario(scenario))
    assert reg.people == len(rows) and len(reg.buildings) == 8
    import pickle

    everything = pickle.dumps(reg)  # households (Arrow columns included), buildings, sites, warnings
    assert not any(n.encode() in everything or n[:17].encode() in everything for n in numbers)
    assert not any(n in str(w) for w in reg.warnings for n in numbers)
    plan, sms, notices = tmp_path / "plan", tmp_path / "sms.csv", tmp_path / "notices"
    result = runner.invoke(app, ["plan", str(scenario), "-o", str(plan)])
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    assert summary["people"] == len(rows) and summary["unplaced_households"] == 0
    assert runner.invoke(app, ["sms", str(plan), "-o", str(sms)]).exit_code == 0
    assert runner.invoke(app, ["notices", str(plan), "-o", str(notices)]).exit_code == 0
    call_list = (tmp_path / "sms_invalid.csv").read_text(encoding="utf-8-sig")
    assert "0572-2345678" in call_list and "号码无效" in call_list
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "in" not in p.relative_to(tmp_path).parts[:1]]
    assert len(written) > 10
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            import zipfile

            with zipfile.ZipFile(path) as zf:
                data = b"".join(zf.read(n) for n in zf.namelist())
        for number in numbers:
            assert number.encode() not in data and number[:17].encode() not in data, (path, number)
    for text in (result.output,):
        assert not any(n in text for n in numbers)


def test_validate_prints_warnings_and_exits_zero(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write_roster(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "landline" in result.output


def test_template_command_writes_workbooks_with_drop_downs(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "templates"
    result = runner.invoke(app, ["template", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".sampler-output.json", "compounds.xlsx", "households.xlsx",
                                                     "persons.xlsx", "sites.xlsx"]
    book = load_workbook(out / "persons.xlsx")
    sheet = book.active
    assert [c.value for c in sheet[1]][:5] == ["姓名", "身份证号", "性别", "与户主关系", "住址"]
    lists = {str(v.sqref).split(":")[0][0]: v.formula1 for v in sheet.data_validations.dataValidation}
    assert "孕产妇" in lists["M"]
    compounds = load_workbook(out / "compounds.xlsx").active
    assert any("封控区" in v.formula1 for v in compounds.data_validations.dataValidation)
    assert runner.invoke(app, ["template", "-o", str(out)]).exit_code == 0  # its own output is replaced
    # the templates are read by the readers: a roster made from the template plans
    (tmp_path / "in").mkdir()
    for name in ("persons.xlsx", "compounds.xlsx", "sites.xlsx"):
        (tmp_path / "in" / name).write_bytes((out / name).read_bytes())
    (tmp_path / "in" / "scenario.yaml").write_text(
        "registry: {persons: persons.xlsx, compounds: compounds.xlsx, sites: sites.xlsx}\n", encoding="utf-8")
    reg = load_registry(load_scenario(tmp_path / "in" / "scenario.yaml"))
    assert reg.people == 1 and reg.households.contact.tolist() == ["张伟"]


ADDRESSES = ["湖绣家园3号楼2单元501室", "3栋2单元501", "3-2-501", "湖绣家园3-2-501", "3幢501室", "3#2单元501",
             "芝山村12号", "明林村12号101室", "吴兴区湖绣家园１２幢一单元３０２", "3-501", "湖绣家园", "", "abc",
             "Ａ栋１单元１０１", "3号2单元501室", "幸福2期3号楼201", "B座1门302"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(ADDRESSES) | st.text(alphabet="0123456789-号楼栋单元室村家园#Ａ１ ", max_size=14),
                max_size=30))
def test_vectorised_address_parser_agrees_with_the_one_by_one_parser(values: list[str]) -> None:
    from sampler.registry.address import parse_addresses

    pre, b, u, r, ok = parse_addresses(pa.array(values, type=pa.string()))
    for i, value in enumerate(values):
        one = parse_address(value)
        assert (one is not None) == bool(ok[i]), value
        if one is not None:
            assert one == (pre[i], b[i], u[i], r[i]), value


def test_a_bad_identity_number_cell_is_named_without_its_value(tmp_path: Path) -> None:
    """A NUL in an identity-number cell is refused at its row, the number not shown."""
    rows = [list(r) for r in ROSTER]
    number = rows[1][1]
    rows[1][1] = number + "\x00"
    with pytest.raises(InputError) as err:
        load_registry(load_scenario(write_roster(tmp_path, rows)))
    (issue,) = err.value.issues
    assert (issue.row, issue.field, issue.value) == (3, "身份证号", "(not shown)")
    assert number[:17] not in str(err.value)


def test_the_example_person_level_scenario_reads() -> None:
    """configs/persons_street (make_roster.py): 501 residents, GCJ-02 compounds, one mistyped number."""
    root = Path(__file__).resolve().parents[2]
    reg = load_registry(load_scenario(root / "configs" / "persons_street" / "scenario.yaml"))
    assert (reg.people, len(reg.households), len(reg.buildings)) == (501, 174, 22)
    assert [w.row for w in reg.warnings if "check digit" in w.fix] == [9]
    assert len(set(reg.buildings.compound.tolist())) == 4


def test_xls_without_python_calamine_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    scenario = write_roster(tmp_path, form="xls")
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # as if it were not installed
    with pytest.raises(InputError) as err:
        load_registry(load_scenario(scenario))
    (issue,) = err.value.issues
    assert issue.file.endswith("persons.xls") and "python-calamine" in issue.fix and ".xlsx" in issue.fix
