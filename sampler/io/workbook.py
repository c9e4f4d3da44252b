"""Read untrusted CSV/XLSX tables within limits: every malformed or hostile file is an InputError.

Registry files (and staff files) come from planners' spreadsheets and, through the API, from
anyone holding a planner key. Before openpyxl sees an ``.xlsx`` it is checked here:

* it is a zip archive with a workbook in it (random bytes, a CSV or an old ``.xls`` renamed
  ``.xlsx`` are named as such);
* its parts unzip to at most `FileLimits.max_bytes` in all, and no part larger than 1 MiB is
  compressed more than `FileLimits.max_ratio` times (a zip bomb: 361 KB that unzip to 105 MB of
  sheet XML once held the service for two minutes);
* no XML part declares a DTD (``<!DOCTYPE``/``<!ENTITY``: entity expansion, external entities);
  OOXML never needs one. openpyxl also parses through defusedxml, which forbids entities.

The first sheet is then read in openpyxl's streaming mode, row by row, stopping at the first
row past `FileLimits.max_rows`, a row wider than `FileLimits.max_columns` or more than
`FileLimits.max_cells` cells. Cell values are converted to text as ``pandas.read_excel(dtype=str,
keep_default_na=False)`` does. `check_cells` then refuses cells longer than
`FileLimits.max_cell_chars` and NUL characters (PostgreSQL cannot store them, and no name or
phone has one), naming the row and column.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue

__all__ = ["DEFAULT_LIMITS", "FileLimits", "HeaderPicker", "check_cells", "frame_from_rows", "read_xls_frame",
           "read_xlsx_frame", "sniff"]

HeaderPicker = Callable[[Sequence[Sequence[str]]], int]
"""Given a sheet's first rows (as text), the index of the header row among them."""

_MIB = 1 << 20
XLSX_MAX_ROWS = 1_048_576  # the most rows an Excel sheet has


@dataclass(frozen=True)
class FileLimits:
    """Bounds on one input table; the defaults fit a city of ten million households.

    Attributes
    ----------
    max_bytes
        Largest CSV file, and most bytes an XLSX may unzip to (all parts together): 2 GiB.
    max_ratio
        Most an XLSX part larger than 1 MiB may be compressed (unzipped / zipped size): 100.
        Spreadsheets save sheets 5–15× smaller; zip bombs are hundreds to thousands of times.
    max_rows
        Most data rows: 10,000,000 (an XLSX sheet holds at most 1,048,575 anyway).
    max_columns
        Most columns in the header or any row: 200 (registry files have up to 15).
    max_cells
        Most cells of an XLSX sheet counted as read (its rows padded to their last cell): 100,000,000.
    max_cell_chars
        Longest cell, in characters: 32,767, Excel's own limit.
    max_zip_members
        Most parts in an XLSX archive: 10,000.
    """

    max_bytes: int = 2 << 30
    max_ratio: float = 100.0
    max_rows: int = 10_000_000
    max_columns: int = 200
    max_cells: int = 100_000_000
    max_cell_chars: int = 32_767
    max_zip_members: int = 10_000


DEFAULT_LIMITS = FileLimits()


def _refuse(name: str, value: str, fix: str, field: str = "(file)", row: int | None = None) -> InputError:
    return InputError([InputIssue(name, row, field, value, fix)])


def sniff(head: bytes) -> str:
    """What a file's first bytes look like: 'zip', 'xls' (OLE2: Excel 97–2003 or encrypted), 'text' or 'binary'."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    sample = head[:4096]
    if b"\x00" not in sample:
        for encoding in ("utf-8", "gb18030"):
            try:
                sample.decode(encoding)
                return "text"
            except UnicodeDecodeError as exc:
                if exc.start >= len(sample) - 4:  # a character cut at the end of the sample
                    return "text"
    return "binary"


def _not_a_workbook(path: Path, name: str) -> InputError:
    try:
        with open(path, "rb") as fh:
            kind = sniff(fh.read(4096))
    except OSError as exc:
        return _refuse(name, exc.strerror or "unreadable", "the file cannot be read; check its permissions")
    if kind == "xls":
        return _refuse(name, "Excel 97-2003 or encrypted workbook",
                       "save it as an unprotected .xlsx workbook (Excel: File > Save As > Excel Workbook), or as CSV")
    if kind == "text":
        return _refuse(name, "a text file named .xlsx",
                       "this is a text (CSV) file: rename it to .csv, or open it in Excel and save it as .xlsx")
    return _refuse(name, "not an XLSX workbook",
                   "the file is not an Excel workbook (an .xlsx is a zip archive; this is not one or it is damaged): "
                   "export the table again as .xlsx or CSV")


_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*", re.S)


def _has_dtd(head: bytes) -> bool | None:
    """Whether an XML part's prolog declares a DTD; None when no element starts within ``head``."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            head = head.decode("utf-16").encode("utf-8", "replace")
        except UnicodeDecodeError:
            return None
    head = head.removeprefix(b"\xef\xbb\xbf")
    end = _PROLOG.match(head)
    rest = head[end.end() if end else 0:]
    if rest.startswith(b"<!"):
        return True
    return False if rest[:1] == b"<" and len(rest) > 1 else None


def _check_archive(path: Path, name: str, limits: FileLimits) -> None:
    try:
        if not zipfile.is_zipfile(path):
            raise _not_a_workbook(path, name)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_zip_members:
                raise _refuse(name, f"{len(infos):,} parts", f"an XLSX has at most {limits.max_zip_members:,} parts "
                                                            "here; save the table alone in a new workbook")
            names = {i.filename for i in infos}
            if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
                raise _not_a_workbook(path, name)
            total = sum(i.file_size for i in infos)
            if total > limits.max_bytes:
                raise _refuse(name, f"unzips to {total / _MIB:,.0f} MiB",
                              f"the workbook unzips to more than the limit of {limits.max_bytes / _MIB:,.0f} MiB; "
                              "give the table as CSV, or split it")
            for info in infos:
                if info.file_size > _MIB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                    ratio = info.file_size / max(info.compress_size, 1)
                    raise _refuse(name, f"{info.filename}: {info.compress_size:,} bytes unzip to {info.file_size:,}",
                                  f"a part compressed {ratio:,.0f}× (more than {limits.max_ratio:g}×) is a zip bomb, "
                                  "not a spreadsheet; export the table again from Excel, or as CSV")
            for info in infos:
                if info.is_dir() or info.file_size == 0:
                    continue
                with zf.open(info) as part:
                    head = part.read(65536)
                if head.lstrip()[:1] not in (b"<", b"\xef", b"\xff", b"\xfe"):
                    continue  # not XML (images, binary parts)
                dtd = _has_dtd(head)
                if dtd or (dtd is None and info.filename.endswith((".xml", ".rels"))):
                    raise _refuse(name, f"{info.filename}: {'a DTD' if dtd else 'unusual XML'}",
                                  "the workbook's XML declares a DTD or entities, which spreadsheets never write "
                                  "(an XML attack); export the table again from Excel, or as CSV")
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise _refuse(name, type(exc).__name__, f"the workbook is damaged ({str(exc)[:100]}); export it again "
                                                 "as .xlsx or CSV") from None


def _text(value: Any) -> str:
    """A cell as pandas.read_excel(dtype=str, keep_default_na=False) gives it: whole floats
    without '.0', dates and times as str() writes them."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_names(header: list[str]) -> list[str]:
    """Header names as pandas makes them: 'Unnamed: i' for blanks, '.1', '.2' for repeats."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        base = h if h != "" else f"Unnamed: {i}"
        name, k = base, seen.get(base, 0)
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen[base] = k
        seen[name] = 0
        names.append(name)
    return names


def read_xlsx_frame(path: Path, name: str, limits: FileLimits = DEFAULT_LIMITS,
                    header_row: HeaderPicker | None = None) -> pd.DataFrame:
    """The first sheet of an XLSX as a frame of text columns ('' for blank), the first row (or the
    one ``header_row`` picks among the first ten, `frame_from_rows`) as header, trailing blank rows
    dropped (as pandas.read_excel does); InputError for anything that is not a sound workbook
    within ``limits``."""
    _check_archive(path, name, limits)
    import openpyxl

    rows: list[list[str]] = []
    cells = 0
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False, keep_vba=False)
        try:
            sheet = book.worksheets[0]
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a lying <dimension> must not pad every row to XFD1048576
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > XLSX_MAX_ROWS:
                    raise _refuse(name, f"row numbers past {XLSX_MAX_ROWS:,}",
                                  f"an Excel sheet has at most {XLSX_MAX_ROWS:,} rows; this one is damaged or forged: "
                                  "export the table again")
                if len(values) > limits.max_columns:
                    raise _refuse(name, f"{len(values):,} columns", f"a table has at most {limits.max_columns:,} "
                                  "columns here; delete the empty or extra columns", row=number)
                cells += len(values)
                if cells > limits.max_cells:
                    raise _refuse(name, f"more than {limits.max_cells:,} cells",
                                  "the sheet is larger than the limit; give the table as CSV, or split it")
                row = [_text(v) for v in values]
                while row and row[-1] == "":
                    row.pop()
                if row:
                    if number - 1 > limits.max_rows:
                        raise _refuse(name, f"more than {limits.max_rows:,} rows",
                                      f"a table has at most {limits.max_rows:,} rows here; split it")
                    rows.extend([] for _ in range(number - 1 - len(rows)))  # blank rows in between
                    rows.append(row)
        finally:
            book.close()
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on damaged or hostile workbooks
        raise _refuse(name, type(exc).__name__, f"the workbook cannot be read ({str(exc)[:100]}); export it again "
                                                 "as .xlsx or CSV") from None
    return frame_from_rows(rows, name, header_row)


def frame_from_rows(rows: list[list[str]], name: str, header_row: HeaderPicker | None = None) -> pd.DataFrame:
    """A sheet's rows (row i = sheet row i + 1, blank rows as []) as a frame: the header row (the
    first, or the one ``header_row`` picks among the first ten) gives the names, the rows below it
    the data; ``frame.attrs["first_row"]`` is the sheet row number of the first data row."""
    if not rows:
        raise _refuse(name, "empty sheet", "the first sheet is empty: put the table (with its header row) there")
    at = header_row(rows[:10]) if header_row is not None else 0
    width = max((len(r) for r in rows[at:]), default=0)
    header = _header_names(rows[at] + [""] * (width - len(rows[at])))
    body = rows[at + 1:]
    columns = {}
    for j, col in enumerate(header):
        columns[col] = pd.Series([r[j] if j < len(r) else "" for r in body], dtype=object)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(body)))
    frame.attrs["first_row"] = at + 2
    return frame


def read_xls_frame(path: Path, name: str, limits: FileLimits = DEFAULT_LIMITS,
                   header_row: HeaderPicker | None = None) -> pd.DataFrame:
    """The first sheet of a legacy Excel 97–2003 ``.xls`` workbook, read by python-calamine, as
    `read_xlsx_frame` gives an ``.xlsx`` (same text conversion, limits and header search)."""
    try:
        import python_calamine
    except ImportError:
        raise _refuse(name, ".xls (Excel 97-2003)", "reading .xls needs the python-calamine package "
                      "(pip install python-calamine); or save the file as .xlsx or CSV in Excel") from None
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise _refuse(name, f"{size / _MIB:,.0f} MiB", f"the file is larger than the limit of "
                      f"{limits.max_bytes / _MIB:,.0f} MiB; split it")
    with open(path, "rb") as fh:
        kind = sniff(fh.read(4096))
    if kind != "xls":
        if kind == "zip":
            raise _refuse(name, "an .xlsx workbook named .xls", "rename the file to .xlsx")
        if kind == "text":
            raise _refuse(name, "a text file named .xls", "this is a text (CSV or web page) file: save it from "
                          "Excel as .xlsx or CSV")
        raise _refuse(name, "not an XLS workbook", "the file is not an Excel workbook or it is damaged: export "
                      "the table again as .xlsx or CSV")
    rows: list[list[str]] = []
    cells = 0
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0)
        for number, values in enumerate(sheet.iter_rows(), start=1):
            if len(values) > limits.max_columns:
                raise _refuse(name, f"{len(values):,} columns", f"a table has at most {limits.max_columns:,} "
                              "columns here; delete the empty or extra columns", row=number)
            cells += len(values)
            if cells > limits.max_cells or number - 1 > limits.max_rows:
                raise _refuse(name, f"more than {min(limits.max_cells, cells):,} cells or {limits.max_rows:,} rows",
                              "the sheet is larger than the limit; give the table as CSV, or split it")
            row = [_text(v) for v in values]
            while row and row[-1] == "":
                row.pop()
            rows.append(row)
    except InputError:
        raise
    except Exception as exc:  # calamine raises its own kinds on damaged or encrypted workbooks
        raise _refuse(name, type(exc).__name__, f"the workbook cannot be read ({str(exc)[:100]}); save it again "
                      "as .xlsx or CSV") from None
    while rows and not rows[-1]:
        rows.pop()
    return frame_from_rows(rows, name, header_row)


def check_cells(frame: pd.DataFrame, name: str, limits: FileLimits = DEFAULT_LIMITS,
                has_nul: bool | None = None, first_row: int = 2) -> None:
    """Refuse a table with a NUL character in any cell or a cell longer than ``limits.max_cell_chars``
    (every such cell is named by row and column, up to 20, rows numbered as the sheet shows them:
    data row i is ``first_row + i``, the header is ``first_row - 1``); ``has_nul=False`` skips the
    NUL scan (the caller saw no NUL byte in the file)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(frame.columns) > limits.max_columns:
        raise _refuse(name, f"{len(frame.columns):,} columns", f"a table has at most {limits.max_columns:,} columns "
                                                              "here; delete the empty or extra columns", row=first_row - 1)
    if len(frame) > limits.max_rows:
        raise _refuse(name, f"{len(frame):,} rows", f"a table has at most {limits.max_rows:,} rows here; split it")
    issues: list[InputIssue] = []
    for col in frame.columns:
        if "\x00" in str(col):
            issues.append(InputIssue(name, first_row - 1, str(col).replace("\x00", "\\0")[:60], "(header)",
                                     "remove the NUL character (\\0) from this column's header"))
    for col in frame.columns:
        series = frame[col]
        if not isinstance(series, pd.Series):
            continue
        if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
            arr = pa.array(series.array)
        else:
            arr = pa.array(series.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
        if isinstance(arr, pa.Array):
            arr = pa.chunked_array([arr], type=arr.type)
        header = str(col)
        if _max_bytes(arr) > limits.max_cell_chars:
            long = pc.fill_null(pc.greater(pc.utf8_length(arr), limits.max_cell_chars), False)
            for i in np.flatnonzero(long.to_numpy(zero_copy_only=False))[:20]:
                issues.append(InputIssue(name, first_row + int(i), header, f"{len(str(series.iat[i])):,} characters",
                                         f"a cell holds at most {limits.max_cell_chars:,} characters here; shorten it"))
        if has_nul is not False:
            nul = pc.fill_null(pc.match_substring(arr, "\x00"), False)
            for i in np.flatnonzero(nul.to_numpy(zero_copy_only=False))[:20]:
                shown = str(series.iat[i]).replace("\x00", "\\0")[:60]
                issues.append(InputIssue(name, first_row + int(i), header, shown,
                                         "remove the NUL character (\\0) from this cell: it is not text"))
        if len(issues) >= 20:
            break
    if issues:
        raise InputError(issues)


def _max_bytes(arr: Any) -> int:
    """The longest cell of a chunked string array in bytes (an upper bound of its characters)."""
    import pyarrow as pa

    best = 0
    for chunk in arr.chunks:
        if len(chunk) == 0:
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)[
            chunk.offset : chunk.offset + len(chunk) + 1].astype(np.int64, copy=False)
        best = max(best, int(np.diff(offsets).max(initial=0)))
    return best
