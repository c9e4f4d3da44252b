"""Staffing from a roster (`sampler roster`) instead of the arithmetic PPE shift calendar.

    staffing = read_roster(Path("out/roster"), scenario, inputs)   # directory or its roster.csv
    inputs = use_roster(inputs, staffing)

A table is staffed exactly while the roster has a ``sampler`` on it (``[start, end)``; stints that
meet are a hand-over without a gap, as rostered); every other minute it is closed, so a short
roster shows up as waits and unserved households. Rostered ``registrar`` stints become the
site's registrars at the roster's mean: ``round(tables × registrar-minutes / sampler-minutes)``
(not time-varying). A site the roster does not mention has no staffed table.

Bad input — an unreadable file, a site not in the plan, a table the site does not have, times
outside the scenario's window, or a roster.json of another area or window — raises InputError
naming the file, row, field and value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.timefmt import parse_slot
from sampler.model import FloatArray, IntArray
from sampler.params import Scenario
from sim.inputs import SimInputs, SiteShifts

__all__ = ["RosterStaffing", "read_roster", "roster_file", "use_roster"]


ROLES = {"sampler": 0, "采样员": 0, "registrar": 1, "登记员": 1}
COLUMNS = ("role", "site_id", "table", "start", "end")
FIX_RERUN = "run `sampler roster` for this scenario (with --plan PLANDIR) and pass its output directory"
MAX_ISSUES = 50


@dataclass(frozen=True, eq=False)
class RosterStaffing:
    """A roster turned into simulator staffing.

    Attributes
    ----------
    file
        The roster.csv read.
    shifts
        Per site (plan order), per table: sampler stints as (start, end) minutes from the window start.
    registrars
        Per site: round(tables × registrar-minutes / sampler-minutes), 0 without samplers.
    sampler_minutes, registrar_minutes
        Per site: rostered person-minutes of each role.
    """

    file: str
    shifts: SiteShifts
    registrars: IntArray
    sampler_minutes: FloatArray
    registrar_minutes: FloatArray

    def summary(self, site_ids: tuple[str, ...]) -> dict[str, object]:
        """What summary.json records about the staffing."""
        return {
            "source": "roster",
            "roster": self.file,
            "sampler_hours": round(float(self.sampler_minutes.sum()) / 60, 3),
            "registrar_hours": round(float(self.registrar_minutes.sum()) / 60, 3),
            "registrars": dict(zip(site_ids, self.registrars.tolist(), strict=True)),
        }


def roster_file(path: Path) -> Path:
    """The roster.csv of a roster directory (or the path itself when it is a file)."""
    return path / "roster.csv" if path.is_dir() else path


def _read_csv(file: Path) -> pd.DataFrame:
    if not file.is_file():
        raise InputError([InputIssue(str(file), None, "--roster", str(file),
                                     "point at a directory written by `sampler roster`, or its roster.csv")])
    data = file.read_bytes()
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise InputError([InputIssue(str(file), None, "(encoding)", "not UTF-8 or GB18030",
                                     "save the roster as CSV UTF-8 (or GBK)")])
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError([InputIssue(str(file), None, "(file)", str(exc).splitlines()[0][:80],
                                     "give the roster.csv written by `sampler roster`")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    from sampler.io.csvsafe import restore_frame

    frame = restore_frame(frame)  # the quotes `sampler roster` puts before formula-like text
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError([InputIssue(str(file), None, c, "(missing column)",
                                     "give the roster.csv written by `sampler roster` "
                                     "(staff_id,name,role,site_id,table,start,end)") for c in missing])
    return frame


def _check_meta(file: Path, scenario: Scenario) -> list[InputIssue]:
    """roster.json next to roster.csv, if any, must be of this area and window."""
    meta = file.parent / "roster.json"
    if not meta.is_file():
        return []
    name = str(meta)
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [InputIssue(name, None, "(file)", str(exc)[:80], "give the roster.json written by `sampler roster`")]
    if not isinstance(info, dict):
        return [InputIssue(name, None, "(file)", type(info).__name__, "give the roster.json written by `sampler roster`")]
    issues = []
    if "area" in info and str(info["area"]) != scenario.area:
        issues.append(InputIssue(name, None, "area", str(info["area"]),
                                 f"this roster is for another area than {scenario.area!r}; {FIX_RERUN}"))
    window = info.get("window")
    if isinstance(window, dict):
        w = scenario.window
        for key, ours in (("start", w.start), ("hours", w.hours), ("slot_minutes", w.slot_minutes)):
            if key in window and not _same(window[key], ours):
                issues.append(InputIssue(name, None, f"window.{key}", str(window[key]),
                                         f"this roster is for another window (scenario: {ours}); {FIX_RERUN}"))
    return issues


def _same(theirs: object, ours: object) -> bool:
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        return float(theirs) == float(ours)
    return str(theirs) == str(ours)


def _minute(text: str, start: dt.datetime) -> float | None:
    try:
        return (parse_slot(text.strip()) - start).total_seconds() / 60
    except ValueError:
        return None


def read_roster(path: Path, scenario: Scenario, inputs: SimInputs) -> RosterStaffing:
    """Read a roster (directory or roster.csv) as staffing for ``inputs``; InputError on bad input."""
    file = roster_file(Path(path))
    name = str(file)
    frame = _read_csv(file)
    issues = _check_meta(file, scenario)
    start = scenario.window.start_time
    horizon = scenario.window.hours * 60.0
    site_index = {s: i for i, s in enumerate(inputs.site_ids)}
    n_sites = len(inputs.site_ids)
    stints: list[list[list[tuple[float, float]]]] = [[[] for _ in range(int(c))] for c in inputs.tables]
    minutes = np.zeros((n_sites, 2))
    cols = {c: [str(v) for v in frame[c].tolist()] for c in COLUMNS}
    for i in range(len(frame)):
        row = i + 1
        if len(issues) >= MAX_ISSUES:
            break

        def issue(field: str, value: str, fix: str, row: int = row) -> None:
            issues.append(InputIssue(name, row, field, value, fix))

        values = {c: cols[c][i] for c in COLUMNS}
        role = ROLES.get(str(values["role"]).strip().lower())
        site_id = str(values["site_id"]).strip()
        a, b = _minute(str(values["start"]), start), _minute(str(values["end"]), start)
        bad = len(issues)
        if role is None:
            issue("role", str(values["role"]), "use sampler or registrar")
        s = site_index.get(site_id)
        if s is None:
            issue("site_id", site_id, "this site is not in the plan's sites.csv; " + FIX_RERUN)
        for field, value in (("start", a), ("end", b)):
            if value is None:
                issue(field, str(values[field]), "write times as 'YYYY-MM-DD HH:MM'")
            elif not 0 <= value <= horizon:
                issue(field, str(values[field]),
                      f"outside the scenario's window ({scenario.window.start}, {scenario.window.hours:g} h): "
                      "this roster is for another window; " + FIX_RERUN)
        if a is not None and b is not None and b <= a:
            issue("end", str(values["end"]), "end must be after start")
        table = str(values["table"]).strip()
        k = int(table) - 1 if table.isdigit() else -1
        if role == 0 and s is not None and not 0 <= k < int(inputs.tables[s]):
            issue("table", table, f"use a table number from 1 to {int(inputs.tables[s])} "
                  f"(the plan's tables at {site_id}); " + FIX_RERUN)
        if len(issues) > bad or role is None or s is None or a is None or b is None:
            continue
        minutes[s, role] += b - a
        if role == 0:
            stints[s][k].append((a, b))
    if issues:
        raise InputError(issues[:MAX_ISSUES])
    tables = inputs.tables.astype(np.float64)
    ratio = np.divide(minutes[:, 1], minutes[:, 0], out=np.zeros(n_sites), where=minutes[:, 0] > 0)
    shifts: SiteShifts = tuple(tuple(tuple(sorted(t)) for t in site) for site in stints)
    return RosterStaffing(name, shifts, np.rint(tables * ratio).astype(np.int64),
                          minutes[:, 0].copy(), minutes[:, 1].copy())


def use_roster(inputs: SimInputs, staffing: RosterStaffing) -> SimInputs:
    """``inputs`` staffed by the roster: its table intervals and its registrars."""
    return dataclasses.replace(inputs, roster=staffing.shifts, registrars=staffing.registrars)
