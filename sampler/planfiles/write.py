"""Write a plan directory (docs/formats.md): CSV tables, plan.json and the planners' workbook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sampler.io.atomic import atomic_directory, scenario_inputs
from sampler.io.csvsafe import neutralise_table
from sampler.io.text import text_series
from sampler.io.timefmt import format_clock, run_text
from sampler.io.xlsx import Sheet, sheet_title, write_xlsx
from sampler.model import HouseholdTable, RiskZone
from sampler.planfiles.schema import TABLES

if TYPE_CHECKING:
    from sampler.plan.planner import Plan

__all__ = ["plan_frames", "summary_rows", "write_plan"]

_MODES = np.array(["", "site", "home"], dtype=object)


def _text(values: np.ndarray | pa.Array | pa.ChunkedArray, index: np.ndarray | None = None) -> pd.Series:
    """``values[index]`` as a text column, converted through Arrow: a few distinct texts taken a
    million times cost one conversion of the distinct ones (same column as pandas would build).
    ``values`` may already be an Arrow string array, chunked or not (`HouseholdTable.arrow`)."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(
        values, type=pa.large_string(), from_pandas=True)
    if index is not None:
        index = np.asarray(index, dtype=np.int64)
        whole = len(index) == len(arr) and bool((index == np.arange(len(index))).all())
        if not whole:  # (every row in order, e.g. a plan that placed everyone: nothing to take)
            arr = arr.take(pa.array(np.where(index < 0, index + len(values), index)))  # numpy's −1 = last
    return text_series(arr)


def _coded_text(values: np.ndarray, index: np.ndarray) -> pd.Series:
    """``values[index]`` for a long text array with few distinct values (units, rooms)."""
    codes, uniques = pd.factorize(values[index], sort=False, use_na_sentinel=False)
    return _text(np.asarray(uniques, dtype=object), codes)


def _hh_text(hh: HouseholdTable, name: str, index: np.ndarray | None = None) -> pd.Series:
    """A household text column (``[index]``) as a text column, from Arrow when the table holds it so."""
    arrow = hh.arrow(name)
    if arrow is not None:
        return _text(arrow, index)
    values = getattr(hh, name)
    if name in ("unit", "room") and index is not None:
        return _coded_text(values, index)
    return _text(values, index)


def plan_frames(plan: Plan) -> dict[str, pd.DataFrame]:
    """All tables of the plan directory (`sampler.planfiles.schema.TABLES`: its columns and dtypes),
    in a fixed row order."""
    from sampler.day.codes import code_secret, resident_codes
    from sampler.plan.planner import MODE_SITE, MODE_UNPLACED

    reg, hh, b = plan.registry, plan.registry.households, plan.registry.buildings
    labels = np.array(plan.grid.labels(), dtype=object)
    site_ids = np.array([s.id for s in reg.sites] + [""], dtype=object)
    placed = np.flatnonzero(plan.mode != MODE_UNPLACED)
    at_site = plan.mode[placed] == MODE_SITE
    codes = plan.codes if plan.codes is not None else resident_codes(plan.scenario.area, hh.id, code_secret())
    assignments = pd.DataFrame({
        "household_id": _hh_text(hh, "id", placed),
        "code": _text(codes, placed),
        "building_id": _text(b.id, hh.building[placed]),
        "unit": _hh_text(hh, "unit", placed),
        "room": _hh_text(hh, "room", placed),
        "size": hh.size[placed],
        "mode": _text(_MODES, plan.mode[placed]),
        "site_id": _text(site_ids, plan.site[placed]),
        "team": pd.arrays.IntegerArray(np.where(at_site, 0, plan.team[placed]), at_site),
        "slot_start": _text(labels, plan.slot[placed]),
        "slot_end": _text(labels, plan.slot[placed] + 1),
        "walk_minutes": plan.walk[placed],
        "over_max_walk": (plan.walk[placed] > plan.scenario.walk.max_minutes).astype(np.int64),
        "extra_walk_minutes": np.round(np.maximum(plan.walk[placed] - plan.scenario.walk.max_minutes, 0.0), 1),
    })
    if plan.change is not None:  # a re-plan or a round: the schema's optional column
        assignments["change"] = _text(plan.change, placed)

    n_sites, n_slots = plan.grid.capacity.shape
    load = plan.load()
    site_load = pd.DataFrame({
        "site_id": np.repeat(site_ids[:-1], n_slots),
        "slot_start": np.tile(labels[:-1], n_sites),
        "people": load.ravel(),
        "capacity": plan.grid.capacity.ravel(),
    })

    # One row per (building, site or home, slot): what a building notice prints.
    n_b = len(b)
    key = (hh.building[placed] * (n_sites + 1) + np.where(at_site, plan.site[placed], n_sites)) * n_slots + plan.slot[placed]
    cells, inverse = np.unique(key, return_inverse=True)
    households = np.bincount(inverse, minlength=len(cells))
    people = np.bincount(inverse, weights=hh.size[placed], minlength=len(cells)).astype(np.int64)
    cell_b, rest = np.divmod(cells, (n_sites + 1) * n_slots)
    cell_s, cell_t = np.divmod(rest, n_slots)
    order = np.lexsort((cell_s, cell_t, cell_b))
    zone_key = np.array([z.key for z in RiskZone], dtype=object)
    buildings = pd.DataFrame({
        "building_id": b.id[cell_b], "name": b.name[cell_b], "grid": b.grid[cell_b],
        "compound": b.compound[cell_b], "risk_zone": zone_key[b.zone[cell_b]],
        "mode": np.where(cell_s == n_sites, "home", "site"), "site_id": site_ids[np.minimum(cell_s, n_sites)],
        "slot_start": labels[cell_t], "slot_end": labels[cell_t + 1],
        "households": households, "people": people,
    }).iloc[order].reset_index(drop=True)
    del n_b

    home, stop, arrival = plan.visit_order()
    home_visits = pd.DataFrame({
        "household_id": _hh_text(hh, "id", home), "building_id": b.id[hh.building[home]],
        "unit": _hh_text(hh, "unit", home), "room": _hh_text(hh, "room", home), "size": hh.size[home],
        "team": plan.team[home], "stop": stop,
        "slot_start": labels[plan.slot[home]], "slot_end": labels[plan.slot[home] + 1],
        "arrival": _arrival_labels(plan, arrival),
        "reason": plan.reason[home],
    })
    un = np.flatnonzero(plan.mode == MODE_UNPLACED)
    unplaced = pd.DataFrame({
        "household_id": _hh_text(hh, "id", un), "building_id": b.id[hh.building[un]], "size": hh.size[un],
        "reason": plan.reason[un],
    })
    sites = pd.DataFrame([{
        "site_id": s.id, "name": s.name, "lon": s.lon, "lat": s.lat, "tables": s.tables, "rate": s.rate,
        "open": format_clock(s.open_minute), "close": format_clock(s.close_minute), "serves": ";".join(s.serves),
        "queue_m": s.queue_m, "slot_capacity": int(plan.grid.capacity[i].max(initial=0)),
    } for i, s in enumerate(reg.sites)], columns=TABLES["sites"].names)
    contacts = pd.DataFrame({"household_id": _hh_text(hh, "id"), "code": _text(codes), "contact": _hh_text(hh, "contact"),
                             "phone": _hh_text(hh, "phone")})
    frames = {
        "assignments": assignments, "site_load": site_load, "buildings": buildings,
        "home_visits": home_visits, "unplaced": unplaced, "sites": sites, "contacts": contacts,
    }
    if list(frames) != list(TABLES):
        raise ValueError(f"the writer builds {list(frames)}, the schema has {list(TABLES)}")
    return {name: TABLES[name].conform(frame) for name, frame in frames.items()}


def _arrival_labels(plan: Plan, minutes: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DD HH:MM` labels of expected arrivals (minutes from the window start, floored to the minute)."""
    import datetime as dt

    from sampler.io.timefmt import format_slot

    whole = np.floor(np.nan_to_num(minutes, nan=0.0) + 1e-6).astype(np.int64)
    values, inverse = np.unique(whole, return_inverse=True)
    texts = np.array([format_slot(plan.grid.start + dt.timedelta(minutes=int(m))) for m in values.tolist()],
                     dtype=object)
    return texts[inverse] if len(whole) else np.zeros(0, dtype=object)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with a plain header, written by Arrow (ten times pandas' speed at a million rows).

    Values are unquoted unless one of them needs quotes (a comma, quote or line break), in which
    case every text value is quoted; both read back the same with any CSV reader. Text cells a
    spreadsheet would run as formulas get a leading quote (`sampler.io.csvsafe`).
    """
    _write_table(_csv_header(frame), _arrow(frame), path)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table for the CSV writer. An integer column that may be blank
    (pandas Int64) is written as text, '' where blank, so it is spelled the way the text column
    it replaced was (quoted like every text value when a file needs quotes). Text cells a
    spreadsheet would run as formulas get a leading quote (`sampler.io.csvsafe`)."""
    import pyarrow.compute as pc

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, dtype in enumerate(frame.dtypes.tolist()):
        if isinstance(dtype, pd.Int64Dtype):
            name = table.column_names[i]
            text = pc.fill_null(pc.cast(table.column(i), pa.large_string()), "")
            table = table.set_column(i, pa.field(name, pa.large_string()), text)
    return neutralise_table(table)


def _csv_header(frame: pd.DataFrame) -> bytes:
    import csv
    import io

    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(frame.columns)
    return head.getvalue().encode("utf-8")


def _write_table(head: bytes, table: pa.Table, path: Path) -> None:
    """The header line, then the rows by Arrow into a native file: no Python object is touched,
    so this runs in another thread without holding the GIL."""
    import pyarrow.csv as pacsv

    for style in ("none", "needed"):
        try:
            with pa.OSFile(str(path), "wb") as fh:
                fh.write(head)
                pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style=style))
            return
        except pa.ArrowInvalid:
            continue


WORKBOOK_PROCESS_MIN = 100_000  # households from which the workbook is built in a forked process


def write_plan(plan: Plan, directory: str | Path, xlsx: bool = True, workbook_process: bool | None = None,
               force: bool = False, inputs: list[Path] | None = None) -> None:
    """Write the plan directory of ``plan`` (with plan.xlsx when ``xlsx``): every file to a private
    staging directory, then swapped in, so it is never half-written, and never over files sampler
    did not write (`sampler.io.atomic.atomic_directory`; ``force`` replaces an earlier output of
    another command; ``inputs``, default the scenario's files, are never replaced).

    The tables are built here and written by Arrow in a second thread, which needs no GIL. The
    workbook is Python string building, which would wait on the GIL beside the tables (a thread
    for it made both slower than one after the other), so for big plans (``workbook_process``;
    None = from WORKBOOK_PROCESS_MIN households, where fork exists) a forked copy of this process
    writes it on the other core meanwhile. Its file is the same bytes; should the copy fail, the
    workbook is written here after all.
    """
    from concurrent.futures import ThreadPoolExecutor

    if workbook_process is None:
        workbook_process = len(plan.mode) >= WORKBOOK_PROCESS_MIN
    inputs = scenario_inputs(plan.scenario) if inputs is None else inputs
    with atomic_directory(directory, "plan", force=force, inputs=inputs) as tmp:
        book = tmp / "plan.xlsx"
        # Forked before this call starts any thread of its own.
        child = _fork_workbook(plan, book) if xlsx and workbook_process else None
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                frames = plan_frames(plan)
                written = [pool.submit(_write_table, _csv_header(frame), _arrow(frame), tmp / f"{name}.csv")
                           for name, frame in frames.items()]
                del frames
                (tmp / "plan.json").write_text(
                    json.dumps(plan.summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
                )
                if xlsx and child is None:
                    write_workbook(plan, {}, book)
                for done in written:
                    done.result()
        finally:
            forked_ok = child is not None and _child_succeeded(child)
        if child is not None and not forked_ok:
            write_workbook(plan, {}, book)


def _fork_workbook(plan: Plan, path: Path) -> int | None:
    """Fork a copy of this process that writes the workbook to ``path`` and exits at once
    (``os._exit``: nothing of the parent's is flushed or closed twice); its pid, or None."""
    import os

    if not hasattr(os, "fork"):
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the copy
        code = 1
        try:
            write_workbook(plan, {}, path)
            code = 0
        finally:
            os._exit(code)
    return pid


def _child_succeeded(pid: int) -> bool:
    import os

    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return False
    return os.waitstatus_to_exitcode(status) == 0


def building_runs(plan: Plan) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One row per (site or home, building): households, people, first slot, slots merged into runs.

    Returns the columns (first_start, slots, building_id, name, compound, grid, households, people)
    sorted by group, first slot and building, and each row's group (site index; home = n_sites).
    """
    from sampler.plan.planner import MODE_SITE, MODE_UNPLACED

    hh, b = plan.registry.households, plan.registry.buildings
    n_sites, n_slots = plan.grid.capacity.shape
    placed = np.flatnonzero(plan.mode != MODE_UNPLACED)
    group = np.where(plan.mode[placed] == MODE_SITE, plan.site[placed], n_sites)
    key = (group * len(b) + hh.building[placed]) * n_slots + plan.slot[placed]
    cells, inverse = np.unique(key, return_inverse=True)
    households = np.bincount(inverse, minlength=len(cells))
    people = np.bincount(inverse, weights=hh.size[placed], minlength=len(cells)).astype(np.int64)
    pair, t = np.divmod(cells, n_slots)
    new_pair = np.r_[True, pair[1:] != pair[:-1]]
    new_run = new_pair | np.r_[True, t[1:] != t[:-1] + 1]
    run_first = np.flatnonzero(new_run)
    run_last = np.r_[run_first[1:], len(cells)] - 1
    labels = plan.grid.labels()
    texts = [run_text(labels[a], labels[z + 1]) for a, z in zip(t[run_first].tolist(), t[run_last].tolist(), strict=True)]
    pair_first = np.flatnonzero(new_pair)
    runs_per_pair = np.add.reduceat(new_run.astype(np.int64), pair_first) if len(cells) else np.zeros(0, np.int64)
    bounds = np.r_[0, np.cumsum(runs_per_pair)].tolist()
    slots = np.array(["、".join(texts[a:z]) for a, z in zip(bounds[:-1], bounds[1:], strict=True)], dtype=object)
    g, bi = np.divmod(pair[pair_first], len(b))
    first = t[pair_first]
    hh_sum = np.add.reduceat(households, pair_first) if len(cells) else households
    people_sum = np.add.reduceat(people, pair_first) if len(cells) else people
    order = np.lexsort((bi, first, g))
    label_arr = np.array(labels, dtype=object)
    columns = {
        "first_start": label_arr[first[order]], "slots": slots[order], "building_id": b.id[bi[order]],
        "name": b.name[bi[order]], "compound": b.compound[bi[order]], "grid": b.grid[bi[order]],
        "households": hh_sum[order], "people": people_sum[order],
    }
    return columns, g[order]


SummaryValue = str | int | float | None


def _count(value: object) -> SummaryValue:
    """People and households as whole numbers (plan.json may hold them as floats); None stays blank."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(round(value))
    return None if value is None else str(value)


def _figure(value: object, digits: int = 1) -> SummaryValue:
    """An objective or bound rounded for reading; None stays blank."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), digits)
    return None if value is None else str(value)


def summary_rows(summary: dict[str, Any]) -> list[list[SummaryValue]]:
    """The summary sheet's figures as (Chinese label, value) rows: whole numbers for people and
    households, the optimality gap as a percentage, walking times in minutes."""
    s = summary
    window = s.get("window") or {}
    walk = s.get("walk_minutes") or {}
    gap = s.get("gap")
    rows: list[list[SummaryValue]] = [
        ["街道/区域", str(s.get("area", ""))],
        ["采样窗口", f"{window.get('start', '')} – {window.get('end', '')}"],
        ["最后时段结束", str(window.get("last_slot_used", ""))],
        ["登记户数", _count(s.get("households"))],
        ["登记人数", _count(s.get("people"))],
        ["到采样点户数", _count(s.get("site_households"))],
        ["到采样点人数", _count(s.get("site_people"))],
        ["上门采样户数", _count(s.get("home_households"))],
        ["上门采样人数", _count(s.get("home_people"))],
        ["未安排户数", _count(s.get("unplaced_households"))],
        ["未安排人数", _count(s.get("unplaced_people"))],
        ["步行超过上限户数", _count(s.get("over_max_walk_households"))],
        ["步行时间 平均 / P95（分钟）", f"{walk.get('mean', '')} / {walk.get('p95', '')}" if walk else ""],
        ["采样点数", _count(s.get("sites"))],
        ["采样台数", _count(s.get("tables"))],
        ["计划容量（人）", _count(s.get("capacity_people"))],
        ["超出容量的时段", _count(s.get("violations"))],
        ["目标函数值", _figure(s.get("objective"))],
        ["下界", _figure(s.get("lower_bound"))],
        ["最优性差距", "" if gap is None else f"{100 * float(gap):.2f} %"],
    ]
    return rows


def write_workbook(plan: Plan, frames: dict[str, pd.DataFrame], path: Path | IO[bytes]) -> None:
    """plan.xlsx (to a path or a binary file object): a summary sheet, one schedule sheet per site
    (buildings in call-down order), home visits; every sheet set up for A4 (fit to width, header
    rows repeated on every page, schedules landscape)."""
    used: set[str] = set()
    s = plan.summary
    summary = Sheet(sheet_title("汇总", used), widths=[24, 30, 8, 10, 10, 17]).for_print(title_rows=1)
    summary.append([f"{s.get('area', '')} 核酸采样计划汇总"], bold=True)
    for row in summary_rows(s):
        summary.append(row)
    summary.append([])
    summary.append(["采样点编号", "采样点", "采样台", "计划人数", "容量（人）", "最后时段结束"], bold=True)
    load = plan.load()
    labels = plan.grid.labels()
    for i, site in enumerate(plan.registry.sites):
        used_slots = np.flatnonzero(load[i])
        last = labels[used_slots[-1] + 1] if len(used_slots) else ""
        summary.append([site.id, site.name, site.tables, int(load[i].sum()), int(plan.grid.capacity[i].sum()), last])
    sheets = [summary]

    columns, group = building_runs(plan)
    cols = ["首个时段", "采样时段", "楼栋编号", "楼栋", "小区", "网格", "户数", "人数"]
    values = [columns[f].tolist() for f in ("first_start", "slots", "building_id", "name", "compound", "grid",
                                             "households", "people")]
    rows = list(zip(*values, strict=True))
    n_sites = len(plan.registry.sites)
    cut = np.searchsorted(group, np.arange(n_sites + 2)).tolist()
    wanted = [(i, f"{site.id} {site.name}", f"{site.name}（{site.id}）采样时段安排 · 采样台 {site.tables}")
              for i, site in enumerate(plan.registry.sites)]
    if cut[n_sites + 1] > cut[n_sites]:
        wanted.append((n_sites, "上门采样", "上门采样（按楼栋）"))
    for g, title, caption in wanted:
        sheet = Sheet(sheet_title(title, used), widths=[17, 34, 11, 10, 14, 18, 7, 7])
        sheet.for_print(title_rows=2, landscape=True)
        sheet.append([caption], bold=True)
        sheet.append(cols, bold=True)
        sheet.freeze_rows = 2
        sheet.extend(rows[cut[g] : cut[g + 1]])
        sheets.append(sheet)
    write_xlsx(path, sheets, title=f"{plan.scenario.area} 核酸采样计划")
