"""PPE shift rosters: who staffs which sampling table when, from the people available.

    staff = read_staff(Path("staff.csv"), scenario, [s.id for s in registry.sites])
    roster = build_roster(scenario, registry, staff, roster_params(scenario), plan=read_plan(d))
    roster.write(Path("out/roster"))

Demand is one sampler and `registrars_per_table` registrars per open table and slot (with a plan:
per table the plan needs, kept open `tail_slots` longer, and at least `min_open_tables` while a
planned site is open, so late arrivals, returning no-shows and walk-ins find a table). People in
PPE work stints of `min_stint_hours`–`max_ppe_hours`, rest at least `min_rest_hours` between
stints and work at most `max_total_hours`; hand-overs at a site are staggered. Positions nobody
can fill are listed, never an error. The rules (`RosterParams`, the scenario's ``roster`` section)
are in `sampler.roster.params`, the CP-SAT model in `sampler.roster.model`;
docs/roster.md describes the files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.atomic import atomic_directory
from sampler.io.csvsafe import neutralise_frame
from sampler.io.timefmt import parse_clock, parse_slot
from sampler.io.xlsx import Sheet, sheet_title, write_xlsx
from sampler.model import Progress, Registry, Site, no_progress
from sampler.params import Scenario
from sampler.plan.slots import slot_grid
from sampler.planfiles.read import PlanFiles
from sampler.registry.read import read_table
from sampler.roster.model import Group, GroupResult, Limits, candidate_count, solve_group
from sampler.roster.params import RosterParams, roster_params

__all__ = ["ROLES", "ROLE_NAMES", "Roster", "StaffMember", "build_roster", "demand", "plan_tables", "read_staff",
           "staff_from_frame"]

ROLES: tuple[str, ...] = ("sampler", "registrar")
ROLE_NAMES = {"sampler": "采样员", "registrar": "登记员"}  # as staff files and staff say them
_ROLE_WORDS = {"": 0, "sampler": 0, "采样员": 0, "采样": 0, "采样人员": 0,
               "registrar": 1, "登记员": 1, "登记": 1, "登记人员": 1}


@dataclass(frozen=True)
class StaffMember:
    """One person who can work in PPE; ``earliest``/``latest`` are slot indices (latest exclusive)."""

    id: str
    name: str
    role: str
    site_id: str
    earliest: int
    latest: int


def read_staff(path: Path, scenario: Scenario, site_ids: Sequence[str], name: str | None = None) -> list[StaffMember]:
    """Read and check a staff file (CSV in UTF-8/GB18030 or XLSX; English or Chinese headers, see
    `sampler.registry.headers.ALIASES["staff"]`), with the registry files' reader."""
    frame = read_table(path, "staff", name)
    return staff_from_frame(frame, scenario, site_ids, frame.attrs["file"])


def _minutes_from_start(text: str, start: dt.datetime, end: bool = False) -> int | None:
    """Minutes after the window start of 'YYYY-MM-DD HH:MM' or 'HH:MM'.

    A clock time is on the window's first day, or the next day if it is before the window start
    (for an end time: not after it), so '06:00' ends a 24-hour window that starts at 06:00.
    """
    try:
        if len(text) <= 5:
            when = start.replace(hour=0, minute=0) + dt.timedelta(minutes=parse_clock(text))
            if when < start or (end and when == start):
                when += dt.timedelta(days=1)
        else:
            when = parse_slot(text)
    except ValueError:
        return None
    return int((when - start).total_seconds() // 60)


def staff_from_frame(frame: pd.DataFrame, scenario: Scenario, site_ids: Sequence[str],
                     file: str = "<staff>") -> list[StaffMember]:
    """Check a staff frame (canonical column names, str cells) and turn it into StaffMembers."""
    window = scenario.window
    n, minutes = window.n_slots, window.slot_minutes
    known = set(site_ids)
    issues: list[InputIssue] = []
    out: list[StaffMember] = []
    seen: set[str] = set()
    if len(frame) == 0:
        raise InputError([InputIssue(file, None, "(file)", "0 rows", "list at least one person")])

    def cell(field: str, i: int) -> str:
        return str(frame[field].iat[i]).strip() if field in frame else ""

    first_row = int(frame.attrs.get("first_row", 1))  # rows as Excel shows them (a frame not from a file: data rows)
    for i in range(len(frame)):
        row = first_row + i
        sid = cell("staff_id", i)
        if not sid:
            issues.append(InputIssue(file, row, "staff_id", "", "give every person an id (工号)"))
        elif sid in seen:
            issues.append(InputIssue(file, row, "staff_id", sid, "make staff ids unique"))
        seen.add(sid)
        role = _ROLE_WORDS.get(cell("role", i).lower())
        if role is None:
            issues.append(InputIssue(file, row, "role", cell("role", i),
                                     "use sampler (采样员) or registrar (登记员), or leave it blank"))
        site = cell("site_id", i)
        if site and site not in known:
            issues.append(InputIssue(file, row, "site_id", site,
                                     "use a site_id from the sites file, or leave blank for any site"))
        bounds = []
        for field, default in (("earliest", 0), ("latest", n * minutes)):
            text = cell(field, i)
            value = default if not text else _minutes_from_start(text, window.start_time, field == "latest")
            if value is None:
                issues.append(InputIssue(file, row, field, text, "write the time as 'YYYY-MM-DD HH:MM' or 'HH:MM'"))
            bounds.append(value)
        first, last = bounds
        if first is not None and last is not None and last <= first:
            issues.append(InputIssue(file, row, "latest", cell("latest", i),
                                     "make the latest end after the earliest start"))
        if issues:
            continue
        assert first is not None and last is not None
        out.append(StaffMember(sid, cell("name", i) or sid, ROLES[role or 0], site,
                               min(n, max(0, -(-first // minutes))), min(n, max(0, last // minutes))))
    if issues:
        raise InputError(issues)
    return out


def demand(scenario: Scenario, sites: Sequence[Site], params: RosterParams,
           plan: PlanFiles | None = None) -> tuple[np.ndarray, np.ndarray]:
    """People needed and places per (site, role, slot): (demand, places), both int64.

    Without a plan every table is needed in every slot its site is open. With a plan, a slot needs
    ``min(tables, ceil(people / (rate × slot hours)))`` tables (`site_load.csv`); see `plan_tables`
    for how ``tail_slots`` and ``min_open_tables`` extend that.
    """
    grid = slot_grid(scenario.window, scenario.capacity, scenario.planner, tuple(sites))
    is_open = grid.capacity > 0
    tables = np.array([s.tables for s in sites], dtype=np.int64)[:, None]
    needed = np.where(is_open, tables, 0)
    if plan is not None:
        planned = np.zeros_like(needed)
        used = np.zeros(len(sites), dtype=bool)
        index = {s.id: k for k, s in enumerate(sites)}
        slot_of = {label: t for t, label in enumerate(grid.labels()[:-1])}
        load = plan.site_load
        file = str(plan.directory / "site_load.csv")
        issues = []
        for row, (sid, start, people) in enumerate(zip(load["site_id"], load["slot_start"], load["people"], strict=True), 1):
            k, t = index.get(sid), slot_of.get(start)
            if k is None:
                issues.append(InputIssue(file, row, "site_id", sid, "plan and roster must use the same sites file"))
            elif t is None:
                issues.append(InputIssue(file, row, "slot_start", start, "plan and roster must use the same window"))
            elif is_open[k, t] and float(people) > 0:
                per_table = sites[k].rate * grid.minutes / 60
                planned[k, t] = min(sites[k].tables, math.ceil(float(people) / per_table - 1e-9))
                used[k] = True
        if issues:
            raise InputError(issues[:200])
        needed = plan_tables(planned, is_open, tables[:, 0], used, params.tail_slots, params.min_open_tables)
    per_role = np.array([1, params.registrars_per_table], dtype=np.int64)[None, :, None]
    need = needed[:, None, :] * per_role
    places = np.where(is_open | (needed > 0), tables, 0)[:, None, :] * per_role
    return need.astype(np.int64), places.astype(np.int64)


def plan_tables(planned: np.ndarray, is_open: np.ndarray, tables: np.ndarray, used: np.ndarray,
                tail_slots: int, min_open_tables: int) -> np.ndarray:
    """Tables to staff per (site, slot) for a plan that needs ``planned`` tables.

    1. A site the plan uses (``used``) keeps ``min(min_open_tables, tables)`` tables in every slot it
       is open, for walk-ins (the simulator spreads them over the opening hours) and no-shows who
       come back 1–6 h after their slot.
    2. Each slot's tables stay staffed ``tail_slots`` more slots (a running maximum), also past the
       site's closing time within the window: the queue left at the end of a busy stretch, people
       who come late (sim: +3 ± 8 min) and whoever arrives just before closing are served.
    """
    base = np.asarray(planned, dtype=np.int64).copy()
    floor = np.minimum(max(0, min_open_tables), np.asarray(tables, dtype=np.int64))[:, None]
    base = np.where(is_open & np.asarray(used, dtype=bool)[:, None], np.maximum(base, floor), base)
    out = base.copy()
    for lag in range(1, min(max(0, tail_slots), base.shape[1] - 1) + 1):
        out[:, lag:] = np.maximum(out[:, lag:], base[:, :-lag])
    return out


def _assign_sites(people: list[int], staff: Sequence[StaffMember], need: np.ndarray,
                  sites: list[int], site_index: dict[str, int], limits: Limits) -> dict[int, int]:
    """Give every person one site: bound people theirs, the rest greedily where demand is uncovered."""
    rest = need[sites].astype(np.float64)
    local = {k: j for j, k in enumerate(sites)}
    home: dict[int, int] = {}
    bound = [p for p in people if staff[p].site_id]
    free = [p for p in people if not staff[p].site_id]
    for p in [*bound, *free]:
        a, b = staff[p].earliest, staff[p].latest
        if staff[p].site_id:
            j = local[site_index[staff[p].site_id]]
        else:  # most uncovered demand in the person's hours; ties: the least over-supplied site
            window = rest[:, a:b]
            score = list(zip(np.clip(window, 0, None).sum(axis=1).tolist(), window.sum(axis=1).tolist(), strict=True))
            j = max(range(len(sites)), key=lambda i: (score[i], -i))
        home[p] = sites[j]
        rest[j, a:b] -= _workable(b - a, limits) / (b - a)
    return home


def _workable(span: int, limits: Limits) -> int:
    """Most slots one person can work in ``span`` slots: longest stints separated by rests."""
    cycles, left = divmod(span, limits.max_len + limits.rest)
    tail = min(left, limits.max_len) if left >= limits.min_len else 0
    return min(limits.total, cycles * limits.max_len + tail)


def _make_group(people: list[int], sites: list[int], staff: Sequence[StaffMember], need: np.ndarray,
                places: np.ndarray, stagger: np.ndarray, home: dict[int, int], site_index: dict[str, int]) -> Group:
    """The sub-problem of some people (one role) and the sites they may work at."""
    local = {k: j for j, k in enumerate(sites)}
    allowed = []
    for p in people:
        k = home.get(p, site_index.get(staff[p].site_id, -1))
        allowed.append([local[k]] if k >= 0 else list(range(len(sites))))
    return Group(demand=need[sites], places=places[sites], stagger_limit=stagger[sites],
                 earliest=[staff[p].earliest for p in people], latest=[staff[p].latest for p in people],
                 allowed=allowed)


def _plan_groups(role: int, staff: Sequence[StaffMember], need: np.ndarray, places: np.ndarray,
                 stagger: np.ndarray, site_index: dict[str, int], params: RosterParams,
                 limits: Limits) -> tuple[list[tuple[list[int], list[int], Group]], bool]:
    """Split one role into independent groups (people, sites, model); True if decomposed by force."""
    active = [k for k in range(need.shape[0]) if need[k].any()]
    people = [p for p, m in enumerate(staff) if m.role == ROLES[role] and m.latest > m.earliest
              and (not m.site_id or site_index[m.site_id] in active)]
    if not active:
        return [], False
    free = [p for p in people if not staff[p].site_id]
    if free:
        group = _make_group(people, active, staff, need, places, stagger, {}, site_index)
        if candidate_count(group, limits) <= params.max_variables:
            return [(people, active, group)], False
        home = _assign_sites(people, staff, need, active, site_index, limits)
    else:
        home = {p: site_index[staff[p].site_id] for p in people}
    out = []
    for k in active:
        mine = [p for p in people if home[p] == k]
        out.append((mine, [k], _make_group(mine, [k], staff, need, places, stagger, home, site_index)))
    return out, bool(free)


def _tables(records: list[tuple[int, int, int, int, int]], per_table: list[int]) -> list[int]:
    """Table number of each (person, site, role, start, length) stint: interval colouring per site and role."""
    table = [0] * len(records)
    order = sorted(range(len(records)), key=lambda i: (records[i][1], records[i][2], records[i][3],
                                                       -records[i][4], records[i][0]))
    busy: dict[tuple[int, int], list[int]] = {}  # (site, role) -> end slot per place label
    for i in order:
        _, k, r, t, length = records[i]
        ends = busy.setdefault((k, r), [])
        label = next((j for j, end in enumerate(ends) if end <= t), len(ends))
        if label == len(ends):
            ends.append(0)
        ends[label] = t + length
        table[i] = label // max(1, per_table[r]) + 1
    return table


@dataclass(eq=False)
class Roster:
    """A solved roster.

    Attributes
    ----------
    stints
        One row per stint: staff_id, name, role, site_id, table, start, end (local times).
    unstaffed
        One row per (site, slot, role) short of people: site_id, slot_start, role, missing.
    """

    stints: pd.DataFrame
    unstaffed: pd.DataFrame
    info: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Counts and solver figures, as written to roster.json."""
        return dict(self.info)

    def write(self, directory: str | Path, xlsx: bool = True, force: bool = False,
              inputs: Sequence[str | Path] = ()) -> None:
        """Write roster.csv, unstaffed.csv, roster.json (and roster.xlsx) into ``directory`` atomically
        (``force`` and ``inputs`` as in `sampler.io.atomic.atomic_directory`)."""
        with atomic_directory(directory, "roster", force=force, inputs=inputs) as tmp:
            neutralise_frame(self.stints).to_csv(tmp / "roster.csv", index=False, lineterminator="\n", encoding="utf-8")
            neutralise_frame(self.unstaffed).to_csv(tmp / "unstaffed.csv", index=False, lineterminator="\n",
                                                    encoding="utf-8")
            text = json.dumps(self.info, ensure_ascii=False, indent=2)
            (tmp / "roster.json").write_text(text + "\n", encoding="utf-8")
            if xlsx:
                write_xlsx(tmp / "roster.xlsx", self._sheets(), title=f"{self.info.get('area', '')} 排班表")

    def _sheets(self) -> list[Sheet]:
        """roster.xlsx for staff: 我的班次 (every person's stints, by 工号), then one sheet per site
        named by its name (by table, role and start), then 缺岗 when positions are unfilled.
        Chinese headers and roles; every sheet set up for A4 with its header row on every page."""
        used: set[str] = set()
        names = self.info.get("site_names") or {}

        def site(site_id: Any) -> str:
            return str(names.get(str(site_id)) or site_id)

        minutes = self.info["window"]["slot_minutes"]

        def hours(start: Any, end: Any) -> float:
            h = (parse_slot(str(end)) - parse_slot(str(start))).total_seconds() / 3600
            return round(h * 60 / minutes) * minutes / 60

        mine = Sheet(sheet_title("我的班次", used), widths=(8, 8, 8, 28, 7, 16, 16, 10)).for_print(title_rows=1)
        mine.append(["工号", "姓名", "岗位", "采样点", "采样台", "上岗", "下岗", "时长（小时）"], bold=True)
        mine.freeze_rows = 1
        ordered = self.stints.sort_values(["staff_id", "start"], kind="stable")
        columns = [ordered[c].tolist() for c in ("staff_id", "name", "role", "site_id", "table", "start", "end")]
        for staff_id, name, role, site_id, table, start, end in zip(*columns, strict=True):
            mine.append([str(staff_id), str(name), ROLE_NAMES.get(role, str(role)), site(site_id), int(table),
                         str(start), str(end), hours(start, end)])
        sheets = [mine]
        for site_id in self.info["sites"]:
            rows = self.stints[self.stints["site_id"] == site_id]
            rows = rows.assign(_rank=rows["role"].map({r: k for k, r in enumerate(ROLES)})).sort_values(
                ["table", "_rank", "start"], kind="stable")
            name = site(site_id)
            sheet = Sheet(sheet_title(name, used, "采样点"), widths=(8, 9, 9, 10, 17, 17, 9)).for_print(title_rows=2)
            sheet.append([f"{name}（{site_id}）排班"], bold=True)
            sheet.append(["采样台", "岗位", "工号", "姓名", "上岗", "下岗", "时长（小时）"], bold=True)
            sheet.freeze_rows = 2
            for rec in rows.itertuples(index=False):
                sheet.append([int(rec.table), ROLE_NAMES.get(rec.role, rec.role), rec.staff_id, rec.name,
                              rec.start, rec.end, hours(rec.start, rec.end)])
            sheets.append(sheet)
        if len(self.unstaffed):
            short = Sheet(sheet_title("缺岗", used), widths=(30, 17, 9, 9)).for_print(title_rows=1)
            short.append(["采样点", "时段开始", "岗位", "缺少人数"], bold=True)
            short.freeze_rows = 1
            for rec in self.unstaffed.itertuples(index=False):
                short.append([site(rec.site_id), str(rec.slot_start), ROLE_NAMES.get(str(rec.role), str(rec.role)),
                              int(str(rec.missing))])
            sheets.append(short)
        return sheets


@dataclass(frozen=True, eq=False)
class _RosterProblem:
    """What one roster is solved for: the people, the sites and the positions to fill.

    ``need`` and ``places`` are people needed and places per (site, role, slot) (`demand`);
    ``labels`` the slot boundaries as text (one more than slots).
    """

    scenario: Scenario
    sites: tuple[Site, ...]
    staff: Sequence[StaffMember]
    params: RosterParams
    need: np.ndarray
    places: np.ndarray
    labels: list[str]

    @property
    def per_table(self) -> list[int]:
        """People per table and role (samplers, registrars)."""
        return [1, self.params.registrars_per_table]


def build_roster(scenario: Scenario, sites: Registry | Sequence[Site],
                 staff: Sequence[StaffMember] | pd.DataFrame, params: RosterParams | None = None,
                 plan: PlanFiles | None = None, progress: Progress | None = None) -> Roster:
    """Roster ``staff`` over the scenario's window so that every needed table is staffed if possible."""
    progress = progress or no_progress
    site_tuple = sites.sites if isinstance(sites, Registry) else tuple(sites)
    params = params or roster_params(scenario)
    site_index = {s.id: k for k, s in enumerate(site_tuple)}
    if isinstance(staff, pd.DataFrame):
        staff = staff_from_frame(staff, scenario, list(site_index))
    bad = [InputIssue("<staff>", i + 1, "site_id", m.site_id, "use a site_id from the sites file")
           for i, m in enumerate(staff) if m.site_id and m.site_id not in site_index]
    if bad or not staff:
        raise InputError(bad or [InputIssue("<staff>", None, "(file)", "0 rows", "list at least one person")])
    need, places = demand(scenario, site_tuple, params, plan)
    problem = _RosterProblem(scenario, site_tuple, staff, params, need, places,
                             slot_grid(scenario.window, scenario.capacity, scenario.planner, site_tuple).labels())
    limits = params.limits(scenario.window.slot_minutes)
    per_table = problem.per_table
    records: list[tuple[int, int, int, int, int]] = []
    shortage = need.copy()
    statuses, objective, bound, variables, decomposed, n_groups = [], 0.0, 0.0, 0, False, 0
    started = time.perf_counter()
    plans: list[tuple[int, tuple[list[int], list[int], Group]]] = []
    for r in range(len(ROLES)):
        stagger = np.array([math.ceil(s.tables / 2) * per_table[r] if params.stagger else -1
                            for s in site_tuple], dtype=np.int64)
        groups, forced = _plan_groups(r, staff, need[:, r], places[:, r], stagger, site_index, params, limits)
        decomposed |= forced
        plans.extend((r, g) for g in groups)
    solved: dict[tuple[Any, ...], GroupResult] = {}
    for done, (r, (people, group_sites, group)) in enumerate(plans):
        progress(f"{ROLES[r]}s", done / max(1, len(plans)))
        key = (group.demand.tobytes(), group.demand.shape, group.places.tobytes(),
               group.stagger_limit.tobytes(), tuple(group.earliest), tuple(group.latest),
               tuple(map(tuple, group.allowed)))
        if key not in solved:  # identical sub-problems (same staff and tables) are solved once
            solved[key] = solve_group(group, limits, params.seed, params.workers,
                                      params.max_solve_seconds, params.max_deterministic_time)
        result = solved[key]
        n_groups += 1
        statuses.append(result.status)
        objective += result.objective
        bound += result.bound
        variables += result.variables
        records.extend((people[p], group_sites[s], r, t, length) for p, s, t, length in result.stints)
        for j, k in enumerate(group_sites):
            shortage[k, r] = result.shortage[j]
    progress("done", 1.0)
    return _assemble(problem, records, shortage, {
        "status": _worst(statuses), "objective": objective, "bound": bound, "groups": n_groups,
        "decomposed": decomposed, "variables": variables,
        "solve_seconds": round(time.perf_counter() - started, 3)})


def _worst(statuses: list[str]) -> str:
    for name in ("INFEASIBLE", "MODEL_INVALID", "GREEDY", "FEASIBLE"):
        if name in statuses:
            return name
    return "OPTIMAL"


def _assemble(problem: _RosterProblem, records: list[tuple[int, int, int, int, int]], shortage: np.ndarray,
              solve: dict[str, Any]) -> Roster:
    """Turn solver output into the roster tables and the summary: ``records`` are the (person, site,
    role, start, length) stints, ``shortage`` the people missing per (site, role, slot), ``solve``
    the solver's figures."""
    scenario, sites, staff, params = problem.scenario, problem.sites, problem.staff, problem.params
    need, places, labels = problem.need, problem.places, problem.labels
    tables = _tables(records, problem.per_table)
    order = sorted(range(len(records)), key=lambda i: (records[i][1], records[i][3], records[i][2],
                                                       tables[i], staff[records[i][0]].id))
    stints = pd.DataFrame({
        "staff_id": [staff[records[i][0]].id for i in order],
        "name": [staff[records[i][0]].name for i in order],
        "role": [ROLES[records[i][2]] for i in order],
        "site_id": [sites[records[i][1]].id for i in order],
        "table": [tables[i] for i in order],
        "start": [labels[records[i][3]] for i in order],
        "end": [labels[records[i][3] + records[i][4]] for i in order],
    }, columns=["staff_id", "name", "role", "site_id", "table", "start", "end"])
    k, t, r = np.nonzero(shortage.transpose(0, 2, 1))  # site, slot, role order
    unstaffed = pd.DataFrame({"site_id": [sites[i].id for i in k], "slot_start": [labels[i] for i in t],
                              "role": [ROLES[i] for i in r], "missing": shortage[k, r, t].tolist()},
                             columns=["site_id", "slot_start", "role", "missing"])
    hours_per_slot = scenario.window.slot_minutes / 60
    worked: dict[int, int] = {}
    for p, _, _, _, length in records:
        worked[p] = worked.get(p, 0) + length
    hours = np.array(sorted(worked.values()), dtype=np.float64) * hours_per_slot
    hand_overs = sum(1 for _, k2, r2, t2, _ in records if t2 > 0 and places[k2, r2, t2 - 1] > 0)
    positions, missing = int(need.sum()), int(shortage.sum())
    info: dict[str, Any] = {
        "area": scenario.area,
        "window": {"start": scenario.window.start, "hours": scenario.window.hours,
                   "slot_minutes": scenario.window.slot_minutes},
        "sites": [s.id for s in sites],
        "site_names": {s.id: s.name for s in sites},
        "positions": positions,
        "filled": positions - missing,
        "unstaffed": missing,
        "position_hours": positions * hours_per_slot,
        "unstaffed_hours": missing * hours_per_slot,
        "unstaffed_rows": len(unstaffed),
        "by_role": {role: {"positions": int(need[:, i].sum()), "unstaffed": int(shortage[:, i].sum())}
                    for i, role in enumerate(ROLES)},
        "people": len(staff),
        "people_used": len(worked),
        "stints": len(records),
        "hand_overs": hand_overs,
        "hours_per_person": {"min": float(hours.min()) if len(hours) else 0.0,
                             "mean": round(float(hours.mean()), 3) if len(hours) else 0.0,
                             "max": float(hours.max()) if len(hours) else 0.0},
        "status": solve["status"],
        "objective": None if math.isnan(solve["objective"]) else solve["objective"],
        "bound": None if math.isnan(solve["bound"]) else solve["bound"],
        "groups": solve["groups"],
        "decomposed": solve["decomposed"],
        "variables": solve["variables"],
        "params": dataclasses.asdict(params),
        "timing": {"solve_seconds": solve["solve_seconds"]},
    }
    return Roster(stints=stints, unstaffed=unstaffed, info=info)
