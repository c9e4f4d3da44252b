"""Check-in files: a sampling system's export (CSV or XLSX, English or Chinese headers) as rows.

The columns are the API's: ``id`` (optional in a file: the row's position in the file stands in, so
importing the same file twice counts once), one of ``code``/``household_id``/``phone``, ``site_id``,
``at``, ``people`` and ``tube``. Times without an offset are read in the window's time zone
(China Standard Time unless told otherwise), as sampling systems export them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from sampler.day.ledger import CHINA
from sampler.errors import InputError, InputIssue
from sampler.registry.read import excel_row, read_table

__all__ = ["read_checkins"]

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


def read_checkins(path: Path, tz: dt.tzinfo = CHINA) -> list[dict[str, Any]]:
    """Rows of a check-in file, ready for `validate_checkins`; InputError names every bad cell."""
    frame = read_table(Path(path), "checkins")
    given = set(frame.attrs.get("given", frame.columns))
    name = str(path)
    problems: list[InputIssue] = []
    if not given & {"code", "household_id", "phone"}:
        problems.append(InputIssue(name, None, "code", "(missing)",
                                   "add a column code (核酸码), household_id (户编号) or phone (联系电话)"))
    if problems:
        raise InputError(problems)
    digest = hashlib.blake2b(Path(path).name.encode("utf-8"), digest_size=6).hexdigest()
    rows: list[dict[str, Any]] = []
    n = len(frame)

    def column(key: str) -> list[str]:
        if key not in frame.columns:
            return [""] * n
        return [str(v).strip() for v in frame[key].astype(object).where(frame[key].notna(), "").tolist()]

    ids, codes, households, phones, sites, people, tubes, ats = (
        column(k) for k in ("id", "code", "household_id", "phone", "site_id", "people", "tube", "at"))
    times = {text: _time(text, tz) for text in set(ats)}  # a day's exports repeat their times: parse each once
    for i in range(n):
        data_row = i + 1  # 1-based data rows: the row's id and position (unchanged, so re-imports match)
        at = times[ats[i]]
        if at is None:
            problems.append(InputIssue(name, excel_row(frame, i), "at", ats[i],  # as Excel shows it
                                       "write the time as 2022-11-23 09:30 or 2022-11-23T09:30:00+08:00"))
            continue
        rows.append({
            "id": ids[i] or f"file-{digest}-{data_row}", "code": codes[i], "household_id": households[i],
            "phone": phones[i], "site_id": sites[i], "at": at, "people": people[i] or None, "tube": tubes[i],
            "row": data_row,
        })
    if problems:
        raise InputError(problems)
    return rows
