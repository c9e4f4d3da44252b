"""Read and validate the registry files planners really have: CSV or XLSX, English or Chinese headers.

    registry = load_registry(scenario)      # raises InputError listing every issue at once

CSV encodings UTF-8, UTF-8 with BOM and GB18030 (Excel in China saves GBK, a subset) are detected,
as is UTF-16 with BOM (Excel's tab-separated "Unicode 文本"); ``.xls`` is read by python-calamine.
The header may sit below a title or notes (`header_index`); rows in messages are numbered as
Excel shows them (`excel_row`). A scenario may give a person-level roster and its compounds
instead of households and buildings (`sampler.registry.persons`), and coordinates in GCJ-02 or
BD-09 (`registry.crs`, `sampler.registry.crs`). Problems that need not stop planning (a landline,
a bad identity-number check digit) are the Registry's warnings.
All checks are vectorised, so a million households validate in about a second; only bad rows are
visited one by one, and at most `MAX_PER_RULE` of them per rule are listed.

Files are untrusted (the API takes them from uploads): a file that is not a table, a zip bomb, an
XLSX with a DTD, a file past the size, row, column or cell-length bounds of
`sampler.io.workbook.FileLimits` (``limits=``; defaults fit ten million households), a NUL
character in a cell, or a households/buildings/sites file with a header and no rows is an
InputError naming the file (and row and column where there is one), never a traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.text import text_series
from sampler.io.timefmt import parse_clock
from sampler.io.workbook import (
    DEFAULT_LIMITS,
    FileLimits,
    check_cells,
    read_xls_frame,
    read_xlsx_frame,
)
from sampler.model import (
    PERIODS,
    PERIODS_ZH,
    SPECIAL_NEEDS,
    SPECIAL_NEEDS_ZH,
    BuildingTable,
    HouseholdTable,
    Registry,
    Site,
)
from sampler.notify.contact import MOBILE, mask_phone
from sampler.params import Scenario
from sampler.registry.crs import to_wgs84
from sampler.registry.headers import ALIASES, REQUIRED, canonical_name

__all__ = ["MAX_PER_RULE", "FileLimits", "load_registry", "read_sites", "read_table"]

MAX_PER_RULE = 1000
REGISTRY_KINDS = ("households", "buildings", "sites", "persons", "compounds")  # the files a scenario's registry section names
MAX_HOUSEHOLD = 20
_SPLIT = r"[;；、,，/|\s]+"

_ZONES = {"precaution": 0, "防范区": 0, "": 0, "controlled": 1, "管控区": 1, "sealed": 2, "封控区": 2,
          "防范": 0, "管控": 1, "封控": 2}
_NEEDS = {**{n: i for i, n in enumerate(SPECIAL_NEEDS)}, **{n: i for i, n in enumerate(SPECIAL_NEEDS_ZH)},
          "空巢老人": 0, "残疾": 1, "失能人员": 1, "孕妇": 3, "婴儿": 4}
_PERIODS = {**{p: i for i, p in enumerate(PERIODS)}, **{p: i for i, p in enumerate(PERIODS_ZH) if p}}


def display_path(path: Path) -> str:
    """The path as a user would type it from here."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _utf8_bytes(path: Path, name: str, limits: FileLimits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes as UTF-8 without BOM, whether it was saved as UTF-8, UTF-8 BOM or GB18030."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputError([InputIssue(name, None, "(file)", f"{size / (1 << 20):,.0f} MiB",
                                     f"the file is larger than the limit of {limits.max_bytes / (1 << 20):,.0f} MiB; "
                                     "split it")])
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode 文本" (UTF-16 with BOM, tab-separated)
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise InputError([InputIssue(name, None, "(encoding)", "damaged UTF-16",
                                         "save the file again from Excel (CSV UTF-8 or Unicode text)")]) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError:
        pass
    raise InputError([InputIssue(name, None, "(encoding)", "not UTF-8 or GB18030",
                                 "save the file as CSV UTF-8 (or GBK/GB18030) from Excel and try again")])


def _read_csv_text(data: bytes, delimiter: str = ",") -> pd.DataFrame:
    """A CSV as a frame of text columns, blanks as '' and surrounding whitespace trimmed.

    Arrow reads every column as text (names from a first look at the header row) and trims it;
    anything unusual (duplicate header names, a malformed file) goes through pandas' reader, whose
    result and errors are the same as before (Arrow's read alone was 2.5× faster at 1 M rows).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        parse = pacsv.ParseOptions(delimiter=delimiter)
        names = pacsv.open_csv(io.BytesIO(data), parse_options=parse).schema.names
        if len(set(names)) == len(names):
            table = pacsv.read_csv(io.BytesIO(data), parse_options=parse, convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False))
            if table.column_names == names and all(t == pa.large_string() for t in table.schema.types):
                return pd.DataFrame({n: text_series(_trimmed(table.column(n)))
                                     for n in names}, index=pd.RangeIndex(table.num_rows))
    except pa.ArrowInvalid:
        pass  # pandas' reader below raises the error users are told about
    raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, engine="pyarrow", sep=delimiter)
    return pd.DataFrame({c: raw[c].astype(str).str.strip() for c in raw.columns})



def _trimmed(column: Any) -> Any:
    """An Arrow large_string column with surrounding whitespace trimmed (``utf8_trim_whitespace``).

    The trim is skipped when it cannot change anything: every value is empty or starts and ends
    with a printable ASCII byte (whitespace is ASCII ≤ 0x20 or a multi-byte character, whose
    bytes are ≥ 0x80), which ids, numbers and phones always do.
    """
    import pyarrow.compute as pc

    for chunk in column.chunks:
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = chunk.buffers()[2]
        if data is None or offsets[-1] == offsets[0]:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        full = offsets[1:] > offsets[:-1]
        first, last = raw[offsets[:-1][full]], raw[offsets[1:][full] - 1]
        if ((first <= 0x20) | (first >= 0x80) | (last <= 0x20) | (last >= 0x80)).any():
            return pc.utf8_trim_whitespace(column)
    return column


HEADER_SEARCH_ROWS = 10  # a title or notes above the header: the header is looked for in this many rows


def header_index(rows: Sequence[Sequence[str]], kind: str) -> int:
    """Which of a file's first rows is its header: the one naming the most known columns of
    ``kind`` (the first such row on a tie; row 0 when none names any)."""
    best, at = 0, 0
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = len({f for f in (canonical_name(kind, str(c)) for c in row) if f is not None})
        if score > best:
            best, at = score, i
    return at


def _csv_head(data: bytes, kind: str) -> tuple[bytes, str, int]:
    """A CSV's bytes from its header line on, its delimiter (tab for Excel's Unicode text) and the
    line number of its first data row (title or notes lines above the header skipped)."""
    lines = data[: 1 << 16].split(b"\n")[:HEADER_SEARCH_ROWS]
    texts = [line.decode("utf-8", errors="replace").rstrip("\r") for line in lines]

    def delimiter_of(text: str) -> str:
        return "\t" if text.count("\t") > text.count(",") else ","

    rows = [next(csv.reader([t], delimiter=delimiter_of(t)), []) for t in texts]
    at = header_index(rows, kind) if len(lines) > 1 else 0
    skip = sum(len(line) + 1 for line in lines[:at])
    return data[skip:], delimiter_of(texts[at]), at + 2


def excel_row(frame: pd.DataFrame, i: int) -> int:
    """The row number a spreadsheet shows for data row ``i`` (0-based) of a frame from `read_table`."""
    return int(frame.attrs.get("first_row", 2)) + int(i)


def read_table(path: Path, kind: str, name: str | None = None, limits: FileLimits = DEFAULT_LIMITS) -> pd.DataFrame:
    """Read one registry file into a frame of str columns with canonical names ('' for blank).

    ``frame.attrs["headers"]`` maps each canonical field to the header the user wrote, for messages;
    ``frame.attrs["given"]`` lists the fields the file has (the others are blank columns);
    ``frame.attrs["first_row"]`` is the row number Excel (or a text editor) shows for the first
    data row (`excel_row`). The header is the row among the first `HEADER_SEARCH_ROWS` that names
    the most known columns, so a title or notes above it are skipped. Text files may be UTF-8,
    UTF-8 with BOM, GB18030 or UTF-16 with BOM (Excel's "Unicode 文本", tab-separated); ``.xls``
    needs python-calamine. Malformed and hostile files, and files past ``limits``, raise
    InputError (module docstring).
    """
    name = name or display_path(path)
    if not path.is_file():
        where = "in the scenario's registry section" if kind in REGISTRY_KINDS else "given on the command line"
        raise InputError([InputIssue(name, None, "(file)", str(path), f"check the path {where}")])
    suffix = path.suffix.lower()
    has_nul = None
    first_row = 2
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            data = _utf8_bytes(path, name, limits)
            if not data.strip():
                raise pd.errors.EmptyDataError("the file is empty")
            has_nul = b"\x00" in data
            data, delimiter, first_row = _csv_head(data, kind)
            raw = _read_csv_text(data, delimiter)
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            pick = functools.partial(header_index, kind=kind)
            reader = read_xls_frame if suffix == ".xls" else read_xlsx_frame
            raw = reader(path, name, limits, header_row=pick)
            first_row = int(raw.attrs.get("first_row", 2))
            raw = pd.DataFrame({c: raw[c].astype(str).str.strip() for c in raw.columns})
        else:
            raise InputError([InputIssue(name, None, "(file)", suffix or "(none)",
                                         "give the file as .csv (UTF-8 or GB18030), .txt (Unicode text), .xlsx or .xls")])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError([InputIssue(name, None, "(file)", type(exc).__name__,
                                     f"the file is not a readable table ({str(exc)[:120]}); re-export it from Excel")]) from exc
    try:
        check_cells(raw, name, limits, has_nul=has_nul, first_row=first_row)
    except InputError as exc:  # an identity number is never shown, not even in a bad cell
        raise InputError([dataclasses.replace(i, value="(not shown)") if canonical_name(kind, i.field) == "id_number"
                          else i for i in exc.issues]) from None
    headers: dict[str, str] = {}
    columns: dict[str, pd.Series] = {}
    for col in raw.columns:
        field = canonical_name(kind, str(col))
        if field is not None and field not in headers:
            headers[field] = str(col).replace("\ufeff", "").strip()
            columns[field] = raw[col]  # already text, trimmed
    missing = [f for f in REQUIRED[kind] if f not in headers]
    if missing:
        raise InputError([
            InputIssue(name, first_row - 1, f, "(missing column)",
                       f"add a column headed one of: {', '.join(ALIASES[kind][f])} (the header is looked for in "
                       f"the first {HEADER_SEARCH_ROWS} rows: the row naming the most known columns)")
            for f in missing
        ])
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    frame.attrs["given"] = tuple(columns)  # fields the file has (the others are filled in blank below)
    for field in ALIASES[kind]:
        if field not in frame:
            frame[field] = ""
            headers[field] = field
    frame.attrs["headers"] = headers
    frame.attrs["file"] = name
    frame.attrs["first_row"] = first_row
    return frame


class _Issues:
    """Collects issues per rule, capped, with a closing summary per rule."""

    def __init__(self) -> None:
        self.items: list[InputIssue] = []

    def rows(self, frame: pd.DataFrame, mask: np.ndarray | pd.Series, field: str, fix: str,
             values: pd.Series | None = None) -> None:
        bad = np.flatnonzero(np.asarray(mask))
        if not len(bad):
            return
        name, header = frame.attrs["file"], frame.attrs["headers"][field]
        shown = values if values is not None else frame[field]
        for i in bad[:MAX_PER_RULE]:
            self.items.append(InputIssue(name, excel_row(frame, i), header, str(shown.iat[i]), fix))
        if len(bad) > MAX_PER_RULE:
            self.items.append(InputIssue(name, None, header, f"{len(bad) - MAX_PER_RULE} more rows",
                                         f"…and {len(bad) - MAX_PER_RULE} more rows with the same problem"))


def _arrow_text(text: pd.Series) -> Any:
    """A text column as an Arrow string array, chunked or not (no copy when pandas holds it in Arrow)."""
    import pyarrow as pa

    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        return pa.array(text.array)  # pandas' own (chunked) Arrow array
    return pa.array(text.to_numpy(dtype=object), type=pa.string())


def _as_float(text: pd.Series) -> np.ndarray:
    """Numbers of a text column, NaN where blank or not a number (Arrow's cast; pandas when it fails)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _arrow_text(text)
    try:
        values = pc.cast(pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr), pa.float64())
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64).copy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        num = pd.to_numeric(text.where(text != "", None), errors="coerce")
        return num.to_numpy(dtype=np.float64, copy=True)


def _int_column(frame: pd.DataFrame, field: str, default: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Integer values and a mask of cells that are not whole numbers (blank → default if given)."""
    num = _as_float(frame[field])
    if default is not None:
        num[(frame[field] == "").to_numpy()] = default
    bad = np.isnan(num) | (np.mod(np.nan_to_num(num), 1) != 0)
    return np.nan_to_num(num).astype(np.int64), bad


def _float_column(frame: pd.DataFrame, field: str) -> tuple[np.ndarray, np.ndarray]:
    num = _as_float(frame[field])
    return np.nan_to_num(num), np.isnan(num)


def _coded(series: pd.Series, table: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Map each value through ``table`` (case-insensitive); returns codes and a mask of unknown values."""
    codes, uniques = pd.factorize(series.str.lower(), sort=False)
    mapped = np.array([table.get(u, -1) for u in uniques], dtype=np.int64)
    out = mapped[codes] if len(codes) else np.zeros(0, np.int64)
    return np.maximum(out, 0), out < 0


def _needs(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(series.str.lower(), sort=False)
    masks = []
    for u in uniques:
        mask = 0
        for token in (t for t in re.split(_SPLIT, u) if t):
            if token not in _NEEDS:
                mask = -1
                break
            mask |= 1 << _NEEDS[token]
        masks.append(mask)
    out = np.array(masks, dtype=np.int64)[codes] if len(codes) else np.zeros(0, np.int64)
    return np.maximum(out, 0), out < 0


def _coords(frame: pd.DataFrame, issues: _Issues) -> tuple[np.ndarray, np.ndarray]:
    lon, lon_bad = _float_column(frame, "lon")
    lat, lat_bad = _float_column(frame, "lat")
    issues.rows(frame, lon_bad, "lon", "give the longitude in decimal degrees (WGS84), e.g. 118.32")
    issues.rows(frame, lat_bad, "lat", "give the latitude in decimal degrees (WGS84), e.g. 27.03")
    issues.rows(frame, ~lon_bad & ((lon < -180) | (lon > 180)), "lon", "longitude must be between -180 and 180")
    issues.rows(frame, ~lat_bad & ((lat < -90) | (lat > 90)), "lat", "latitude must be between -90 and 90")
    issues.rows(frame, ~lon_bad & ~lat_bad & (lon == 0) & (lat == 0), "lon",
                "0,0 is not a place in the area: fill in the real coordinates")
    return lon, lat


def _all_distinct(arr: Any) -> bool:
    """Whether no two values of an Arrow string array are equal: strictly increasing (ids usually
    are, a linear check) or no two neighbours equal once sorted (Arrow's hashing is slower)."""
    import pyarrow.compute as pc

    n = len(arr)
    if n < 2:
        return True
    if pc.all(pc.less(arr.slice(0, n - 1), arr.slice(1))).as_py():
        return True
    ordered = arr.take(pc.array_sort_indices(arr))
    return not pc.any(pc.equal(ordered.slice(0, n - 1), ordered.slice(1))).as_py()


def _ids(frame: pd.DataFrame, field: str, issues: _Issues, what: str) -> None:
    ids = frame[field]
    issues.rows(frame, ids == "", field, f"give every {what} an id")
    if _all_distinct(_arrow_text(ids)):
        return  # pandas' duplicated below took 0.1 s per million ids
    dup = ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy()
    if dup.any():
        first = ids.drop_duplicates(keep="first")
        first_row = pd.Series(first.index + excel_row(frame, 0), index=first.to_numpy())
        note = ids.map(first_row).astype("Int64").astype(str)
        issues.rows(frame, dup, field, f"each {what} id must be unique; this one already appears (see the message value)",
                    values=ids + " (first at row " + note + ")")


def _clock(text: str) -> int | None:
    try:
        return parse_clock(text)
    except ValueError:
        return None


def _buildings(frame: pd.DataFrame, issues: _Issues) -> BuildingTable:
    _ids(frame, "building_id", issues, "building")
    lon, lat = _coords(frame, issues)
    zone, zone_bad = _coded(frame["risk_zone"], _ZONES)
    issues.rows(frame, zone_bad, "risk_zone", "use precaution/controlled/sealed or 防范区/管控区/封控区 (blank = 防范区)")
    ids = frame["building_id"].to_numpy(dtype=object)
    name = frame["name"].where(frame["name"] != "", frame["building_id"]).to_numpy(dtype=object)
    given = "district" in frame.attrs["given"]
    return BuildingTable(
        id=ids, name=name, grid=frame["grid"].to_numpy(dtype=object), compound=frame["compound"].to_numpy(dtype=object),
        lon=lon, lat=lat, zone=zone, district=frame["district"].to_numpy(dtype=object) if given else None,
    )


def _lookup(values: pd.Series, ids: np.ndarray) -> np.ndarray:
    """Position of each value among ``ids`` (its first occurrence), −1 where absent: an Arrow hash
    lookup (a pandas reindex over Python strings took ~0.4 s for a million households)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = np.flatnonzero(~pd.Series(ids, dtype=object).duplicated().to_numpy())
    if not len(keep):
        return np.full(len(values), -1, dtype=np.int64)
    found = pc.index_in(pa.array(values).cast(pa.large_string()),
                        value_set=pa.array(ids[keep], type=pa.large_string(), from_pandas=True))
    missing = found.is_null().to_numpy(zero_copy_only=False)
    return np.where(missing, -1, keep[found.fill_null(0).to_numpy()]).astype(np.int64)


_LANDLINE = re.compile(r"(?:0\d{2,3}-?)?[2-9]\d{6,7}(?:-\d{1,5})?")
_SEVERAL = re.compile(r"1[3-9]\d{9}\D+\d{5,}|\d{7,}\D+1[3-9]\d{9}")
PHONE_WARNINGS = {
    "landline": "a landline cannot receive the SMS: the household goes to the no-SMS call list (sms_invalid.csv); "
                "give a mobile number to text it",
    "several": "several numbers in one cell: the household goes to the no-SMS call list; keep one mobile number "
               "in the cell to text it",
    "rounded": "Excel turned the number into a rounded decimal (e.g. 1.38E+10), so digits are lost: the household "
               "goes to the no-SMS call list; format the column as text and type the number again",
    "invalid": "not an 11-digit mobile number (13–19…): the household goes to the no-SMS call list; correct it "
               "or leave it blank",
}


def clean_phones(phones: pd.Series) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """Phone cells as an SMS can use them, and which cells are not mobile numbers and why.

    Spaces, dashes, brackets and a +86/86 prefix are removed, and a mobile number Excel saved as a
    decimal (``13812345678.0``) is repaired. Returns the cleaned column (None when no cell needed
    cleaning) and a mask per problem of `PHONE_WARNINGS` (a landline, several numbers, a number
    rounded by Excel, anything else); such cells are kept as written so that the household is on
    the no-SMS list with its number, never a reason to stop.
    """
    odd = ((phones != "") & ~phones.str.fullmatch(MOBILE.pattern)).to_numpy()
    masks = {k: np.zeros(len(phones), dtype=bool) for k in PHONE_WARNINGS}
    if not odd.any():  # only unusual cells pay for the clean-up
        return None, masks
    out = phones.to_numpy(dtype=object).copy()
    raw = phones[odd]
    cleaned = raw.str.replace(r"^(1[3-9]\d{9})\.0*$", r"\1", regex=True)
    cleaned = cleaned.str.replace(r"[\s\-()（）]", "", regex=True)
    cleaned = cleaned.str.replace(r"^(\+?86)(?=1\d{10}$)", "", regex=True)
    ok = cleaned.str.fullmatch(MOBILE.pattern).to_numpy()
    kept = np.where(ok, cleaned.to_numpy(dtype=object), raw.to_numpy(dtype=object))
    out[odd] = kept
    bad = ~ok
    rows = np.flatnonzero(odd)
    several = raw.str.contains(_SEVERAL).to_numpy() & bad
    rounded = raw.str.fullmatch(r"\d(?:\.\d+)?[eE]\+?\d+").to_numpy() & bad & ~several
    landline = raw.str.replace(r"[\s()（）]", "", regex=True).str.fullmatch(_LANDLINE.pattern).to_numpy() \
        & bad & ~several & ~rounded
    masks["several"][rows[several]] = True
    masks["rounded"][rows[rounded]] = True
    masks["landline"][rows[landline]] = True
    masks["invalid"][rows[bad & ~several & ~rounded & ~landline]] = True
    return out, masks


def _checked_phones(frame: pd.DataFrame, warnings: _Issues, field: str = "phone") -> np.ndarray | None:
    """`clean_phones` of a frame's phone column, each cell that is not a mobile number a warning
    (the value shown masked: warnings reach consoles and job logs)."""
    phone, masks = clean_phones(frame[field])
    if phone is not None:
        shown = pd.Series(np.full(len(frame), "", dtype=object))
        for i in np.flatnonzero(np.logical_or.reduce(list(masks.values()))).tolist():
            shown.iat[i] = mask_phone(str(frame[field].iat[i]))
        for kind, mask in masks.items():
            warnings.rows(frame, mask, field, PHONE_WARNINGS[kind], values=shown)
    return phone


def _households(frame: pd.DataFrame, buildings: BuildingTable, issues: _Issues,
                warnings: _Issues | None = None) -> HouseholdTable:
    import pyarrow as pa

    warnings = warnings if warnings is not None else _Issues()
    _ids(frame, "household_id", issues, "household")
    building = _lookup(frame["building_id"], buildings.id)
    issues.rows(frame, building < 0, "building_id", "use a building id that is listed in the buildings file")
    size, size_bad = _int_column(frame, "size", None)
    issues.rows(frame, size_bad, "size", "give the number of people as a whole number")
    issues.rows(frame, ~size_bad & (size <= 0), "size", "a household has at least 1 person; remove empty households")
    issues.rows(frame, ~size_bad & (size > MAX_HOUSEHOLD), "size",
                f"more than {MAX_HOUSEHOLD} people is not a household: split it or correct the number")
    size_ok = ~size_bad & (size > 0) & (size <= MAX_HOUSEHOLD)
    counts = {}
    for field in ("elderly", "children"):
        values, bad = _int_column(frame, field, 0)
        issues.rows(frame, bad | (values < 0), field, "give a whole number of 0 or more (blank = 0)")
        issues.rows(frame, ~bad & (values > size) & size_ok, field, "cannot exceed the household's size")
        counts[field] = values
    phone = _checked_phones(frame, warnings)
    needs, needs_bad = _needs(frame["needs"])
    issues.rows(frame, needs_bad, "needs",
                "use any of elderly_alone/独居老人, disabled/失能, bedridden/卧床, pregnant/孕产妇, infant/婴幼儿, separated by ;")
    preferred, pref_bad = _coded(frame["preferred"], _PERIODS)
    issues.rows(frame, pref_bad, "preferred", "use morning/上午, afternoon/下午, evening/晚上 or leave it blank")
    # Text columns stay in Arrow until something reads them (HouseholdTable.with_text).
    text = {f: _arrow_text(frame[c]) for f, c in
            (("id", "household_id"), ("unit", "unit"), ("room", "room"), ("contact", "contact"))}
    text["phone"] = _arrow_text(frame["phone"]) if phone is None else pa.array(phone, type=pa.large_string())
    return HouseholdTable.with_text(
        text, building=building.astype(np.int64), size=size, elderly=counts["elderly"],
        children=counts["children"], needs=needs, preferred=preferred,
    )


def _sites(frame: pd.DataFrame, scenario: Scenario, compounds: set[str], issues: _Issues) -> tuple[Site, ...]:
    _ids(frame, "site_id", issues, "site")
    issues.rows(frame, frame["name"] == "", "name", "give every site the name residents know, e.g. 二中操场")
    lon, lat = _coords(frame, issues)
    tables, t_bad = _int_column(frame, "tables", None)
    issues.rows(frame, t_bad | (tables <= 0), "tables", "a site needs at least 1 sampling table (a whole number)")
    rate, r_bad = _float_column(frame, "rate")
    blank_rate = (frame["rate"] == "").to_numpy()
    rate[blank_rate] = scenario.capacity.people_per_table_hour
    issues.rows(frame, ~blank_rate & (r_bad | (rate <= 0)), "rate", "give people per table per hour as a positive number, or leave it blank")
    queue, q_bad = _float_column(frame, "queue_m")
    queue[(frame["queue_m"] == "").to_numpy()] = 100.0
    issues.rows(frame, (frame["queue_m"] != "").to_numpy() & (q_bad | (queue < 0)), "queue_m", "give the queue space in metres (≥ 0)")
    clocks = {}
    for field, default in (("open", 0), ("close", 1440)):
        parsed = [default if t == "" else _clock(t) for t in frame[field]]
        bad = np.array([p is None for p in parsed], dtype=bool)
        issues.rows(frame, bad, field, "give the time as HH:MM, e.g. 07:00 (24:00 for midnight)")
        clocks[field] = [0 if p is None else p for p in parsed]
    serves = [tuple(x for x in re.split(r"[;；、,，]+", s) if x) for s in frame["serves"]]
    unknown = np.array([any(c not in compounds for c in sv) for sv in serves], dtype=bool)
    issues.rows(frame, unknown, "serves", "name compounds exactly as in the buildings file's compound column")
    # Columns as lists once: each frame[...] copies the frame's attrs (≈0.3 ms), per site it added up.
    ids, names = frame["site_id"].tolist(), frame["name"].tolist()
    return tuple(
        Site(str(ids[i]), str(names[i]), float(lon[i]), float(lat[i]), int(tables[i]),
             float(rate[i]), int(clocks["open"][i]), int(clocks["close"][i]), serves[i], float(queue[i]))
        for i in range(len(frame))
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_EMPTY_FIX = {
    "households": "the households file has a header but no households, so there is nothing to plan: fill in the "
                  "households (one row each)",
    "buildings": "the buildings file has a header but no buildings: list every building the households live in",
}


def _compounds(frame: pd.DataFrame, crs: str, issues: _Issues) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (WGS-84) and risk-zone codes of the compounds file's rows, checked."""
    issues.rows(frame, frame["compound"] == "", "compound", "give every row the 小区/村 name residents' addresses use")
    lon, lat = _coords(frame, issues)
    lon, lat = to_wgs84(lon, lat, crs)
    zone, zone_bad = _coded(frame["risk_zone"], _ZONES)
    issues.rows(frame, zone_bad, "risk_zone", "use precaution/controlled/sealed or 防范区/管控区/封控区 (blank = 防范区)")
    key = frame["compound"] + "\x1f" + frame["building"].str.upper()
    dup = key.duplicated(keep="first").to_numpy() & (frame["compound"] != "").to_numpy()
    issues.rows(frame, dup, "compound", "list each compound once (and each of its buildings at most once)")
    return lon, lat, zone


def _person_level(scenario: Scenario, limits: FileLimits, issues: _Issues,
                  warnings: _Issues) -> tuple[BuildingTable, HouseholdTable, pd.DataFrame] | None:
    """Buildings and households of a person-level roster and its compounds (`sampler.registry.persons`)."""
    from sampler.registry.persons import read_persons

    frames: dict[str, pd.DataFrame] = {}
    for kind in ("persons", "compounds"):
        try:
            frames[kind] = read_table(scenario.path_of(kind), kind, limits=limits)
        except InputError as exc:
            issues.items.extend(exc.issues)
    for kind, fix in (("persons", "the roster has a header but no residents: fill in one row per resident"),
                      ("compounds", "the compounds file has a header but no rows: list every 小区/村 of the roster")):
        if kind in frames and not len(frames[kind]):
            issues.items.append(InputIssue(frames[kind].attrs["file"], None, "(file)", "0 rows", fix))
    if issues.items:
        return None
    comp = frames["compounds"]
    lon, lat, zone = _compounds(comp, scenario.registry.crs, issues)
    if issues.items:
        return None
    buildings, households = read_persons(frames["persons"], comp, lon, lat, zone, scenario.window.start_time.date(),
                                         issues, warnings, _checked_phones)
    return buildings, households, comp


def load_registry(scenario: Scenario, limits: FileLimits = DEFAULT_LIMITS) -> Registry:
    """Read and validate the registry files of a scenario; every issue is reported at once.

    The households, buildings and sites files, or (``registry.persons``) a person-level roster,
    its compounds and the sites. Coordinates are converted from ``registry.crs`` to WGS-84.
    Problems that need not stop planning (landlines, identity numbers failing their check digit)
    are the Registry's ``warnings``. ``limits`` bounds each file (`sampler.io.workbook.FileLimits`:
    bytes, unzipped bytes and compression ratio of an XLSX, rows, columns, cells, characters per cell).
    """
    issues, warnings = _Issues(), _Issues()
    frames: dict[str, pd.DataFrame] = {}
    crs = scenario.registry.crs
    person_level = bool(scenario.registry.persons)
    for kind in (("sites",) if person_level else ("buildings", "households", "sites")):
        try:
            frames[kind] = read_table(scenario.path_of(kind), kind, limits=limits)
        except InputError as exc:
            issues.items.extend(exc.issues)
    for kind, fix in _EMPTY_FIX.items():
        if kind in frames and not len(frames[kind]):
            issues.items.append(InputIssue(frames[kind].attrs["file"], None, "(file)", "0 rows", fix))
    if person_level:
        made = _person_level(scenario, limits, issues, warnings)
        if made is None or issues.items:
            raise InputError(issues.items)
        buildings, households, _ = made
    else:
        if issues.items:
            raise InputError(issues.items)
        buildings = _buildings(frames["buildings"], issues)
        if crs != "wgs84":
            lon, lat = to_wgs84(buildings.lon, buildings.lat, crs)
            buildings = dataclasses.replace(buildings, lon=lon, lat=lat)
        households = _households(frames["households"], buildings, issues, warnings)
    compounds = set(buildings.compound.tolist())
    sites = _sites(frames["sites"], scenario, compounds, issues)
    if crs != "wgs84" and sites:
        s_lon, s_lat = to_wgs84(np.array([s.lon for s in sites]), np.array([s.lat for s in sites]), crs)
        sites = tuple(dataclasses.replace(s, lon=float(x), lat=float(y)) for s, x, y in zip(sites, s_lon, s_lat, strict=True))
    if not sites:
        issues.items.append(InputIssue(frames["sites"].attrs["file"], None, "(file)", "0 rows",
                                       "list at least one sampling site"))
    if issues.items:
        raise InputError(issues.items)
    hashes = {kind: _sha256(scenario.path_of(kind)) for kind in scenario.registry.kinds}
    return Registry(households=households, buildings=buildings, sites=sites, hashes=hashes,
                    warnings=tuple(warnings.items))


def read_sites(path: Path, scenario: Scenario, buildings: BuildingTable,
               limits: FileLimits = DEFAULT_LIMITS) -> tuple[Site, ...]:
    """Sites of one more sites file (the registry's columns and checks, coordinates converted from
    ``registry.crs`` as the registry's are), e.g. the sites a re-plan opens (`sampler replan
    --sites`); InputError naming every bad cell."""
    issues = _Issues()
    frame = read_table(Path(path), "sites", limits=limits)
    sites = _sites(frame, scenario, set(buildings.compound.tolist()), issues)
    crs = scenario.registry.crs
    if crs != "wgs84" and sites and not issues.items:
        s_lon, s_lat = to_wgs84(np.array([s.lon for s in sites]), np.array([s.lat for s in sites]), crs)
        sites = tuple(dataclasses.replace(s, lon=float(x), lat=float(y)) for s, x, y in zip(sites, s_lon, s_lat, strict=True))
    if not sites and not issues.items:
        issues.items.append(InputIssue(frame.attrs["file"], None, "(file)", "0 rows", "list at least one sampling site"))
    if issues.items:
        raise InputError(issues.items)
    return sites
