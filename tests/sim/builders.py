"""Small SimInputs built in memory for simulator tests (no plan directory involved)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sampler.model import BuildingTable, HouseholdTable, Registry, Site
from sim.inputs import SimInputs

__all__ = ["PLAN_FILES", "inputs", "registry", "write_plan_dir"]


def _ints(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def inputs(
    households: Sequence[tuple[str, int, float, float, int]],
    tables: Sequence[int] = (1,),
    queue_m: float = 100.0,
    hours: tuple[float, float] = (0.0, 1440.0),
    home: Sequence[tuple[str, int, float, int, int]] = (),
    unplaced: Sequence[tuple[str, int]] = (),
    zones: Sequence[int] | None = None,
    pooling: tuple[int, int, int] = (10, 5, 0),
    window_hours: float = 24.0,
) -> SimInputs:
    """A SimInputs from tuples.

    ``households``: (id, site, slot_start, slot_end, size); ``home``: (id, team, slot_start,
    building, size); ``unplaced``: (id, size); ``zones``: zone code per site household.
    """
    n, n_sites = len(households), len(tables)
    zone = _ints(zones if zones is not None else [0] * n)
    return SimInputs(
        window_start="2022-11-23 06:00", window_hours=window_hours,
        site_ids=tuple(f"S{i + 1}" for i in range(n_sites)),
        site_names=tuple(f"site {i + 1}" for i in range(n_sites)),
        tables=_ints(tables), queue_m=np.full(n_sites, queue_m),
        open_at=np.full(n_sites, hours[0]), close_at=np.full(n_sites, hours[1]),
        ids=np.array([h[0] for h in households], dtype=object), site=_ints([h[1] for h in households]),
        slot_start=_floats([h[2] for h in households]), slot_end=_floats([h[3] for h in households]),
        size=_ints([h[4] for h in households]), elderly=np.zeros(n, dtype=np.int64),
        children=np.zeros(n, dtype=np.int64), zone=zone,
        home_ids=np.array([h[0] for h in home], dtype=object), home_team=_ints([h[1] for h in home]),
        home_slot_start=_floats([h[2] for h in home]), home_building=_ints([h[3] for h in home]),
        home_size=_ints([h[4] for h in home]), home_elderly=np.zeros(len(home), dtype=np.int64),
        home_children=np.zeros(len(home), dtype=np.int64), home_zone=np.full(len(home), 2, dtype=np.int64),
        unplaced_ids=np.array([u[0] for u in unplaced], dtype=object), unplaced_size=_ints([u[1] for u in unplaced]),
        unplaced_zone=np.zeros(len(unplaced), dtype=np.int64),
        people=sum(h[4] for h in households) + sum(h[4] for h in home) + sum(u[1] for u in unplaced),
        pooling=pooling,
    )


def registry(hashes: dict[str, str] | None = None) -> Registry:
    """Four households in three buildings (one sealed) and two sites."""
    bt = BuildingTable(
        id=np.array(["B1", "B2", "B3"], dtype=object), name=np.array(["1号楼", "2号楼", "3号楼"], dtype=object),
        grid=np.array(["G1"] * 3, dtype=object), compound=np.array(["C"] * 3, dtype=object),
        lon=np.array([118.0, 118.001, 118.002]), lat=np.array([27.0, 27.0, 27.0]),
        zone=np.array([0, 1, 2], dtype=np.int64),
    )
    n = 5
    ht = HouseholdTable(
        id=np.array(["H1", "H2", "H3", "H4", "H5"], dtype=object), building=np.array([0, 0, 1, 2, 0], dtype=np.int64),
        unit=np.array(["1"] * n, dtype=object), room=np.array(["101", "102", "201", "301", "103"], dtype=object),
        size=np.array([3, 2, 1, 2, 4], dtype=np.int64), elderly=np.array([1, 0, 1, 0, 0], dtype=np.int64),
        children=np.array([1, 0, 0, 0, 1], dtype=np.int64), contact=np.array(["张"] * n, dtype=object),
        phone=np.array([""] * n, dtype=object), needs=np.zeros(n, dtype=np.int64),
        preferred=np.zeros(n, dtype=np.int64),
    )
    sites = (Site("S1", "二中", 118.0, 27.0, 2, 80.0), Site("S2", "社区中心", 118.002, 27.0, 1, 80.0, queue_m=30.0))
    return Registry(ht, bt, sites, hashes or {"households": "aa", "buildings": "bb", "sites": "cc"})


PLAN_FILES = {
    "assignments.csv": (
        "household_id,code,building_id,unit,room,size,mode,site_id,team,slot_start,slot_end,walk_minutes,over_max_walk,extra_walk_minutes\n"
        "H1,2345ABCD,B1,1,101,3,site,S1,,2022-11-23 06:00,2022-11-23 06:30,2.5,0,0.0\n"
        "H2,2345ABCE,B1,1,102,2,site,S1,,2022-11-23 06:00,2022-11-23 06:30,2.5,0,0.0\n"
        "H3,2345ABCF,B2,1,201,1,site,S2,,2022-11-23 07:00,2022-11-23 07:30,3.0,0,0.0\n"
        "H4,2345ABCG,B3,1,301,2,home,,1,2022-11-23 08:00,2022-11-23 08:30,0.0,0,0.0\n"
    ),
    "site_load.csv": "site_id,slot_start,people,capacity\nS1,2022-11-23 06:00,5,68\nS2,2022-11-23 07:00,1,34\n",
    "buildings.csv": (
        "building_id,name,grid,compound,risk_zone,mode,site_id,slot_start,slot_end,households,people\n"
        "B1,1号楼,G1,C,precaution,site,S1,2022-11-23 06:00,2022-11-23 06:30,2,5\n"
    ),
    "home_visits.csv": (
        "household_id,building_id,unit,room,size,team,stop,slot_start,slot_end,arrival,reason\n"
        "H4,B3,1,301,2,1,1,2022-11-23 08:00,2022-11-23 08:30,2022-11-23 08:00,sealed\n"
    ),
    "unplaced.csv": "household_id,building_id,size,reason\nH5,B1,4,no capacity\n",
    "sites.csv": (
        "site_id,name,lon,lat,tables,rate,open,close,serves,queue_m,slot_capacity\n"
        "S1,二中,118.0,27.0,2,80.0,06:00,22:00,,100.0,68\n"
        "S2,社区中心,118.002,27.0,1,80.0,07:00,20:00,,30.0,34\n"
    ),
    "contacts.csv": "household_id,code,contact,phone\nH1,2345ABCD,张,\n",
}


def write_plan_dir(directory: Path, inputs_hashes: dict[str, str] | None = None) -> Path:
    """A hand-written plan directory (docs/formats.md) for `registry()`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in PLAN_FILES.items():
        (directory / name).write_text(text, encoding="utf-8")
    summary = {"area": "测试街道", "inputs": inputs_hashes or {"households": "aa", "buildings": "bb", "sites": "cc"}}
    (directory / "plan.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return directory
