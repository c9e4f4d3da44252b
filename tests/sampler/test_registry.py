"""Registry import: encodings, Chinese headers, XLSX, and every bad-input rule with its message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sampler.errors import InputError
from sampler.model import PERIODS, RiskZone, needs_mask
from sampler.params import load_scenario
from sampler.registry.read import load_registry
from tests.sampler.registry_files import BUILDINGS, HOUSEHOLDS, SITES, write_city


def load(path: Path):
    """Load the registry of a scenario path."""
    return load_registry(load_scenario(path))


def issues_of(path: Path):
    """The issues load_registry raises for a scenario path."""
    with pytest.raises(InputError) as info:
        load(path)
    return info.value.issues


def test_english_utf8_registry_loads_with_parsed_fields(tmp_path: Path):
    """Sizes, phones (+86 and spaces removed), needs, periods, zones and sites come out parsed."""
    reg = load(write_city(tmp_path))
    hh = reg.households
    assert hh.id.tolist() == ["H1", "H2", "H3", "H4"]
    assert hh.size.tolist() == [3, 2, 1, 4]
    assert hh.phone.tolist() == ["13800138001", "13900138002", "", "15000138004"]
    assert hh.needs.tolist() == [0, needs_mask(["pregnant"]), needs_mask(["elderly_alone"]), needs_mask(["bedridden"])]
    assert [PERIODS[p] for p in hh.preferred] == ["", "morning", "", "afternoon"]
    assert hh.building.tolist() == [0, 0, 1, 2]
    assert reg.buildings.zone.tolist() == [RiskZone.PRECAUTION, RiskZone.PRECAUTION, RiskZone.CONTROLLED]
    s1, s2 = reg.sites
    assert (s1.tables, s1.rate, s1.open_minute, s1.close_minute, s1.queue_m) == (2, 80.0, 360, 1440, 120.0)
    assert (s2.rate, s2.serves, s2.queue_m) == (60.0, ("东风村",), 100.0)
    assert set(reg.hashes) == {"households", "buildings", "sites"}


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "gbk"])
def test_chinese_headers_in_excel_encodings(tmp_path: Path, encoding: str):
    """Chinese headers saved as GB18030, GBK or UTF-8 with BOM read the same as English UTF-8."""
    english = load(write_city(tmp_path / "en"))
    chinese = load(write_city(tmp_path / "zh", chinese=True, encoding=encoding))
    for field in ("id", "size", "phone", "needs", "preferred", "building"):
        assert np.array_equal(getattr(english.households, field), getattr(chinese.households, field))
    assert chinese.buildings.name.tolist() == ["1号楼", "2号楼", "3号楼"]
    assert chinese.sites[0].name == "二中操场"


def test_xlsx_with_chinese_headers(tmp_path: Path):
    """XLSX registries with Chinese headers load like CSV."""
    reg = load(write_city(tmp_path, chinese=True, xlsx=True))
    assert reg.households.size.tolist() == [3, 2, 1, 4]
    assert reg.sites[1].serves == ("东风村",)


def _with(rows: list[list[str]], row: int, field: str, value: str) -> list[list[str]]:
    out = [list(r) for r in rows]
    out[row][out[0].index(field)] = value
    return out


BAD_HOUSEHOLDS = [
    ("size", "0", "at least 1 person"),
    ("size", "-2", "at least 1 person"),
    ("size", "abc", "whole number"),
    ("size", "2.5", "whole number"),
    ("size", "45", "not a household"),
    ("building_id", "B9", "listed in the buildings file"),
    ("needs", "VIP", "elderly_alone"),
    ("preferred", "midnight", "morning"),
    ("elderly", "5", "cannot exceed"),
    ("children", "-1", "0 or more"),
]


@pytest.mark.parametrize(("field", "value", "fix"), BAD_HOUSEHOLDS)
def test_bad_household_cell_names_file_row_field_value_and_fix(tmp_path: Path, field: str, value: str, fix: str):
    """Each bad household cell gives one issue naming file, row as Excel shows it (data row 2 is
    row 3 below the header), header, value and the fix."""
    (issue,) = issues_of(write_city(tmp_path, households=_with(HOUSEHOLDS, 2, field, value)))
    assert issue.file.endswith("households.csv")
    assert (issue.row, issue.field, issue.value) == (3, field, value)
    assert fix in issue.fix


def test_duplicate_household_id_names_the_first_row(tmp_path: Path):
    """A repeated household id is reported at the repeat, pointing at the first occurrence."""
    (issue,) = issues_of(write_city(tmp_path, households=_with(HOUSEHOLDS, 3, "household_id", "H1")))
    assert (issue.row, issue.field) == (4, "household_id")
    assert "first at row 2" in issue.value


def test_chinese_header_is_named_in_the_message(tmp_path: Path):
    """The issue uses the header the user wrote (人数), not the internal field name."""
    (issue,) = issues_of(write_city(tmp_path, households=_with(HOUSEHOLDS, 1, "size", "0"), chinese=True))
    assert issue.field == "人数"


@pytest.mark.parametrize(("rows_of", "field", "value", "fix"), [
    ("buildings", "lon", "", "longitude"),
    ("buildings", "lat", "north", "latitude"),
    ("buildings", "lat", "95", "between -90 and 90"),
    ("buildings", "risk_zone", "红区", "封控区"),
    ("buildings", "building_id", "B1", "unique"),
    ("sites", "tables", "0", "at least 1"),
    ("sites", "rate", "-5", "positive"),
    ("sites", "open", "25:00", "HH:MM"),
    ("sites", "serves", "不存在小区", "compound"),
    ("sites", "site_id", "S1", "unique"),
])
def test_bad_building_and_site_cells(tmp_path: Path, rows_of: str, field: str, value: str, fix: str):
    """Bad coordinates, zones, duplicate ids, zero tables, bad times and unknown compounds are caught."""
    base = {"buildings": BUILDINGS, "sites": SITES}[rows_of]
    issues = issues_of(write_city(tmp_path, **{rows_of: _with(base, 2, field, value)}))
    mine = [i for i in issues if i.file.endswith(f"{rows_of}.csv")]
    assert mine and mine[0].row == 3 and mine[0].field == field and fix in mine[0].fix


def test_every_issue_is_reported_at_once(tmp_path: Path):
    """Three different errors in one file give three issues in one run."""
    rows = _with(_with(_with(HOUSEHOLDS, 1, "size", "0"), 2, "elderly", "x"), 4, "building_id", "B7")
    issues = issues_of(write_city(tmp_path, households=rows))
    assert sorted((i.row, i.field) for i in issues) == [(2, "size"), (3, "elderly"), (5, "building_id")]


def test_missing_required_column_lists_accepted_headers(tmp_path: Path):
    """A households file without a size column names the column and the headers it accepts."""
    rows = [[c for j, c in enumerate(r) if j != 4] for r in HOUSEHOLDS]
    (issue,) = issues_of(write_city(tmp_path, households=rows))
    assert issue.field == "size" and "人数" in issue.fix


def test_undecodable_bytes_and_unknown_format_are_clear(tmp_path: Path):
    """Bytes that are neither UTF-8 nor GB18030, and a .pdf registry, get file-level issues."""
    path = write_city(tmp_path)
    (tmp_path / "households.csv").write_bytes(b"household_id,building_id,size\n\x80\xff\xfe,B1,2\n")
    (issue,) = issues_of(path)
    assert issue.field == "(encoding)" and "UTF-8" in issue.fix
    path.write_text(path.read_text().replace("sites.csv", "sites.pdf"), encoding="utf-8")
    (tmp_path / "sites.pdf").write_bytes(b"%PDF")
    assert any(i.file.endswith("sites.pdf") and ".xlsx" in i.fix for i in issues_of(path))


def test_missing_file_names_the_path(tmp_path: Path):
    """A scenario pointing at a missing file says which."""
    path = write_city(tmp_path)
    (tmp_path / "sites.csv").unlink()
    (issue,) = issues_of(path)
    assert issue.file.endswith("sites.csv") and issue.field == "(file)"


def test_many_bad_rows_are_capped_with_a_count(tmp_path: Path):
    """1,500 bad rows of one rule give 1,000 issues and one summary line with the rest."""
    rows = [HOUSEHOLDS[0]] + [[f"H{i}", "B1", "1", str(i), "0", "", "", "", "", "", ""] for i in range(1500)]
    issues = issues_of(write_city(tmp_path, households=rows))
    assert len(issues) == 1001
    assert "500 more rows" in issues[-1].fix


def test_surrounding_whitespace_is_trimmed_in_every_column(tmp_path: Path):
    """Spaces, tabs and full-width or no-break spaces around a value are trimmed, ASCII or not
    (the trim is skipped only for columns it cannot change)."""
    rows = [list(r) for r in HOUSEHOLDS]
    rows[1][0], rows[1][3], rows[1][7] = " H1", "101\t", "\u3000张伟\u00a0"
    rows[2][4] = " 2 "
    hh = load(write_city(tmp_path, households=rows)).households
    assert hh.id.tolist()[:2] == ["H1", "H2"]
    assert hh.room.tolist()[0] == "101"
    assert hh.contact.tolist()[0] == "张伟"
    assert hh.size.tolist()[:2] == [3, 2]


def test_household_text_columns_are_arrow_until_read_and_then_numpy(tmp_path: Path):
    """ids, units, rooms, contacts and phones stay Arrow arrays until first read, then are the same
    numpy object arrays as before; a table pickles (process pools) either way."""
    import pickle

    hh = load(write_city(tmp_path)).households
    assert hh.arrow("contact") is not None and "contact" not in vars(hh)
    assert len(hh) == 4
    clone = pickle.loads(pickle.dumps(hh))
    assert isinstance(hh.contact, np.ndarray) and hh.contact.dtype == object
    assert hh.contact.tolist() == ["张伟", "王芳", "李娜", "刘洋"]
    assert hh.unit.tolist() == ["1", "1", "2", "1"] and hh.room.tolist() == ["101", "102", "201", "301"]
    assert clone.contact.tolist() == hh.contact.tolist() and clone.phone.tolist() == hh.phone.tolist()
    with pytest.raises(AttributeError):
        _ = hh.no_such_column
