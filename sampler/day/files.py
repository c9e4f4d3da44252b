"""Check-in files: a sampling system's export (CSV or XLSX, English or Chinese headers) as rows.

The columns are the API's: ``id`` (optional in a file: the row's position in the file stands in, so
importing the same file twice counts once), one of ``code``/``household_id``/``phone``, ``site_id``,
``at``, ``people`` and ``tube``. Times without an offset are read in the window's time zone
(China Standard Time unless told otherwise), as sampling systems export them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

from sampler.day.ledger import CHINA
from sampler.errors import InputError, InputIssue
from sampler.registry.read import excel_row, read_table

__all__ = ["CheckinRows", "read_checkins"]

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


def _time(text: str, tz: dt.tzinfo) -> str | None:
    text = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).isoformat()


FIELDS = ("id", "code", "household_id", "phone", "site_id", "at", "people", "tube")


class CheckinRows(Sequence[dict[str, Any]]):
    """The rows of a check-in file, kept as columns and made into dicts only when asked for.

    A row is a dict with the keys of `validate_checkins` (``people`` None when blank) and ``row``,
    its 1-based data row. ``columns`` holds each field as a text Series ('' for blank, ``at`` in
    RFC 3339 with its offset), for array code that checks a million rows at once
    (`sampler.plan.replan.sampled_from_checkins`).
    """

    def __init__(self, columns: dict[str, pd.Series]) -> None:
        self.columns = columns
        self._values: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self.columns["id"])

    def _column(self, key: str) -> list[str]:
        if key not in self._values:
            self._values[key] = self.columns[key].tolist()
        return self._values[key]

    def _row(self, i: int) -> dict[str, Any]:
        row: dict[str, Any] = {k: self._column(k)[i] for k in FIELDS}
        row["people"] = row["people"] or None
        row["row"] = i + 1
        return row

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._row(i)


def read_checkins(path: Path, tz: dt.tzinfo = CHINA) -> CheckinRows:
    """Rows of a check-in file, ready for `validate_checkins`; InputError names every bad cell."""
    frame = read_table(Path(path), "checkins")
    given = set(frame.attrs.get("given", frame.columns))
    name = str(path)
    if not given & {"code", "household_id", "phone"}:
        raise InputError([InputIssue(name, None, "code", "(missing)",
                                     "add a column code (核酸码), household_id (户编号) or phone (联系电话)")])
    n = len(frame)
    blank = pd.Series([""] * n, dtype=object)

    def column(key: str) -> pd.Series:
        if key not in frame.columns:
            return blank
        return frame[key].fillna("").astype(str).str.strip().reset_index(drop=True)

    columns = {k: column(k) for k in FIELDS}
    # A day's exports repeat their times: parse each distinct one once.
    codes, texts = pd.factorize(columns["at"], sort=False)
    parsed = [_time(str(text), tz) for text in texts.tolist()]
    bad = [i for i, p in enumerate(parsed) if p is None]
    if bad:
        rows = np.flatnonzero(np.isin(codes, bad))
        raise InputError([InputIssue(name, excel_row(frame, int(i)), "at", str(texts[codes[i]]),  # as Excel shows it
                                     "write the time as 2022-11-23 09:30 or 2022-11-23T09:30:00+08:00")
                          for i in rows.tolist()])
    columns["at"] = pd.Series(np.asarray(parsed, dtype=object)[codes] if n else [], dtype=object)
    ids = columns["id"]
    missing = (ids == "").to_numpy()
    if missing.any():  # the row's position stands in (unchanged, so re-imports of the file match)
        digest = hashlib.blake2b(Path(path).name.encode("utf-8"), digest_size=6).hexdigest()
        made = pd.Series(np.arange(1, n + 1)).astype(str).radd(f"file-{digest}-")
        columns["id"] = ids.where(~missing, made)
    return CheckinRows(columns)
