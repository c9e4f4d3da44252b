"""Background jobs in worker processes, tracked in the ``jobs`` table.

The API process submits a job id to a `JobRunner` (a spawn-context ProcessPoolExecutor); the worker
opens its own database connection, records progress on the job row and stores the result in one
transaction together with the job's ``succeeded`` status.

A job row only moves ``queued → running → succeeded | failed``; every transition is a
compare-and-set on the status (`start_job`, `progress_job`, `finish_job`, `fail_job`), so a worker
whose job was meanwhile marked failed (the service restarted, or stopped) cannot store its result:
`finish_job` raises `JobGone` inside the result's transaction and nothing is stored.

Workers die with the service: each worker runs a watchdog thread that notices when its parent
process is gone (``kill -9`` of the server) and exits at once, removing its scratch directory; on
a graceful stop (SIGTERM) `JobRunner.shutdown` terminates the workers and marks their jobs failed.
At startup, jobs left queued or running by a service process that no longer exists are marked
failed, so nobody waits for them forever.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from api.db import make_engine, session_factory
from api.models import Job, Plan, ScenarioFile, utcnow
from api.models import Scenario as ScenarioRow
from api.scratch import current_scratch, pid_alive, scratch_dir
from api.sections import register_all
from sampler.errors import InputError

__all__ = [
    "JobGone",
    "JobRunner",
    "error_text",
    "fail_job",
    "finish_job",
    "owner_id",
    "progress_job",
    "recover_jobs",
    "restore_scenario",
    "run_plan_job",
    "start_job",
]

log = logging.getLogger(__name__)
JobFunction = Callable[[str, int, str], None]
UNFINISHED = ("queued", "running")
WATCHDOG_SECONDS = 0.2


class JobGone(Exception):
    """The job is no longer ``running`` (marked failed by the service, or deleted): stop, store nothing."""


def owner_id() -> str:
    """``host:pid`` of this service process, recorded on the jobs it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _execute(engine: Engine | Connection, statement: Any) -> int:
    if isinstance(engine, Connection):
        return int(engine.execute(statement).rowcount)
    with engine.begin() as conn:
        return int(conn.execute(statement).rowcount)


def start_job(engine: Engine, job_id: int) -> None:
    """``queued → running`` for this worker, or `JobGone` if the job is not queued any more."""
    moved = _execute(engine, update(Job).where(Job.id == job_id, Job.status == "queued").values(
        status="running", stage="reading", progress=0.01, worker_pid=os.getpid(), started_at=utcnow()))
    if moved != 1:
        raise JobGone(f"job {job_id} is not queued any more")


def progress_job(engine: Engine, job_id: int, stage: str, progress: float) -> None:
    """Record the stage and progress of a running job, or `JobGone` if it is not running."""
    moved = _execute(engine, update(Job).where(Job.id == job_id, Job.status == "running").values(
        stage=stage[:40], progress=progress))
    if moved != 1:
        raise JobGone(f"job {job_id} is not running any more")


def finish_job(conn: Connection, job_id: int, **values: Any) -> None:
    """``running → succeeded`` inside the transaction that stores the result; `JobGone` otherwise
    (the caller's transaction then rolls back, so nothing of the result is stored)."""
    moved = conn.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
        status="succeeded", stage="done", progress=1.0, finished_at=utcnow(), **values)).rowcount
    if moved != 1:
        raise JobGone(f"job {job_id} was marked failed before its result was stored")


def fail_job(engine: Engine, job_id: int, reason: str) -> bool:
    """``queued | running → failed`` with the reason; False if the job had already finished."""
    return _execute(engine, update(Job).where(Job.id == job_id, Job.status.in_(UNFINISHED)).values(
        status="failed", error=reason[:4000], finished_at=utcnow())) == 1


def recover_jobs(engine: Engine) -> int:
    """Mark failed every unfinished job whose service process on this host is gone; return how many."""
    host = socket.gethostname()
    failed = 0
    with engine.begin() as conn:
        rows = conn.execute(select(Job.id, Job.owner).where(Job.status.in_(UNFINISHED))).all()
        for job_id, owner in rows:
            owner_host, _, pid = owner.rpartition(":")
            if owner_host == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                failed += conn.execute(update(Job).where(Job.id == job_id, Job.status.in_(UNFINISHED)).values(
                    status="failed", finished_at=utcnow(),
                    error=f"the service process {owner} stopped before the job finished; start it again")).rowcount
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
    crs = (mapping.pop("registry", None) or {}).get("crs", "wgs84")  # the files' coordinate system stays
    scenario = scenario_from_mapping(mapping, f"scenario {scenario_id}", directory)
    return scenario.replace(registry=RegistryFiles(**names, crs=crs))


class JobProgress:
    """A job's progress, written at most twice a second (and always at the end): ``stage`` at
    ``low + span × fraction``."""

    def __init__(self, engine: Engine, job_id: int, low: float, span: float) -> None:
        self.engine, self.job_id, self.low, self.span = engine, job_id, low, span
        self._last = 0.0

    def __call__(self, stage: str, fraction: float, final: bool = False) -> None:
        now = time.monotonic()
        if now - self._last >= 0.5 or final or fraction >= 1.0:
            self._last = now
            progress_job(self.engine, self.job_id, stage, round(self.low + self.span * fraction, 3))

    def counter(self, stage: str) -> Callable[[int, int], None]:
        """The same as a (done, total) callback, as the simulator and what-if runs report."""
        return lambda done, total: self(stage, done / max(total, 1), final=done == total)


@dataclass(frozen=True)
class StoredPlanJob:
    """What a job on a stored plan works with: its row's plan and parameters, the plan's scenario
    restored into a scratch directory (``tmp``) and its registry."""

    engine: Engine
    job_id: int
    plan_id: int
    params: dict[str, Any]
    tmp: Path
    scenario: Any
    registry: Any
    scenario_id: int | None = None


def run_stored_plan_job(database_url: str, job_id: int, data_dir: str, kind: str,
                        body: Callable[[StoredPlanJob], None]) -> None:
    """Worker frame of a job on a stored plan (simulation, forecast, what-if): start the job, read
    its plan and parameters, restore the plan's scenario and registry into a scratch directory and
    run ``body``, which stores the result with `finish_job`. A job marked failed meanwhile is left
    as it is; any other error fails the job with its text."""
    engine = make_engine(database_url)
    try:
        from sampler.registry.read import load_registry

        start_job(engine, job_id)
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.plan_id is not None
            plan = session.get(Plan, job.plan_id)
            if plan is None or plan.scenario_id is None:
                raise LookupError(f"plan {job.plan_id} is gone or was not made from a stored scenario")
            plan_id, scenario_id, params = plan.id, plan.scenario_id, json.loads(job.params)
        with scratch_dir(Path(data_dir), f"{kind}{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, tmp)
            body(StoredPlanJob(engine, job_id, plan_id, params, tmp, scenario, load_registry(scenario), scenario_id))
    except JobGone as exc:
        log.warning("%s job %s abandoned: %s", kind, job_id, exc)
    except Exception as exc:
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()


def store_job_plan(engine: Engine, job_id: int, plan: Any, scenario_id: int | None, parent_id: int | None = None) -> None:
    """Store a job's plan (its tables and workbook, built in memory) with the job's success, in
    one transaction. A re-plan's or round's parent is named by its stored plan id (not the scratch
    folder it was read from)."""
    from api.storage import store_plan
    from sampler.planfiles.write import plan_frames, write_workbook

    if parent_id is not None:
        for block in ("replan", "round"):
            if block in plan.summary:
                parent = {k: v for k, v in plan.summary[block].get("parent", {}).items() if k != "directory"}
                plan.summary[block]["parent"] = {**parent, "plan_id": parent_id}
    progress_job(engine, job_id, "storing", 0.85)
    frames = plan_frames(plan)  # the plan-directory tables, straight from the plan's arrays
    book = io.BytesIO()
    write_workbook(plan, {}, book)

    def done(conn: Connection, plan_id: int) -> None:
        finish_job(conn, job_id, plan_id=plan_id)

    store_plan(engine, plan.summary, frames, scenario_id=scenario_id, job_id=job_id, workbook=book.getvalue(),
               before_commit=done, parent_id=parent_id)


def run_plan_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a plan job: read the scenario, plan it, store the plan with the job's success.

    The stored tables and workbook are built from the plan in memory (the same tables and bytes as
    its plan directory); no plan directory is written. Only the registry files are restored to a
    scratch directory, for the registry reader.
    """
    engine = make_engine(database_url)
    try:
        from sampler.plan.planner import make_plan
        from sampler.registry.read import load_registry

        start_job(engine, job_id)
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.scenario_id is not None
            scenario_id, params = job.scenario_id, json.loads(job.params)
        with scratch_dir(Path(data_dir), f"job{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, tmp)
            if params.get("seed") is not None:
                scenario = scenario.replace(planner=replace(scenario.planner, seed=int(params["seed"])))
            registry = load_registry(scenario)
            previous = params.get("previous_plan_id")
            if previous is not None:  # the next round, from the previous round's stored plan
                from api.storage import read_plan_files
                from sampler.plan.replan import plan_round

                plan = plan_round(scenario, registry, read_plan_files(engine, int(previous)),
                                  progress=JobProgress(engine, job_id, 0.05, 0.75))
            else:
                plan = make_plan(scenario, registry, progress=JobProgress(engine, job_id, 0.05, 0.75))
            store_job_plan(engine, job_id, plan, scenario_id, int(previous) if previous is not None else None)
    except JobGone as exc:
        log.warning("job %s abandoned: %s", job_id, exc)
    except Exception as exc:
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()


def _exit_now(code: int) -> None:
    """Remove this worker's scratch directories and exit without running anything else."""
    for path in current_scratch():
        shutil.rmtree(path, ignore_errors=True)
    os._exit(code)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_SECONDS)
        if os.getppid() != parent_pid:  # re-parented: the service process is gone
            _exit_now(1)


BACKGROUND_NICE = 10
"""Niceness of job workers and upload parsers: residents' lookups and check-ins in the HTTP workers
come first when the cores are busy (a plan job or a 50,000-household upload is CPU-bound for seconds)."""


def background_priority() -> None:
    """Lower this process's CPU priority to `BACKGROUND_NICE` (no-op where not permitted)."""
    with contextlib.suppress(OSError):  # a platform without nice
        os.nice(max(0, BACKGROUND_NICE - os.nice(0)))


def worker_start(parent_pid: int) -> None:
    """Initializer of every job worker: die with the service process, clean up on SIGTERM.

    A watchdog thread polls the parent pid (PR_SET_PDEATHSIG is not used: Linux sends it when the
    *thread* that spawned the worker ends, and the pool spawns from short-lived request threads).
    """
    if os.getppid() != parent_pid:
        _exit_now(1)
    background_priority()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: _exit_now(143))
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


class JobRunner:
    """Runs job functions in worker processes and marks jobs failed when a worker dies."""

    def __init__(self, engine: Engine, database_url: str, data_dir: Path, workers: int = 1) -> None:
        self.engine = engine
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=worker_start, initargs=(os.getpid(),))
        return self._pool

    def submit(self, job_id: int, function: JobFunction = run_plan_job) -> None:
        """Start ``function(database_url, job_id, data_dir)`` in a worker process."""
        with self._lock:
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
                with self._lock:
                    self._pool = None
                reason = "the worker process died (crash or out of memory) while running the job"
            else:
                reason = error_text(exc)
            fail_job(self.engine, job_id, reason)

    def worker_pids(self) -> list[int]:
        """Process ids of the live job workers."""
        pool = self._pool
        return sorted(pool._processes) if pool is not None else []

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop the service's jobs: mark every unfinished one failed, terminate the workers (SIGKILL
        after ``grace`` seconds), so no worker outlives the service or stores a result after it."""
        with self._lock:
            pool, self._pool = self._pool, None
        for job_id in list(self._futures):
            fail_job(self.engine, job_id, "the service stopped during the job; start the job again")
        if pool is None:
            return
        processes = list(pool._processes.values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
