"""Background jobs: status and progress."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import func, select

from api.deps import SessionDep, ViewerDep
from api.models import Job
from api.schemas import JobPublic, JobsPublic

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=JobsPublic)
def list_jobs(session: SessionDep, _caller: ViewerDep, limit: int = Query(100, ge=1, le=1000),
              offset: int = Query(0, ge=0, le=10**9)) -> JobsPublic:
    """Jobs, newest first."""
    rows = session.scalars(select(Job).order_by(Job.id.desc()).limit(limit).offset(offset)).all()
    count = session.scalar(select(func.count()).select_from(Job)) or 0
    return JobsPublic(data=[JobPublic.model_validate(r) for r in rows], count=count)


@router.get("/{job_id}", response_model=JobPublic)
def get_job(session: SessionDep, _caller: ViewerDep, job_id: int = Path(ge=1, le=2**31 - 1)) -> JobPublic:
    """A job's status, stage, progress (0..1), error and, when done, its plan id."""
    job = session.get(Job, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such job")
    return JobPublic.model_validate(job)
