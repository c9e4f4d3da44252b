"""A small hand-made plan directory following docs/formats.md, for export and service tests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd

from sampler.io.timefmt import SLOT_FORMAT, slot_labels

__all__ = ["AREA", "HOUSEHOLDS", "plan_frames", "plan_summary", "write_plan_dir"]

AREA = "XX街道"
CODE_SECRET = "test-code-secret-0123456789abcdef0123"  # the tests' SAMPLER_CODE_SECRET (tests/api/conftest.py)

# household_id, building_id, unit, room, size, mode, site_id, team, slot_start, phone
HOUSEHOLDS: list[tuple[str, str, str, str, int, str, str, str, str, str]] = [
    ("H001", "B1", "2", "501", 3, "site", "S1", "", "2022-11-23 08:00", "13812345678"),
    ("H002", "B1", "2", "502", 2, "site", "S1", "", "2022-11-23 08:00", "13912340002"),
    ("H003", "B1", "2", "601", 1, "site", "S1", "", "2022-11-23 08:00", ""),
    ("H004", "B1", "1", "101", 4, "site", "S1", "", "2022-11-23 08:30", "15012340004"),
    ("H005", "B2", "1", "301", 2, "site", "S2", "", "2022-11-23 09:00", "1381234"),
    ("H006", "B2", "1", "302", 2, "site", "S2", "", "2022-11-23 09:00", "18612340006"),
    ("H007", "B2", "1", "401", 1, "home", "", "1", "2022-11-23 10:00", "13712340007"),
    ("H008", "B3", "1", "201", 3, "site", "S2", "", "2022-11-24 05:30", "13612340008"),
]
UNPLACED = [("H009", "B3", 2, "no capacity", "13512340009")]
BUILDINGS = {
    "B1": ("3号楼", "G1", "幸福小区", "precaution"),
    "B2": ("5号楼", "G1", "幸福小区", "controlled"),
    "B3": ("<b>7号楼</b>", "G2", "和平里", "precaution"),
}


def code_of(household_id: str, area: str = AREA) -> str:
    """The resident code of a household of ``area`` under the tests' secret (what its SMS carries)."""
    from sampler.day.codes import resident_codes

    return str(resident_codes(area, [household_id], CODE_SECRET.encode())[0])


_code = code_of


def _end(start: str) -> str:
    return (pd.Timestamp(start) + pd.Timedelta(minutes=30)).strftime(SLOT_FORMAT)


def plan_frames() -> dict[str, pd.DataFrame]:
    """The seven plan tables with exactly the plan-directory columns."""
    a = pd.DataFrame([
        {"household_id": h, "code": _code(h), "building_id": b, "unit": u, "room": r, "size": s, "mode": m,
         "site_id": site, "team": team, "slot_start": t, "slot_end": _end(t),
         "walk_minutes": 4.5 if m == "site" else "", "over_max_walk": 0, "extra_walk_minutes": 0.0}
        for h, b, u, r, s, m, site, team, t, _ in HOUSEHOLDS
    ])
    cells: dict[tuple[str, str, str, str], list[int]] = {}
    for _h, b, _u, _r, s, m, site, _team, t, _ in HOUSEHOLDS:
        cells.setdefault((b, m, site, t), []).append(s)
    buildings = pd.DataFrame([
        {"building_id": b, "name": BUILDINGS[b][0], "grid": BUILDINGS[b][1], "compound": BUILDINGS[b][2],
         "risk_zone": BUILDINGS[b][3], "mode": m, "site_id": site, "slot_start": t, "slot_end": _end(t),
         "households": len(sizes), "people": sum(sizes)}
        for (b, m, site, t), sizes in sorted(cells.items())
    ])
    slots = slot_labels(dt.datetime(2022, 11, 23, 6), 30, 12)  # 06:00 … 11:30
    load = []
    for sid in ("S1", "S2"):
        for t in slots:
            people = sum(s for _, _, _, _, s, m, site, _, start, _ in HOUSEHOLDS if site == sid and start == t)
            load.append({"site_id": sid, "slot_start": t, "people": people, "capacity": 40})
    home = a[a["mode"] == "home"][["household_id", "building_id", "unit", "room", "size", "team"]].assign(
        stop=1, slot_start=a["slot_start"], slot_end=a["slot_end"], arrival=a["slot_start"], reason="sealed")
    unplaced = pd.DataFrame([{"household_id": h, "building_id": b, "size": s, "reason": why}
                             for h, b, s, why, _ in UNPLACED])
    sites = pd.DataFrame([
        {"site_id": "S1", "name": "二中操场采样点", "lon": 118.32, "lat": 27.03, "tables": 2, "rate": 80.0,
         "open": "06:00", "close": "24:00", "serves": "", "queue_m": 100.0, "slot_capacity": 40},
        {"site_id": "S2", "name": "社区服务中心", "lon": 118.33, "lat": 27.04, "tables": 2, "rate": 80.0,
         "open": "00:00", "close": "24:00", "serves": "", "queue_m": 100.0, "slot_capacity": 40},
    ])
    contacts = pd.DataFrame(
        [{"household_id": h[0], "code": _code(h[0]), "contact": "张三", "phone": h[9]} for h in HOUSEHOLDS]
        + [{"household_id": u[0], "code": _code(u[0]), "contact": "李四", "phone": u[4]} for u in UNPLACED]
    )
    return {"assignments": a, "site_load": pd.DataFrame(load), "buildings": buildings, "home_visits": home,
            "unplaced": unplaced, "sites": sites, "contacts": contacts}


def plan_summary() -> dict[str, Any]:
    """A plan.json for the small plan."""
    people = sum(h[4] for h in HOUSEHOLDS) + sum(u[2] for u in UNPLACED)
    return {
        "area": AREA, "households": len(HOUSEHOLDS) + len(UNPLACED), "people": people,
        "placed_households": len(HOUSEHOLDS), "site_households": 7, "home_households": 1,
        "unplaced_households": 1, "unplaced_people": 2, "over_max_walk_households": 0,
        "objective": 12.5, "lower_bound": 12.0, "gap": 0.04, "violations": 0, "split_households": 0,
        "seed": 0, "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30},
        "walk_minutes": {"mean": 4.5, "p95": 4.5, "max": 4.5},
    }


def write_plan_dir(directory: Path) -> Path:
    """Write the small plan as a plan directory and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in plan_frames().items():
        frame.to_csv(directory / f"{name}.csv", index=False, encoding="utf-8")
    (directory / "plan.json").write_text(json.dumps(plan_summary(), ensure_ascii=False), encoding="utf-8")
    return directory
