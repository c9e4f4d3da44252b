"""Background jobs in worker processes, tracked in the ``jobs`` table.

The API process submits a job id to a `JobRunner` (a spawn-context ProcessPoolExecutor); the worker
opens its own database connection, records progress on the job row and stores the result in one
transaction together with the job's ``succeeded`` status. A worker that raises marks the job
failed with the reason; a worker that dies is noticed by the API process (its future fails) and
the job is marked failed there. At startup, jobs left queued or running by a service process that
no longer exists are marked failed, so nobody waits for them forever.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import socket
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from api.db import make_engine, session_factory
from api.models import Job, ScenarioFile, utcnow
from api.models import Scenario as ScenarioRow
from api.sections import register_all
from sampler.errors import InputError

__all__ = ["JobRunner", "error_text", "fail_job", "mark_job", "owner_id", "recover_jobs", "restore_scenario", "run_plan_job"]

log = logging.getLogger(__name__)
JobFunction = Callable[[str, int, str], None]


def owner_id() -> str:
    """``host:pid`` of this service process, recorded on the jobs it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_job(engine: Engine | Connection, job_id: int, **values: Any) -> None:
    """Update a job row (in its own transaction when given an engine)."""
    statement = update(Job).where(Job.id == job_id).values(**values)
    if isinstance(engine, Connection):
        engine.execute(statement)
        return
    with engine.begin() as conn:
        conn.execute(statement)


def fail_job(engine: Engine, job_id: int, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running")))
                     .values(status="failed", error=reason[:4000], finished_at=utcnow()))


def recover_jobs(engine: Engine) -> int:
    """Mark failed every unfinished job whose service process on this host is gone; return how many."""
    host = socket.gethostname()
    failed = 0
    with engine.begin() as conn:
        rows = conn.execute(select(Job.id, Job.owner).where(Job.status.in_(("queued", "running")))).all()
        for job_id, owner in rows:
            owner_host, _, pid = owner.rpartition(":")
            if owner_host == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                conn.execute(update(Job).where(Job.id == job_id).values(
                    status="failed", finished_at=utcnow(),
                    error=f"the service process {owner} stopped before the job finished; start it again"))
                failed += 1
    return failed


def error_text(exc: BaseException) -> str:
    if isinstance(exc, InputError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def restore_scenario(engine: Engine, scenario_id: int, directory: Path) -> Any:
    """Write a stored scenario's registry files to ``directory`` and build its Scenario."""
    from sampler.params import RegistryFiles, scenario_from_mapping

    register_all()  # a job worker is a process of its own: it reads the sections the upload checked
    with session_factory(engine)() as session:
        row = session.get(ScenarioRow, scenario_id)
        if row is None:
            raise LookupError(f"scenario {scenario_id} was deleted")
        names = {}
        for file in session.scalars(select(ScenarioFile).where(ScenarioFile.scenario_id == scenario_id)):
            (directory / file.filename).write_bytes(file.content)
            names[file.role] = file.filename
        mapping = json.loads(row.parameters)
    mapping.pop("registry", None)
    scenario = scenario_from_mapping(mapping, f"scenario {scenario_id}", directory)
    return scenario.replace(registry=RegistryFiles(**names))


def run_plan_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a plan job: read the scenario, plan it, store the plan with the job's success.

    The stored tables and workbook are built from the plan in memory (the same tables and bytes as
    its plan directory); no plan directory is written. Only the registry files are restored to a
    scratch directory, for the registry reader.
    """
    engine = make_engine(database_url)
    try:
        from api.storage import store_plan
        from sampler.plan.planner import make_plan
        from sampler.planfiles.write import plan_frames, write_workbook
        from sampler.registry.read import load_registry

        mark_job(engine, job_id, status="running", stage="reading", progress=0.01,
                 worker_pid=os.getpid(), started_at=utcnow())
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.scenario_id is not None
            scenario_id, params = job.scenario_id, json.loads(job.params)
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=f"job{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, Path(tmp))
            if params.get("seed") is not None:
                scenario = scenario.replace(planner=replace(scenario.planner, seed=int(params["seed"])))
            registry = load_registry(scenario)
            last = [0.0]

            def progress(stage: str, done: float) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5 or done >= 1.0:
                    last[0] = now
                    mark_job(engine, job_id, stage=stage[:40], progress=round(0.05 + 0.75 * done, 3))

            plan = make_plan(scenario, registry, progress=progress)
            mark_job(engine, job_id, stage="storing", progress=0.85)
            frames = plan_frames(plan)  # the plan-directory tables, straight from the plan's arrays
            book = io.BytesIO()
            write_workbook(plan, {}, book)

            def done(conn: Connection, plan_id: int) -> None:
                mark_job(conn, job_id, status="succeeded", stage="done", progress=1.0, plan_id=plan_id,
                         finished_at=utcnow())

            store_plan(engine, plan.summary, frames, scenario_id=scenario_id, job_id=job_id,
                       workbook=book.getvalue(), before_commit=done)
    except Exception as exc:
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()


class JobRunner:
    """Runs job functions in worker processes and marks jobs failed when a worker dies."""

    def __init__(self, engine: Engine, database_url: str, data_dir: Path, workers: int = 1) -> None:
        self.engine = engine
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[int, Future[None]] = {}

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def submit(self, job_id: int, function: JobFunction = run_plan_job) -> None:
        """Start ``function(database_url, job_id, data_dir)`` in a worker process."""
        try:
            future = self._executor().submit(function, self.database_url, job_id, str(self.data_dir))
        except (BrokenProcessPool, RuntimeError):
            self._pool = None
            future = self._executor().submit(function, self.database_url, job_id, str(self.data_dir))
        self._futures[job_id] = future
        future.add_done_callback(lambda f: self._finished(job_id, f))

    def _finished(self, job_id: int, future: Future[None]) -> None:
        self._futures.pop(job_id, None)
        exc = future.exception() if not future.cancelled() else None
        if future.cancelled():
            fail_job(self.engine, job_id, "the job was cancelled when the service stopped")
        elif exc is not None:
            if isinstance(exc, BrokenProcessPool):
                self._pool = None
                reason = "the worker process died (crash or out of memory) while running the job"
            else:
                reason = error_text(exc)
            fail_job(self.engine, job_id, reason)

    def shutdown(self) -> None:
        """Stop the workers; queued jobs are cancelled (and marked failed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
