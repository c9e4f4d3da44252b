"""CSV/Excel formula injection (issue 10, item 7): no CSV sampler writes has a text cell a
spreadsheet would run as a formula; the workbooks hold such text as inline strings, never formulas.

Contacts, sites, buildings and staff are named ``=cmd|' /C calc'!A0``, ``=HYPERLINK(...)``,
``+SUM(1)``, ``@NOW()``, ``-1+1``; every CSV the commands write is scanned cell by cell.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli import app
from sampler.io.csvsafe import (
    neutralise,
    neutralise_frame,
    neutralise_table,
    restore,
    restore_frame,
)
from sampler.planfiles.read import read_plan
from tests.sampler.registry_files import BUILDINGS, HOUSEHOLDS, SITES, write_city

runner = CliRunner()
CMD = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://evil.example/x?id=1","点此领取")'
PAYLOADS = [CMD, LINK, "+SUM(1)", "@NOW()", "-1+1", "\t=1+1", "\r=1+1"]
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _dangerous(cell: str) -> bool:
    return bool(cell) and cell[0] in "=+-@\t\r" and not _NUMBER.match(cell)


def _cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _assert_safe_csvs(*folders: Path) -> int:
    """Every cell of every CSV below ``folders`` is safe; returns how many CSV files were checked."""
    n = 0
    for folder in folders:
        for path in [folder] if folder.is_file() else sorted(folder.rglob("*.csv")):
            for r, row in enumerate(_cells(path)):
                for c, cell in enumerate(row):
                    assert not _dangerous(cell), (path.name, r, c, cell)
            n += 1
    return n


def _assert_no_formulas(book: Path) -> None:
    """No cell of the workbook is a formula: text is written as inline strings."""
    from openpyxl import load_workbook

    with zipfile.ZipFile(book) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                xml = zf.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name
    wb = load_workbook(book)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)


# --- the helper --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", PAYLOADS)
def test_payloads_get_a_quote(text: str):
    assert neutralise(text) == "'" + text and restore(neutralise(text)) == text


@pytest.mark.parametrize("text", ["-5", "+3.5", "-0.25e3", "张伟", "", "1+1", "a=b", "'hello"])
def test_plain_text_and_numbers_are_left_alone(text: str):
    assert neutralise(text) == text and restore(text) == text


@given(st.text(alphabet=st.sampled_from(list("=+-@\t\r'a1.e 张")), max_size=8))
def test_neutralise_is_safe_and_reversible(text: str):
    safe = neutralise(text)
    assert not _dangerous(safe)
    assert restore(safe) == text
    frame = pd.DataFrame({"t": [text, "x"]})
    assert neutralise_frame(frame)["t"].tolist() == [safe, "x"]
    assert restore_frame(neutralise_frame(frame))["t"].tolist() == [text, "x"]
    table = neutralise_table(pa.table({"t": pa.array([text, None], pa.string())}))
    assert table.column("t").to_pylist() == [safe, None]


def test_numeric_columns_and_clean_frames_are_untouched():
    """Negative numbers stay numbers; a frame that needs nothing is returned as it is."""
    frame = pd.DataFrame({"lon": [-1.5, 118.3], "n": [-3, 4], "name": ["-1+1", "ok"], "mixed": [-2, "=1"]})
    safe = neutralise_frame(frame)
    assert safe["lon"].tolist() == [-1.5, 118.3] and safe["n"].tolist() == [-3, 4]
    assert safe["name"].tolist() == ["'-1+1", "ok"] and safe["mixed"].tolist() == [-2, "'=1"]
    assert safe.to_csv(index=False).splitlines()[1] == "-1.5,-3,'-1+1,-2"
    clean = pd.DataFrame({"a": ["x", "-5"], "b": [-1, 2]})
    assert neutralise_frame(clean) is clean


# --- the commands --------------------------------------------------------------------------------


@pytest.fixture
def hostile_city(tmp_path: Path) -> Path:
    """The small city with hostile contacts (one without a phone), site and building names."""
    hh = [list(r) for r in HOUSEHOLDS]
    for row, name in zip(hh[1:], [CMD, LINK, "+SUM(1)", "@NOW()"], strict=True):
        row[7] = name
    hh.append(["H5", "B2", "2", "202", "2", "0", "0", "-1+1", "", "", ""])  # no phone: on the invalid list
    sites = [list(r) for r in SITES]
    sites[1][1], sites[2][1] = LINK, "@NOW()"
    buildings = [list(r) for r in BUILDINGS]
    buildings[1][1], buildings[2][1] = "+SUM(1)", CMD
    return write_city(tmp_path / "city", households=hh, sites=sites, buildings=buildings)


def test_plan_sms_notices_and_simulate_write_no_formula(hostile_city: Path, tmp_path: Path):
    plan_dir, sim_dir = tmp_path / "plan", tmp_path / "sim"
    sms, notices = tmp_path / "sms.csv", tmp_path / "notices"
    for args in (["plan", str(hostile_city), "-o", str(plan_dir)],
                 ["sms", str(plan_dir), "-o", str(sms)],
                 ["notices", str(plan_dir), "-o", str(notices)],
                 ["simulate", str(hostile_city), "--plan", str(plan_dir), "-r", "1", "-o", str(sim_dir)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args[0], result.output)
    assert _assert_safe_csvs(plan_dir, sim_dir, sms, tmp_path / "sms_invalid.csv") == 7 + 3 + 2
    # the quote is there (not the text dropped), and sampler reads its own files back unchanged
    contacts = [[c for j, c in enumerate(row) if j != 1] for row in _cells(plan_dir / "contacts.csv")]  # no code
    assert ["H1", "'" + CMD, "13800138001"] in contacts and ["H5", "'-1+1", ""] in contacts
    assert {"'" + LINK, "'@NOW()"} <= {row[1] for row in _cells(plan_dir / "sites.csv")}
    assert {"'" + LINK, "'@NOW()"} <= {row[1] for row in _cells(sim_dir / "sites.csv")}
    invalid = pd.read_csv(tmp_path / "sms_invalid.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "'-1+1" in invalid["户主"].tolist()
    files = read_plan(plan_dir)
    assert files.contacts["contact"].tolist() == [CMD, LINK, "+SUM(1)", "@NOW()", "-1+1"]
    assert set(files.sites["name"]) == {LINK, "@NOW()"}
    assert {"+SUM(1)", CMD} <= set(files.buildings["name"])
    # the SMS texts name the site as it is (inside the text, not at a cell's start)
    texts = pd.read_csv(sms, dtype=str, keep_default_na=False, encoding="utf-8-sig")["text"]
    assert texts.str.contains(LINK, regex=False).any()
    for book in (plan_dir / "plan.xlsx", notices / "notices.xlsx"):
        _assert_no_formulas(book)
    from openpyxl import load_workbook

    values = {c.value for ws in load_workbook(plan_dir / "plan.xlsx").worksheets for row in ws.iter_rows()
              for c in row}
    assert {LINK, "@NOW()", "+SUM(1)", CMD} <= values  # kept verbatim as text in the workbook


def test_roster_csv_is_safe_and_read_back(hostile_city: Path, tmp_path: Path):
    from sim.staffing import _read_csv

    staff = tmp_path / "staff.csv"
    staff.write_text("staff_id,name,role,site_id\n"
                     f"P1,{'@NOW()'},sampler,S1\nP2,+SUM(1),sampler,S1\nP3,-1+1,sampler,S2\n"
                     "P4,甲,sampler,S2\nP5,乙,sampler,S1\nP6,丙,sampler,S2\n", encoding="utf-8")
    out = tmp_path / "roster"
    result = runner.invoke(app, ["roster", str(hostile_city), "--staff", str(staff), "-o", str(out), "--no-xlsx"])
    assert result.exit_code == 0, result.output
    assert _assert_safe_csvs(out) == 2
    assert _cells(out / "roster.csv")[0][:2] == ["staff_id", "name"]
    names = {r[1] for r in _cells(out / "roster.csv")[1:]}
    assert names & {"'@NOW()", "'+SUM(1)", "'-1+1"}
    assert set(_read_csv(out / "roster.csv")["name"]) & {"@NOW()", "+SUM(1)", "-1+1"}


def test_whatif_csvs_are_safe(hostile_city: Path, tmp_path: Path):
    from sim.whatif.output import write_whatif

    frame = pd.DataFrame({"site_id": ["S1"], "name": [LINK], "tables": [-1]})
    seen: dict[str, str] = {}

    class Report:  # the three tables write_whatif writes, as a what-if run gives them
        minus_one = frame

        def levels_frame(self) -> pd.DataFrame:
            return frame

        def site_staffing(self, registry: object) -> pd.DataFrame:
            return frame

        def summary(self, registry: object) -> dict[str, str]:
            return seen

    write_whatif(Report(), None, tmp_path / "w", chart=False)  # type: ignore[arg-type]
    assert _assert_safe_csvs(tmp_path / "w") == 3
    assert _cells(tmp_path / "w" / "whatif.csv")[1] == ["S1", "'" + LINK, "-1"]
