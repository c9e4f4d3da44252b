"""CSV cells that are safe to open in Excel or WPS: formula neutralisation (OWASP "CSV injection").

A spreadsheet evaluates a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula: a contact named ``=HYPERLINK("http://x", "点此")``
or ``=cmd|' /C calc'!A0`` becomes a link or a command when a planner opens ``sms_invalid.csv``.
Every CSV the product writes passes its text cells through `neutralise_*`, which puts a single
quote in front of such a cell, as OWASP recommends; spreadsheets then show the text as typed.

* Only text cells are touched: numeric columns (negative numbers) are written as numbers, and a
  text cell that is a plain decimal number (``-5``, ``+3.5e2``) is left alone, since a number is
  not a formula.
* The prefix is reversible: a cell that already starts with quotes followed by a trigger
  (``'=x``) gets one more quote, so `restore_*` (used where sampler reads its own files back, e.g.
  plan directories) strips exactly one quote from cells matching ``'+`` then a trigger and gives
  back the original text.

The checks are vectorised on Arrow buffers: only cells whose first byte is a trigger or a quote
are looked at again, so a million-row table costs a few milliseconds per text column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TRIGGERS",
    "neutralise",
    "neutralise_frame",
    "neutralise_table",
    "restore",
    "restore_frame",
    "to_csv",
]

TRIGGERS = "=+-@\t\r"
_FIRST = np.zeros(256, dtype=bool)
_FIRST[[ord(c) for c in TRIGGERS + "'"]] = True
_NEEDS = r"^'*[=+\-@\t\r]"  # cells given a quote (unless a plain number)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_RESTORE = r"^'+[=+\-@\t\r]"  # cells written with a quote
_NEEDS_RE, _NUMBER_RE, _RESTORE_RE = re.compile(_NEEDS), re.compile(_NUMBER), re.compile(_RESTORE)


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    if text and text[0] in TRIGGERS + "'" and _NEEDS_RE.match(text) and not _NUMBER_RE.match(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The inverse of `neutralise` (for files sampler wrote)."""
    return text[1:] if text[:1] == "'" and _RESTORE_RE.match(text) else text


def _candidates(arr: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any cell of a string array starts with a trigger or a quote (first bytes only)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for chunk in chunks:
        if len(chunk) == 0 or chunk.null_count == len(chunk):
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)[
            chunk.offset : chunk.offset + len(chunk) + 1].astype(np.int64, copy=False)
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if not len(raw):
            continue
        # First byte of every cell; an empty cell reads its neighbour's (a false alarm at worst,
        # settled by the exact check that follows).
        starts = np.minimum(offsets[:-1], len(raw) - 1)
        if _FIRST[raw.take(starts)].any():
            return True
    return False


def _neutralised(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """The column with quotes added, or None when no cell needs one."""
    if not _candidates(arr):
        return None
    mask = pc.and_not(pc.match_substring_regex(arr, _NEEDS), pc.match_substring_regex(arr, _NUMBER))
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return None
    quoted = pc.binary_join_element_wise(pa.scalar("'", arr.type), arr, pa.scalar("", arr.type))
    return pc.if_else(mask, quoted, arr)


def _restored(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    if not _candidates(arr):
        return None
    mask = pc.fill_null(pc.match_substring_regex(arr, _RESTORE), False)
    if not pc.any(mask).as_py():
        return None
    return pc.if_else(mask, pc.utf8_slice_codeunits(arr, 1), arr)


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def neutralise_table(table: pa.Table) -> pa.Table:
    """``table`` with every text cell neutralised (the same object when nothing needs it)."""
    for i, field in enumerate(table.schema):
        if _is_text(field.type):
            fixed = _neutralised(table.column(i))
            if fixed is not None:
                table = table.set_column(i, field, fixed)
    return table


def _text_column(series: pd.Series) -> pa.Array | None:
    """A text column as Arrow strings (nulls where not text), or None when it holds no text."""
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return None
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return pa.array(series.array)
    values = series.to_numpy(dtype=object)
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed cells: only the str ones are text
        text = np.array([v if isinstance(v, str) else None for v in values], dtype=object)
        return pa.array(text, type=pa.large_string(), from_pandas=True)


def _map_frame(frame: pd.DataFrame, fix: Any, columns: Iterable[str] | None) -> pd.DataFrame:
    out = frame
    for name in (frame.columns if columns is None else [c for c in columns if c in frame.columns]):
        series = frame[name]
        if not isinstance(series, pd.Series):  # duplicate column names: leave as they are
            continue
        arr = _text_column(series)
        if arr is None:
            continue
        fixed = fix(arr)
        if fixed is None:
            continue
        changed = pc.fill_null(pc.not_equal(fixed, arr), False).to_numpy(zero_copy_only=False)
        if out is frame:
            out = frame.copy()
        values = series.to_numpy(dtype=object, copy=True)
        values[changed] = np.asarray(fixed.to_numpy(zero_copy_only=False), dtype=object)[changed]
        out[name] = pd.Series(values, index=series.index, dtype=series.dtype, name=name)
    return out


def neutralise_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """``frame`` with every text cell (of ``columns``, default all) neutralised; numeric columns
    are left as they are. Returns ``frame`` itself when nothing needs a quote."""
    return _map_frame(frame, _neutralised, columns)


def restore_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The inverse of `neutralise_frame`, for tables sampler wrote and reads back."""
    return _map_frame(frame, _restored, columns)


def to_csv(frame: pd.DataFrame, path: Any = None, **options: Any) -> str | None:
    """``frame.to_csv(path, **options)`` with its text cells neutralised (``index=False`` unless given)."""
    options.setdefault("index", False)
    return neutralise_frame(frame).to_csv(path, **options)
