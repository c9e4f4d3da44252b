"""Read a plan directory written by `sampler plan` (see docs/formats.md) back into tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.csvsafe import restore_frame
from sampler.planfiles.schema import FLOAT, INT, TABLES, TEXT, PlanTable

__all__ = ["NEWS", "PlanFiles", "news_only", "read_plan", "read_table"]

_FIX = "point at a directory written by `sampler plan`"
_AGAIN = "write the plan again with `sampler plan`"
_MAX_ISSUES = 20

NEWS = ("moved", "home", "new")
"""A re-plan's ``change`` values that residents must be told of (a new slot, site or home visit)."""


@dataclass(frozen=True, eq=False)
class PlanFiles:
    """The tables of a plan directory, each with exactly the columns and dtypes of
    `sampler.planfiles.schema.TABLES`; text columns are str with '' for blanks."""

    directory: Path
    summary: dict[str, Any]
    assignments: pd.DataFrame
    site_load: pd.DataFrame
    buildings: pd.DataFrame
    home_visits: pd.DataFrame
    unplaced: pd.DataFrame
    sites: pd.DataFrame
    contacts: pd.DataFrame


def _read_arrow(path: Path, columns: list[Any]) -> pd.DataFrame | None:
    """The columns of a well-formed plan table read by Arrow's multi-threaded CSV reader (4–10×
    pandas' on a million rows), with exactly the dtypes of the pandas path below; None when any
    value does not fit (a blank or fractional whole number, unparsable text), so that the pandas
    path can name the file, row, column and value."""
    import pyarrow as pa
    import pyarrow.csv as pv

    kinds = {c.name: pa.string() if c.kind == TEXT else pa.float64() for c in columns}
    try:
        table = pv.read_csv(path, read_options=pv.ReadOptions(encoding="utf8"),
                            parse_options=pv.ParseOptions(newlines_in_values=True),
                            convert_options=pv.ConvertOptions(column_types=kinds, include_columns=list(kinds),
                                                              null_values=[""], strings_can_be_null=False,
                                                              quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError, OSError):
        return None
    out: dict[str, Any] = {}
    for c in columns:
        values = table.column(c.name)
        if c.kind == TEXT:
            out[c.name] = values.to_pandas().astype(c.dtype)
            continue
        number = values.to_numpy(zero_copy_only=False).astype(np.float64)
        if c.kind == FLOAT:
            out[c.name] = number
            continue
        missing = np.isnan(number)
        if (missing.any() and not c.blank) or (number[~missing] != np.round(number[~missing])).any():
            return None
        out[c.name] = pd.array(np.where(missing, 0, number).astype(np.int64), dtype=c.dtype) if not c.blank else \
            pd.array(pd.Series(number).astype("Int64"), dtype=c.dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(table.num_rows))


def read_table(path: Path, table: PlanTable) -> pd.DataFrame:
    """One plan table with the schema's columns and dtypes, or InputError naming the file, row,
    column and value that do not fit (columns not in the schema are left out). Text cells given
    a leading quote against formula injection (`sampler.io.csvsafe`) are read back unchanged."""
    file = str(path)
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8").columns
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError([InputIssue(file, None, "(file)", str(exc)[:200], _FIX)]) from None
    missing = [c for c in table.names if c not in header]
    if missing:
        raise InputError([InputIssue(file, 0, c, "(missing column)", _AGAIN) for c in missing])
    optional = [c for c in table.optional if c.name in header]  # e.g. a re-plan's `change`
    names = table.names + [c.name for c in optional]
    fast = _read_arrow(path, [*table.columns, *optional])
    if fast is not None:
        return restore_frame(fast, [c.name for c in (*table.columns, *optional) if c.kind == TEXT])
    blank = {c.name: [""] for c in (*table.columns, *optional) if c.may_be_blank}
    try:
        frame = pd.read_csv(path, usecols=names, dtype={**table.dtypes, **{c.name: c.dtype for c in optional}},
                            keep_default_na=False, na_values=blank, encoding="utf-8")[names]
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError):
        pass
    else:
        # Text cells that were given a quote against formula injection get it back off.
        return restore_frame(frame, [c.name for c in (*table.columns, *optional) if c.kind == TEXT])
    # Something does not parse: read it all as text to say where.
    try:
        raw = pd.read_csv(path, usecols=table.names, dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError([InputIssue(file, None, "(file)", str(exc)[:200], _AGAIN)]) from None
    issues: list[InputIssue] = []
    for col in table.columns:
        if col.kind == TEXT:
            continue
        text = raw[col.name]
        number = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(number) & ((text != "").to_numpy() | (not col.may_be_blank))
        if col.kind == INT:
            bad |= ~np.isnan(number) & (number != np.round(number))
        what = "a whole number" if col.kind == INT else "a number"
        for row in np.flatnonzero(bad)[:_MAX_ISSUES].tolist():
            issues.append(InputIssue(file, row + 1, col.name, str(text.iloc[row]),
                                     f"expected {what}{' or a blank' if col.may_be_blank else ''}; {_AGAIN}"))
    if not issues:  # parsed as text and as numbers: pandas refused something else
        issues.append(InputIssue(file, None, "(file)", "", _AGAIN))
    raise InputError(issues[:_MAX_ISSUES])


def read_plan(directory: str | Path) -> PlanFiles:
    """Read every file of a plan directory, or raise InputError naming what is missing or malformed."""
    directory = Path(directory)
    files = [*(t.file for t in TABLES.values()), "plan.json"]
    missing = [f for f in files if not (directory / f).is_file()]
    if missing:
        raise InputError([InputIssue(str(directory / f), None, "(file)", f.rsplit(".", 1)[0], _FIX) for f in missing])
    try:
        summary = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError([InputIssue(str(directory / "plan.json"), None, "(file)", str(exc)[:200], _FIX)]) from None
    issues: list[InputIssue] = []
    frames = {}
    for name, table in TABLES.items():
        try:
            frames[name] = read_table(directory / table.file, table)
        except InputError as exc:
            issues += exc.issues
    if issues:
        raise InputError(issues)
    return PlanFiles(directory=directory, summary=summary, **frames)


def news_only(plan: PlanFiles, whole_buildings: bool = False) -> PlanFiles:
    """A re-plan (plan.json ``replan``, assignments ``change``) cut to what residents must be told:
    the households whose slot changed or who were missed (``whole_buildings``: every household of
    a building that has one, with only those buildings, as notices print whole buildings). Any
    other plan — a first plan or a round, where everyone needs the texts — is returned unchanged."""
    from dataclasses import replace

    a = plan.assignments
    if "replan" not in plan.summary or "change" not in a.columns:
        return plan
    news = a["change"].isin(list(NEWS)).to_numpy()
    if not whole_buildings:
        return replace(plan, assignments=a[news].reset_index(drop=True))
    affected = set(a["building_id"][news].tolist())
    keep_a = a["building_id"].isin(affected).to_numpy()
    keep_b = plan.buildings["building_id"].isin(affected).to_numpy()
    keep_h = plan.home_visits["building_id"].isin(affected).to_numpy()
    return replace(plan, assignments=a[keep_a].reset_index(drop=True),
                   buildings=plan.buildings[keep_b].reset_index(drop=True),
                   home_visits=plan.home_visits[keep_h].reset_index(drop=True))
