"""Building notices: a printable Chinese call-down sheet per building, an index and one workbook.

A notice lists the building's units, floors and rooms with their time and site, for posting at
the entrance (楼栋公告) and sending to the building's WeChat group, signed by the issuer with the
date, the hotline and the grid's worker (the scenario's ``notices`` section). Rows come from a plan
directory's assignments: floors are read from room numbers (501 → 5层); floors whose households
all go at one time are merged (1-5层, rooms 全部), and a floor split between times lists its rooms
in each row, so every household finds exactly one row.

A notice is public, so it never singles out a household: in a building that goes down to a site,
households sampled at home (the disabled and bedridden) get no row of their own; they are told
by SMS or by their grid worker, and a floor holding only such households does not break a run of
floors. A sealed building (封控区), or one whose every household is sampled at home because of
its zone (a 管控区 building without a site), is told 上门采样，请在家等候 and its rows are the
home-visit times; a building whose households are all visited for their own needs (a village
house of one bedridden resident) gets no public notice at all.

The texts are Jinja2 templates (`sampler.notify.templating`: ``notice.html.j2``, ``grid.html.j2``,
``index.html.j2``, …) that a street office can replace with ``--templates DIR``; HTML is
autoescaped. Output is deterministic.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.io.atomic import atomic_directory
from sampler.io.timefmt import span_zh as _when
from sampler.io.xlsx import Sheet, sheet_title, write_xlsx
from sampler.notify.contact import unit_label
from sampler.planfiles.read import PlanFiles

__all__ = [
    "NOTICE_COLUMNS",
    "NoticeSet",
    "NoticesParams",
    "building_notice_html",
    "floor_of",
    "notice_rows",
    "notices_workbook",
    "safe_name",
    "write_notices",
]

NOTICE_COLUMNS = ["building_id", "unit", "floors", "rooms", "households", "people", "mode", "site",
                  "slot_start", "slot_end"]
_ZONES = {"precaution": "防范区", "controlled": "管控区", "sealed": "封控区"}
_HEADERS = ["小区", "楼栋", "单元", "楼层", "房号", "户数", "人数", "采样时间", "采样地点"]
_SMALL_AREA = 20  # up to this many buildings the workbook has a sheet per building
_ALL_ROOMS = "全部"
_HOME = "上门采样"


@dataclass(frozen=True)
class NoticesParams:
    """The ``notices`` section of a scenario: who signs the notices and whom residents call.

    Attributes
    ----------
    issuer
        Who issues the notice, printed at its foot (e.g. 芝山街道新冠肺炎疫情防控指挥部); blank =
        the plan's area.
    date
        Date printed under the issuer, ``YYYY-MM-DD``; blank = the day before the window starts
        (notices go up the evening before).
    hotline
        The hotline residents call with questions (e.g. 0599-3821234); blank = no hotline line.
    grid_workers
        Grid (网格, as in the buildings file) → its grid worker as printed, e.g. ``芝山社区第一网格:
        "王芳 13905991234"``. Every notice of a building in that grid names them; a grid not listed
        gets "请联系本楼网格员". A name that is no grid of the plan is an error at `sampler notices`.
    """

    issuer: str = ""
    date: str = ""
    hotline: str = ""
    grid_workers: dict[str, str] = field(default_factory=dict)

    def check(self) -> list[tuple[str, str, str]]:
        problems = []
        if self.date:
            try:
                dt.date.fromisoformat(self.date)
            except ValueError:
                problems.append(("date", self.date, "write the date as YYYY-MM-DD, e.g. 2022-11-22, or leave it blank"))
        for grid, worker in self.grid_workers.items():
            if not str(grid).strip():
                problems.append(("grid_workers", str(grid), "name each grid as the buildings file does"))
            if not str(worker).strip():
                problems.append((f"grid_workers.{grid}", str(worker), "give the grid worker's name and phone"))
        return problems


@dataclass(frozen=True)
class NoticeSet:
    """What `write_notices` wrote: the directory, the number of notices and the workbook path;
    ``without_notice`` buildings have placed households but no public notice (all visited at home
    for their own needs: their grid worker tells them)."""

    directory: Path
    buildings: int
    workbook: Path
    grids: int = 0
    without_notice: int = 0


def floor_of(room: str) -> int | None:
    """Floor of a room number: 501 → 5, 1203 → 12, 3-1201 → 12; None when it cannot be told."""
    match = re.search(r"(\d{3,4})\D*$", str(room))
    if not match:
        return None
    return int(match.group(1)[:-2]) or None


def _natural(text: str) -> tuple[Any, ...]:
    """Sort key that puts 2 before 10 (units and rooms as residents count them)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text)) if part)


def _floor_label(runs: list[tuple[int, int]]) -> str:
    return "、".join(f"{a}层" if a == b else f"{a}-{b}层" for a, b in runs)


def _public_frame(plan: PlanFiles, building_ids: list[str] | None) -> pd.DataFrame:
    """One row per placed household with what its notice row needs, and whether it is shown."""
    a = plan.assignments
    if building_ids is not None:
        a = a[a["building_id"].isin(building_ids)]
    site_names = plan.sites.set_index("site_id")["name"] if len(plan.sites) else pd.Series(dtype=object)
    home = (a["mode"] == "home").to_numpy()
    frame = pd.DataFrame({
        "building_id": a["building_id"].astype(str).to_numpy(), "unit": a["unit"].fillna("").astype(str).to_numpy(),
        "room": a["room"].fillna("").astype(str).to_numpy(),
        "floor": np.array([floor_of(r) or 0 for r in a["room"]], dtype=np.int64),
        "mode": a["mode"].to_numpy(),
        "site": np.where(home, _HOME, a["site_id"].map(site_names).fillna(a["site_id"]).astype(str)),
        "slot_start": a["slot_start"].to_numpy(), "slot_end": a["slot_end"].to_numpy(),
        "size": a["size"].to_numpy(dtype=np.int64),
    })
    zones = (plan.buildings.drop_duplicates("building_id").set_index("building_id")["risk_zone"]
             if "risk_zone" in plan.buildings else pd.Series(dtype=object))
    sealed = frame["building_id"].isin(zones.index[zones.astype(str) == "sealed"]).to_numpy()
    # A building goes door to door when it is sealed or when its every household is visited for a
    # reason of the whole building (a zone's door-to-door rule); a house whose only household is
    # visited for its special needs is not: its notice would point that household out.
    visits = plan.home_visits
    if "reason" in visits and "household_id" in visits and "household_id" in a:
        reasons = visits.drop_duplicates("household_id").set_index("household_id")["reason"].astype(str)
        zone_wide = a["household_id"].map(reasons).astype(object).fillna("").astype(str).str.contains("door-to-door", regex=False).to_numpy()
    else:
        zone_wide = np.zeros(len(frame), dtype=bool)
    all_zone_home = pd.Series(home & zone_wide).groupby(frame["building_id"].to_numpy()).transform("all").to_numpy(
        dtype=bool)
    frame["door_to_door"] = sealed | all_zone_home
    frame["shown"] = ~home | frame["door_to_door"].to_numpy()
    return frame


def notice_rows(plan: PlanFiles, building_ids: list[str] | None = None) -> pd.DataFrame:
    """Rows of the public notices (`NOTICE_COLUMNS`), by building, unit, floor and time.

    Floors whose shown households all go at one (site or home, slot) are merged per unit into runs
    (``1-3层、5-6层``, rooms ``全部``; a floor with only households not shown does not break a run).
    A floor split between times gets one row per time listing its rooms; households whose floor
    cannot be told from the room (东户) are listed by room under 其他, or 全部 when no room is known.
    Home visits appear only in buildings sampled door to door (sealed, or all at home by their zone's rule).
    """
    frame = _public_frame(plan, building_ids)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in NOTICE_COLUMNS})
    hidden_floors = {(b, u, f) for b, u, f in frame.loc[~frame["shown"], ["building_id", "unit", "floor"]]
                     .itertuples(index=False, name=None)}
    shown = frame[frame["shown"]]
    keys = ["mode", "site", "slot_start", "slot_end"]
    per = shown.groupby(["building_id", "unit", "floor", *keys], sort=False).agg(
        households=("size", "size"), people=("size", "sum"), rooms=("room", list)).reset_index()
    times = per.groupby(["building_id", "unit", "floor"], sort=False)["slot_start"].transform("size")
    hidden_floors -= set(per[["building_id", "unit", "floor"]].itertuples(index=False, name=None))
    out: list[dict[str, Any]] = []
    whole = per[(times == 1) & (per["floor"] > 0)]
    for (b, u, *key), group in whole.groupby(["building_id", "unit", *keys], sort=False):
        floors = sorted(group["floor"].tolist())
        runs: list[tuple[int, int]] = []
        for f in floors:
            if runs and all((b, u, g) in hidden_floors for g in range(runs[-1][1] + 1, f)):
                runs[-1] = (runs[-1][0], f)
            else:
                runs.append((f, f))
        out.append({"building_id": b, "unit": u, "floors": _floor_label(runs), "rooms": _ALL_ROOMS,
                    "households": int(group["households"].sum()), "people": int(group["people"].sum()),
                    **dict(zip(keys, key, strict=True)), "_floor": floors[0], "_split": 0})
    for r in _records(per[(times > 1) | (per["floor"] == 0)]):
        floor = int(r["floor"])
        rooms = sorted({str(x) for x in r["rooms"] if x}, key=_natural)
        if floor == 0 and not rooms:
            label, listed = _ALL_ROOMS, _ALL_ROOMS
        else:
            label, listed = ("其他" if floor == 0 else f"{floor}层"), "、".join(rooms) or _ALL_ROOMS
        out.append({"building_id": r["building_id"], "unit": r["unit"], "floors": label, "rooms": listed,
                    "households": int(r["households"]), "people": int(r["people"]), "mode": r["mode"],
                    "site": r["site"], "slot_start": r["slot_start"], "slot_end": r["slot_end"],
                    "_floor": floor if floor > 0 else 10**6, "_split": 1})
    out.sort(key=lambda r: (r["building_id"], _natural(r["unit"]), r["_floor"], r["slot_start"], r["_split"], r["site"]))
    return pd.DataFrame(out)[NOTICE_COLUMNS].reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, column-wise (much faster than DataFrame.to_dict per small group)."""
    columns = [str(c) for c in frame.columns]
    values = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def resident_qr(url: str) -> str:
    """An inline SVG QR code of the resident page's address (segno; error correction M). It
    carries only the address: residents type their own code there, so a notice on a wall gives
    nobody anyone else's code."""
    import segno

    return str(segno.make(url, error="m").svg_inline(scale=4, border=2, title="居民查询二维码"))


def _date_zh(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _issue_date(params: NoticesParams, window_start: str) -> str:
    """The notice's date: the section's, else the day before the window starts."""
    if params.date:
        return _date_zh(dt.date.fromisoformat(params.date))
    try:
        start = dt.datetime.strptime(str(window_start)[:10], "%Y-%m-%d").date()
    except ValueError:
        return ""
    return _date_zh(start - dt.timedelta(days=1))


def _notice_context(area: str, building: Mapping[str, str], records: Sequence[Mapping[str, Any]],
                    params: NoticesParams, date: str, resident_url: str) -> dict[str, Any]:
    """What the notice templates receive for one building (docs/notices.md lists the names)."""
    from markupsafe import Markup

    name = building.get("name") or building.get("building_id", "")
    zone_key = building.get("risk_zone", "")
    grid = building.get("grid", "")
    rows = [{"unit": unit_label(str(r["unit"])) or "—", "floors": str(r["floors"]), "rooms": str(r.get("rooms", "")),
             "time": _when(str(r["slot_start"]), str(r["slot_end"])), "site": str(r["site"]),
             "home": r["mode"] == "home", "households": int(r["households"])} for r in records]
    door_to_door = zone_key == "sealed" or (bool(rows) and all(r["home"] for r in rows))
    return {
        "area": area, "issuer": params.issuer or area, "date": date, "hotline": params.hotline,
        "grid": grid, "grid_worker": params.grid_workers.get(grid, ""),
        "compound": building.get("compound", ""), "building": name, "building_id": building.get("building_id", ""),
        "zone": _ZONES.get(zone_key, ""), "zone_key": zone_key, "door_to_door": door_to_door,
        "rows": rows, "resident_url": resident_url,
        "qr": Markup(resident_qr(resident_url)) if resident_url else "",  # noqa: S704 - segno's own SVG
    }


def building_notice_html(area: str, building: Mapping[str, str],
                         rows: pd.DataFrame | Sequence[Mapping[str, Any]], resident_url: str = "",
                         params: NoticesParams | None = None, templates: str | Path | None = None,
                         window_start: str = "") -> str:
    """The printable notice of one building (rows: `notice_rows` of that building); with
    ``resident_url`` (the service's /r page) a QR code to it; signed per ``params`` (the scenario's
    ``notices`` section); ``templates`` a folder of edited templates."""
    from sampler.notify.templating import environment, render, template

    params = params or NoticesParams()
    records = _records(rows) if isinstance(rows, pd.DataFrame) else rows
    env = environment(templates)
    context = _notice_context(area, building, records, params, _issue_date(params, window_start), resident_url)
    return render(template(env, "notice.html.j2"), {"notice": context, "area": area})


def safe_name(text: str) -> str:
    """A file name from an id: letters, digits, CJK, '-', '_' and '.' kept, others become '_'."""
    name = re.sub(r"[^\w.\-]", "_", str(text)).strip(".") or "_"
    return name[:100]


def notices_workbook(plan: PlanFiles, path: str | Path, rows: pd.DataFrame | None = None) -> None:
    """One XLSX of the public notice rows: a sheet per compound, or per building when the area has
    few buildings; every sheet set up for A4 landscape (nine columns; fit to width, header row on
    every page)."""
    rows = notice_rows(plan) if rows is None else rows
    info = plan.buildings.drop_duplicates("building_id").set_index("building_id")
    compound = rows["building_id"].map(info["compound"]).fillna("")
    name = rows["building_id"].map(info["name"]).fillna(rows["building_id"])
    by_building = rows["building_id"].nunique() <= _SMALL_AREA
    group_key = name if by_building else compound.where(compound != "", "（未分小区）")
    used: set[str] = set()
    sheets = []
    table = rows.assign(_compound=compound, _name=name, _group=group_key.astype(str))
    table = table.sort_values("_group", kind="stable")
    widths = [12, 9, 7, 12, 16, 6, 6, 19, 22]
    for key, group in itertools.groupby(_records(table), key=lambda r: str(r["_group"])):
        sheet = Sheet(sheet_title(key, used, "Sheet"), widths=widths).for_print(title_rows=1, landscape=True)
        sheet.freeze_rows = 1
        sheet.append(_HEADERS, bold=True)
        sheet.extend(
            [str(r["_compound"]), str(r["_name"]), unit_label(str(r["unit"])), str(r["floors"]), str(r["rooms"]),
             int(r["households"]), int(r["people"]), _when(str(r["slot_start"]), str(r["slot_end"])), str(r["site"])]
            for r in group
        )
        sheets.append(sheet)
    if not sheets:
        empty = Sheet("通知", widths=widths).for_print(title_rows=1, landscape=True)
        empty.append(_HEADERS, bold=True)
        sheets.append(empty)
    write_xlsx(path, sheets, title=f"{plan.summary.get('area', '')} 楼栋采样通知")


def check_grid_workers(plan: PlanFiles, params: NoticesParams, file: str = "<scenario>") -> None:
    """Raise InputError for a ``notices.grid_workers`` grid that no building of the plan is in."""
    grids = set(plan.buildings["grid"].astype(str)) if "grid" in plan.buildings else set()
    unknown = [g for g in params.grid_workers if g not in grids]
    if unknown:
        known = "、".join(sorted(grids)[:8]) + ("…" if len(grids) > 8 else "")
        raise InputError([InputIssue(file, None, f"notices.grid_workers.{g}", params.grid_workers[g],
                                     f"use a grid name of the buildings file ({known})") for g in unknown])


def write_notices(plan: PlanFiles, directory: str | Path, force: bool = False,
                  inputs: Sequence[str | Path] | None = None, resident_url: str = "",
                  params: NoticesParams | None = None, templates: str | Path | None = None) -> NoticeSet:
    """Write ``<building>.html`` for every building with a slot, ``grid-NN.html`` (every notice of a
    grid, one per printed page), ``index.html`` (by 网格 and 小区) and ``notices.xlsx`` into
    ``directory``, all or nothing (`sampler.io.atomic.atomic_directory`: an earlier notices output
    there is replaced, ``force`` replaces another command's; ``inputs`` default to the plan
    directory). ``params`` is the scenario's ``notices`` section, ``templates`` a folder of edited
    templates (`sampler.notify.templating`)."""
    from sampler.notify.templating import environment, template

    params = params or NoticesParams()
    env = environment(templates)
    names = ("notice.html.j2", "grid.html.j2", "index.html.j2")
    compiled = {n: template(env, n) for n in names}  # syntax errors before anything is written
    directory = Path(directory)
    inputs = [plan.directory] if inputs is None else inputs
    with atomic_directory(directory, "notices", force=force, inputs=inputs) as tmp:
        count, grids = _write_notices(plan, tmp, resident_url, params, compiled)
    placed = plan.assignments.loc[plan.assignments["mode"].isin(["site", "home"]), "building_id"].nunique()
    return NoticeSet(directory=directory, buildings=count, workbook=directory / "notices.xlsx", grids=grids,
                     without_notice=max(int(placed) - count, 0))


def _write_notices(plan: PlanFiles, directory: Path, resident_url: str, params: NoticesParams,
                   compiled: Mapping[str, Any]) -> tuple[int, int]:
    from sampler.notify.templating import render

    rows = notice_rows(plan)
    area = str(plan.summary.get("area", ""))
    window = plan.summary.get("window", {})
    date = _issue_date(params, str(window.get("start", "")) if isinstance(window, Mapping) else "")
    info = {str(r["building_id"]): {k: "" if v is None or pd.isna(v) else str(v) for k, v in r.items()}
            for r in _records(plan.buildings.drop_duplicates("building_id"))}
    notices = []
    for bid, group in itertools.groupby(_records(rows), key=lambda r: str(r["building_id"])):
        b = info.get(bid, {"building_id": bid})
        context = _notice_context(area, b, list(group), params, date, resident_url)
        context["file"] = f"{safe_name(bid)}.html"
        (directory / context["file"]).write_text(render(compiled["notice.html.j2"], {"notice": context, "area": area}),
                                                 encoding="utf-8")
        notices.append(context)
    # The index and the print-all pages: grids in order of first appearance in the buildings file,
    # compounds within them likewise, buildings in notice order.
    by_grid: dict[str, list[dict[str, Any]]] = {}
    for n in notices:
        by_grid.setdefault(n["grid"], []).append(n)
    grids = []
    for i, (grid, members) in enumerate(by_grid.items(), start=1):
        compounds: dict[str, list[dict[str, Any]]] = {}
        for n in members:
            compounds.setdefault(n["compound"], []).append(n)
        entry: dict[str, Any] = {"grid": grid or "（未分网格）", "grid_worker": params.grid_workers.get(grid, ""),
                 "file": f"grid-{i:02d}.html", "count": len(members),
                 "compounds": [{"compound": c or "（未分小区）", "notices": ns,
                                "door_to_door": sum(1 for n in ns if n["door_to_door"])} for c, ns in compounds.items()]}
        (directory / entry["file"]).write_text(render(compiled["grid.html.j2"], {
            "area": area, "grid": entry, "notices": members}), encoding="utf-8")
        grids.append(entry)
    (directory / "index.html").write_text(render(compiled["index.html.j2"], {
        "area": area, "issuer": params.issuer or area, "date": date, "hotline": params.hotline, "grids": grids,
        "buildings": len(notices)}), encoding="utf-8")
    notices_workbook(plan, directory / "notices.xlsx", rows)
    return len(notices), len(grids)
