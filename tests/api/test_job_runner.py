"""Background jobs: a crashed or failing worker marks its job failed with the reason; jobs left
running by a dead service process are marked failed at startup; a plan job's own errors are kept."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine

from api.db import session_factory
from api.jobs import JobRunner, recover_jobs, run_plan_job
from api.models import Job
from tests.api import jobfuncs


def _job(engine: Engine, **values: object) -> int:
    with session_factory(engine)() as session:
        job = Job(kind="plan", scenario_id=12345, params="{}", **values)
        session.add(job)
        session.commit()
        return job.id


def _wait(engine: Engine, job_id: int, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.status in ("succeeded", "failed") or time.monotonic() > deadline:
                return job
        time.sleep(0.1)


def test_crashed_worker_marks_job_failed(engine: Engine, database_url: str, tmp_path: Path) -> None:
    """A worker process that dies leaves its job failed with a reason, and the runner still works."""
    runner = JobRunner(engine, database_url, tmp_path, workers=1)
    try:
        first = _job(engine, status="queued")
        runner.submit(first, jobfuncs.crash)
        job = _wait(engine, first)
        assert job.status == "failed" and "worker process died" in job.error
        second = _job(engine, status="queued")
        runner.submit(second, jobfuncs.explode)
        job = _wait(engine, second)
        assert job.status == "failed" and job.error == "ValueError: boom"
    finally:
        runner.shutdown()


def test_plan_job_error_is_recorded(engine: Engine, database_url: str, tmp_path: Path) -> None:
    """A plan job whose scenario is gone fails with a readable reason and no plan."""
    job_id = _job(engine, status="queued")
    run_plan_job(database_url, job_id, str(tmp_path))
    job = _wait(engine, job_id, timeout=1)
    assert job.status == "failed" and job.error and job.plan_id is None


def test_startup_fails_jobs_of_dead_processes(engine: Engine) -> None:
    """Jobs left running by a service process that no longer exists are marked failed; others stay."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = f"{socket.gethostname()}:{done.stdout.strip()}"
    orphan = _job(engine, status="running", owner=dead)
    remote = _job(engine, status="running", owner="another-host:1")
    finished = _job(engine, status="succeeded", owner=dead)
    assert recover_jobs(engine) == 1
    assert _wait(engine, orphan, 1).status == "failed"
    assert "stopped before the job finished" in _wait(engine, orphan, 1).error
    with session_factory(engine)() as session:
        assert session.get(Job, remote).status == "running"  # type: ignore[union-attr]
        assert session.get(Job, finished).status == "succeeded"  # type: ignore[union-attr]
