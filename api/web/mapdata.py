"""What the console's plan map draws: sites with their planned people and capacity (from the
plan's own tables) and buildings with their first slot, placed by the coordinates of the
scenario's stored buildings file. No tile server, no personal data."""

from __future__ import annotations

import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from api.deps import Caller, EngineDep, require_roles
from api.models import PLAN_TABLES, Plan, ScenarioFile

__all__ = ["MapData", "router"]

router = APIRouter(prefix="/web", tags=["web"])
OfficeDep = Annotated[Caller, Depends(require_roles("planner", "viewer"))]
MAX_BUILDINGS = 20_000  # a browser scatter stays smooth; larger areas are drawn from their first rows


class MapSite(BaseModel):
    site_id: str
    name: str
    lon: float
    lat: float
    people: int
    capacity: int


class MapBuilding(BaseModel):
    building_id: str
    name: str
    lon: float
    lat: float
    slot_start: str
    count: int


class MapData(BaseModel):
    sites: list[MapSite]
    buildings: list[MapBuilding]
    buildings_total: int


def _building_coords(engine: Engine, scenario_id: int | None) -> dict[str, tuple[float, float]]:
    """building_id -> (lon, lat) from the scenario's uploaded buildings file ({} when none)."""
    from sampler.errors import InputError
    from sampler.registry.read import read_table

    if scenario_id is None:
        return {}
    with engine.connect() as conn:
        row = conn.execute(select(ScenarioFile.filename, ScenarioFile.content)
                           .where(ScenarioFile.scenario_id == scenario_id, ScenarioFile.role == "buildings")).first()
    if row is None:
        return {}
    suffix = FsPath(row.filename).suffix.lower() if FsPath(row.filename).suffix.lower() in (".csv", ".xlsx") else ".csv"
    with tempfile.TemporaryDirectory(prefix="sampler-map-") as tmp:
        path = FsPath(tmp) / f"buildings{suffix}"
        path.write_bytes(row.content)
        try:
            frame = read_table(path, "buildings", row.filename)
        except (InputError, ValueError, KeyError):
            return {}
    import pandas as pd

    lon = pd.to_numeric(frame["lon"], errors="coerce")
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    ok = lon.notna() & lat.notna()
    return dict(zip(frame["building_id"][ok].astype(str).tolist(),
                    zip(lon[ok].tolist(), lat[ok].tolist(), strict=True), strict=True))


def _map(engine: Engine, plan_id: int, scenario_id: int | None) -> MapData:
    s, load, b = PLAN_TABLES["sites"], PLAN_TABLES["site_load"], PLAN_TABLES["buildings"]
    with engine.connect() as conn:
        totals = {r.site_id: (int(r.people or 0), int(r.capacity or 0)) for r in conn.execute(
            select(load.c.site_id, func.sum(load.c.people).label("people"), func.sum(load.c.capacity).label("capacity"))
            .where(load.c.plan_id == plan_id).group_by(load.c.site_id))}
        sites = [MapSite(site_id=r.site_id, name=r.name or r.site_id, lon=float(r.lon or 0), lat=float(r.lat or 0),
                         people=totals.get(r.site_id, (0, 0))[0], capacity=totals.get(r.site_id, (0, 0))[1])
                 for r in conn.execute(select(s.c.site_id, s.c.name, s.c.lon, s.c.lat).where(s.c.plan_id == plan_id)
                                       .order_by(s.c.row))]
        first: dict[str, Any] = {}
        for r in conn.execute(select(b.c.building_id, b.c.name, b.c.slot_start).where(b.c.plan_id == plan_id)
                              .order_by(b.c.row)):
            got = first.get(r.building_id)
            if got is None:
                first[r.building_id] = [r.name or r.building_id, r.slot_start or "", 1]
            else:
                got[1] = min(got[1], r.slot_start or got[1])
                got[2] += 1
    coords = _building_coords(engine, scenario_id)
    buildings = [MapBuilding(building_id=k, name=v[0], lon=coords[k][0], lat=coords[k][1], slot_start=v[1], count=v[2])
                 for k, v in first.items() if k in coords]
    return MapData(sites=sites, buildings=buildings[:MAX_BUILDINGS], buildings_total=len(buildings))


@router.get("/plans/{plan_id}/map", response_model=MapData)
async def plan_map(engine: EngineDep, _caller: OfficeDep,
                   plan_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> MapData:
    """Sites (planned people, capacity) and buildings (first slot) with coordinates, for the console's map."""
    def build() -> MapData:
        with engine.connect() as conn:
            row = conn.execute(select(Plan.id, Plan.scenario_id).where(Plan.id == plan_id)).first()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
        return _map(engine, plan_id, row.scenario_id)
    return await run_in_threadpool(build)
