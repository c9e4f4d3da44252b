"""Malformed and hostile registry files never traceback (issue 10, item 6).

Each file is made in the test. `sampler validate` exits 2 with the issue table naming the file and
what is wrong; `read_table` / `load_registry` raise InputError. Limits (`FileLimits`) bound
unzipped size, compression ratio, rows, columns, cells and cell length.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from sampler.errors import InputError
from sampler.io import workbook as wbmod
from sampler.io.workbook import DEFAULT_LIMITS, FileLimits, read_xlsx_frame
from sampler.params import load_scenario
from sampler.registry.read import load_registry, read_table
from tests.sampler.hostile_files import (
    csv_as_xlsx,
    dtd_xlsx,
    random_bytes,
    replace_part,
    sheet_xml,
    workbook,
    zip_bomb_xlsx,
)
from tests.sampler.registry_files import HOUSEHOLDS, rows_text, write_city

runner = CliRunner()
HEADER = HOUSEHOLDS[0]


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    from sampler.commands import ui

    before = ui.err_console._width  # None: the console follows the terminal (setting .width back would freeze it)
    ui.err_console.width = 1000
    yield
    ui.err_console._width = before


def _city(tmp_path: Path, households: str) -> Path:
    """The small test city with its households file replaced by ``households`` (a name in tmp_path)."""
    scenario = write_city(tmp_path)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("households.csv", households), encoding="utf-8")
    return scenario


def _validate(scenario: Path, *words: str) -> Result:
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "input issue" in result.output
    flat = " ".join(result.output.split())
    for w in words:
        assert w in flat, (w, result.output)
    return result


def _issues(path: Path, kind: str = "households", limits: FileLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(InputError) as exc:
        read_table(path, kind, path.name, limits=limits)
    return str(exc.value)


def test_ten_megabytes_of_random_bytes_named_xlsx(tmp_path: Path):
    random_bytes(tmp_path / "households.xlsx", 10 << 20)
    _validate(_city(tmp_path, "households.xlsx"), "households.xlsx", "not an XLSX workbook", "export the table again")


def test_csv_renamed_xlsx(tmp_path: Path):
    csv_as_xlsx(tmp_path / "households.xlsx", rows_text(HOUSEHOLDS))
    _validate(_city(tmp_path, "households.xlsx"), "households.xlsx", "a text file named .xlsx", "rename it to .csv")


def test_gbk_csv_renamed_xlsx_and_old_xls(tmp_path: Path):
    (tmp_path / "a.xlsx").write_bytes(rows_text(HOUSEHOLDS).encode("gb18030"))
    assert "a text file named .xlsx" in _issues(tmp_path / "a.xlsx")
    (tmp_path / "b.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    assert "Excel 97-2003 or encrypted" in _issues(tmp_path / "b.xlsx")


def test_truncated_workbook(tmp_path: Path):
    path = workbook(tmp_path / "households.xlsx", HOUSEHOLDS)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _validate(_city(tmp_path, "households.xlsx"), "households.xlsx")


def test_xlsx_with_dtd_entities_is_refused(tmp_path: Path):
    dtd_xlsx(tmp_path / "households.xlsx", HEADER)
    _validate(_city(tmp_path, "households.xlsx"), "households.xlsx", "xl/worksheets/sheet1.xml: a DTD", "XML attack")


def test_entities_are_refused_by_the_parser_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Without the prolog check, openpyxl's parser (defusedxml) still refuses the entities."""
    path = dtd_xlsx(tmp_path / "households.xlsx", HEADER)
    monkeypatch.setattr(wbmod, "_has_dtd", lambda head: False)
    with pytest.raises(InputError, match="cannot be read"):
        read_xlsx_frame(path, "households.xlsx")


def test_zip_bomb_is_refused_before_it_is_parsed(tmp_path: Path):
    """20 MB of sheet XML in a few tens of KB: refused by its compression ratio, without parsing
    (the reported bomb held the service for 129 s)."""
    path = zip_bomb_xlsx(tmp_path / "households.xlsx", ["household_id", "building_id", "size"])
    assert path.stat().st_size < 200_000
    _validate(_city(tmp_path, "households.xlsx"), "households.xlsx", "zip bomb")
    # within a higher ratio limit, the unzipped-size limit stops it
    text = _issues(path, limits=FileLimits(max_ratio=1e9, max_bytes=10 << 20))
    assert "unzips to" in text and "MiB" in text


def test_lying_dimension_and_far_cells_are_bounded(tmp_path: Path):
    """A <dimension> of A1:XFD1048576 does not pad rows; a cell in column XFD or a row numbered
    past Excel's 1,048,576 is refused at once."""
    path = workbook(tmp_path / "h.xlsx", HOUSEHOLDS)
    head = '<dimension ref="A1:XFD1048576"/>'
    cells = "".join(f'<c r="{chr(65 + j)}1" t="inlineStr"><is><t>{h}</t></is></c>' for j, h in enumerate(HEADER))
    data = '<row r="2"><c r="A2" t="inlineStr"><is><t>H1</t></is></c></row>'
    replace_part(path, "xl/worksheets/sheet1.xml", sheet_xml(f'<row r="1">{cells}</row>{data}', head=head))
    frame = read_xlsx_frame(path, "h.xlsx")
    assert frame.shape == (1, len(HEADER))
    replace_part(path, "xl/worksheets/sheet1.xml", sheet_xml(
        f'<row r="1">{cells}</row><row r="2"><c r="XFD2"><v>1</v></c></row>'))
    assert "16,384 columns" in _issues(path)
    replace_part(path, "xl/worksheets/sheet1.xml", sheet_xml(
        f'<row r="1">{cells}</row><row r="90000000"><c r="A90000000"><v>1</v></c></row>'))
    assert "row numbers past 1,048,576" in _issues(path)  # stops at Excel's row cap, not the forged number


def test_nul_byte_in_a_text_cell_names_row_and_field(tmp_path: Path):
    """A NUL in a contact used to pass the upload and fail every plan job at 'storing' (PostgreSQL)."""
    rows = [list(r) for r in HOUSEHOLDS]
    rows[2][7] = "王\x00芳"
    result = _validate(write_city(tmp_path, households=rows), "households.csv", "NUL character")
    assert "王\\0芳" in result.output
    with pytest.raises(InputError) as exc:
        read_table(tmp_path / "households.csv", "households")
    (issue,) = exc.value.issues
    assert (issue.row, issue.field) == (3, "contact")  # data row 2 is Excel row 3 (the header is row 1)


def test_nul_byte_in_a_header(tmp_path: Path):
    rows = [list(r) for r in HOUSEHOLDS]
    rows[0][9] = "needs\x00"
    assert "NUL character" in _issues(_write(tmp_path / "h.csv", rows))


def _write(path: Path, rows: list[list[str]]) -> Path:
    path.write_text(rows_text(rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["households", "buildings"])
def test_header_only_file_is_an_error(tmp_path: Path, kind: str):
    """A households file with a header and no rows used to be stored (201) and fail in the job
    with IndexError; now it is an input error: nothing to plan."""
    rows = {"households": [HOUSEHOLDS[0]]} if kind == "households" else {"buildings": [["building_id", "lon", "lat"]],
                                                                         "households": [HOUSEHOLDS[0]]}
    scenario = write_city(tmp_path, **rows)  # type: ignore[arg-type]
    _validate(scenario, f"{kind}.csv", "0 rows", "has a header but no")
    with pytest.raises(InputError, match="0 rows"):
        load_registry(load_scenario(scenario))


def test_row_column_and_cell_limits(tmp_path: Path):
    csv_path = _write(tmp_path / "h.csv", HOUSEHOLDS)
    xlsx_path = workbook(tmp_path / "h.xlsx", HOUSEHOLDS)
    for path in (csv_path, xlsx_path):
        assert "rows" in _issues(path, limits=FileLimits(max_rows=3))
        assert "11 columns" in _issues(path, limits=FileLimits(max_columns=10))
        text = _issues(path, limits=FileLimits(max_cell_chars=4))
        assert "at most 4 characters" in text and "row 2" in text
        read_table(path, "households", limits=FileLimits(max_rows=4, max_columns=11, max_cell_chars=14))
    assert "cells" in _issues(xlsx_path, limits=FileLimits(max_cells=20))
    assert "larger than the limit" in _issues(csv_path, limits=FileLimits(max_bytes=100))
    assert "unzips to" in _issues(xlsx_path, limits=FileLimits(max_bytes=1000))


def test_long_cell_within_excel_limit_is_read(tmp_path: Path):
    rows = [list(r) for r in HOUSEHOLDS]
    rows[1][7] = "张" * 32_767
    read_table(_write(tmp_path / "h.csv", rows), "households")
    rows[1][7] += "张"
    assert "32,767 characters" in _issues(_write(tmp_path / "h.csv", rows))


def test_not_a_workbook_inside(tmp_path: Path):
    """A zip without a workbook, and one whose workbook part is garbage."""
    path = tmp_path / "h.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "not an XLSX workbook" in _issues(path)
    workbook(path, HOUSEHOLDS)
    replace_part(path, "xl/workbook.xml", b"<?xml version='1.0'?><nonsense/>")
    assert "cannot be read" in _issues(path)


def test_xlsx_reader_reads_what_pandas_reads(tmp_path: Path):
    """The bounded reader gives the same text as pandas.read_excel(dtype=str) did: numbers,
    whole floats, dates, blanks, a blank row, repeated and blank headers."""
    rows: list[list[object]] = [
        ["household_id", "size", "size", None, "when", "lon"],
        ["H1", 3, 2.0, "x", dt.datetime(2022, 11, 23, 6, 30), 118.32],
        [None, None, None, None, None, None],
        ["H2", 13800138001, None, None, dt.date(2022, 11, 24), -1.5],
        ["  H3 ", True, "", None, None, None],
    ]
    path = workbook(tmp_path / "h.xlsx", rows)
    ours = read_xlsx_frame(path, "h.xlsx")
    theirs = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    assert list(ours.columns) == [str(c) for c in theirs.columns]
    assert ours.to_numpy().tolist() == theirs.astype(str).to_numpy().tolist()


def test_registry_in_xlsx_still_plans(tmp_path: Path):
    """Ordinary XLSX registries (Chinese headers) read as before."""
    scenario = write_city(tmp_path, xlsx=True, chinese=True)
    registry = load_registry(load_scenario(scenario))
    assert len(registry.households) == 4 and registry.households.contact.tolist()[0] == "张伟"
