"""Simulations: run the simulator on a stored plan (a background job), read results and charts."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import PlannerDep, SessionDep, ViewerDep, newest_page, plan_with_scenario
from api.models import Job, Simulation, SimulationFile
from api.schemas import PLAIN, JobPublic

__all__ = ["SimulationCreate", "SimulationPublic", "SimulationsPublic", "router"]

router = APIRouter(tags=["simulations"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
_TYPES = {"png": "image/png", "csv": "text/csv; charset=utf-8", "json": "application/json"}


class SimulationCreate(BaseModel):
    """Simulate a plan: the master seed and the number of replications (default: sim section)."""

    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    replications: int | None = Field(default=None, ge=1, le=200)


class SimulationPublic(BaseModel):
    """A finished simulation: its summary.json and the files that can be downloaded."""

    id: int
    plan_id: int
    job_id: int | None
    seed: int
    replications: int
    summary: dict[str, object]
    files: list[str]


class SimulationsPublic(BaseModel):
    data: list[SimulationPublic]
    count: int


def _public(session: SessionDep, row: Simulation) -> SimulationPublic:
    names = session.scalars(select(SimulationFile.name).where(SimulationFile.simulation_id == row.id)).all()
    return SimulationPublic(id=row.id, plan_id=row.plan_id, job_id=row.job_id, seed=row.seed,
                            replications=row.replications, summary=json.loads(row.summary), files=sorted(names))


@router.post("/plans/{plan_id}/simulations", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def create_simulation(plan_id: Id, body: SimulationCreate, request: Request, session: SessionDep,
                      _caller: PlannerDep) -> JobPublic:
    """Start simulating a plan in a worker process; poll the job, then read /simulations."""
    from api.jobs import owner_id
    from api.simjobs import run_simulation_job

    plan = plan_with_scenario(session, plan_id, "simulated again")
    job = Job(kind="simulation", status="queued", stage="queued", scenario_id=plan.scenario_id, plan_id=plan_id,
              params=json.dumps(body.model_dump()), owner=owner_id())
    session.add(job)
    session.commit()
    request.app.state.jobs.submit(job.id, run_simulation_job)
    return JobPublic.model_validate(job)


@router.get("/simulations", response_model=SimulationsPublic)
def list_simulations(session: SessionDep, _caller: ViewerDep,
                     plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> SimulationsPublic:
    """Simulations, newest first, optionally of one plan."""
    query = select(Simulation)
    if plan_id is not None:
        query = query.where(Simulation.plan_id == plan_id)
    rows, count = newest_page(session, query, Simulation.id, limit, offset)
    return SimulationsPublic(data=[_public(session, r) for r in rows], count=count)


@router.get("/simulations/{simulation_id}", response_model=SimulationPublic)
def get_simulation(simulation_id: Id, session: SessionDep, _caller: ViewerDep) -> SimulationPublic:
    """One simulation's summary (means with 95 % CIs, target probability) and file list."""
    row = session.get(Simulation, simulation_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such simulation")
    return _public(session, row)


@router.get("/simulations/{simulation_id}/files/{name}", response_class=Response,
            responses={200: {"content": {"image/png": {}, "text/csv": {}}, "description": "chart or table"}})
def get_simulation_file(simulation_id: Id, name: Annotated[str, Path(max_length=100, pattern=PLAIN)], session: SessionDep,
                        _caller: ViewerDep) -> Response:
    """A chart (coverage.png, queues.png) or table (coverage.csv, sites.csv) of a simulation."""
    blob = session.get(SimulationFile, (simulation_id, name))
    if blob is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such simulation file")
    return Response(blob.content, media_type=_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream"))
