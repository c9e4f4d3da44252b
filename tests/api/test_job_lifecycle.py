"""Jobs die with the service: after `kill -9` or SIGTERM of a real server during a plan job the
worker process is gone, its scratch files are removed, and the restarted service shows the job
failed with no plan stored; job rows move queued → running → succeeded | failed only."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from api.db import session_factory
from api.jobs import JobGone, fail_job, finish_job, progress_job, start_job
from api.models import Job
from tests.api.conftest import PLANNER_KEY
from tests.api.test_live_server import Server

pytest.importorskip("sampler.registry.generate", reason="the city generator has not landed yet")
HOUSEHOLDS = 100_000  # planning, writing and storing this city takes several seconds


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated city big enough that its plan job runs for a few seconds."""
    from sampler.registry.generate import generate_city, write_city

    path = tmp_path_factory.mktemp("city")
    write_city(generate_city(HOUSEHOLDS, seed=1), path)
    return path


def _gone(pid: int) -> bool:
    """Whether the process has exited (a zombie nobody reaps counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def _start_plan_job(server: Server, city: Path) -> tuple[int, int]:
    """Upload the city, start its plan job, wait until a worker runs it: (job id, worker pid)."""
    from api.db import make_engine

    params = "\n".join(line for line in (city / "scenario.yaml").read_text(encoding="utf-8").splitlines()
                       if not line.startswith("registry:"))
    files = {k: (f"{k}.csv", (city / f"{k}.csv").read_bytes()) for k in ("households", "buildings", "sites")}
    with httpx.Client(base_url=server.url, headers={"X-API-Key": PLANNER_KEY}, timeout=120) as c:
        r = c.post("/api/v1/scenarios", files=files, data={"parameters": params})
        assert r.status_code == 201, r.text
        job_id = int(c.post("/api/v1/plans", json={"scenario_id": r.json()["id"]}).json()["id"])
    engine = make_engine(server.env["SAMPLER_DATABASE_URL"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with session_factory(engine)() as session:
                job = session.get(Job, job_id)
                assert job is not None
                if job.status == "running" and job.worker_pid:  # kill as early as possible: the job is quick
                    return job_id, job.worker_pid
                assert job.status in ("queued", "running"), (job.status, job.error)
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError("the plan job did not start")


def _after_restart(server: Server, job_id: int) -> None:
    server.start()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": PLANNER_KEY}, timeout=30) as c:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        assert job["status"] == "failed", job
        assert job["plan_id"] is None and "stopped" in job["error"]
        assert c.get("/api/v1/plans").json()["count"] == 0


def _scratch(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir()) if data_dir.is_dir() else []


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A service on the test database (stopped at the end if still running)."""
    s = Server(database_url, tmp_path / "data")
    s.start()
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.stop()


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_stopped_server_leaves_no_worker_and_a_failed_job(server: Server, city: Path, tmp_path: Path,
                                                          how: str) -> None:
    """Killing or stopping the server mid-job ends the worker; the restarted service shows it failed."""
    job_id, worker = _start_plan_job(server, city)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
    server.proc.wait(timeout=60)
    server.proc = None
    deadline = time.monotonic() + 15
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(worker), f"worker {worker} outlived the server"
    _after_restart(server, job_id)
    assert _scratch(tmp_path / "data") == []  # no households.csv of the killed job left behind


def _job(engine: Engine, status: str = "queued") -> int:
    with session_factory(engine)() as session:
        job = Job(kind="plan", scenario_id=1, params="{}", status=status)
        session.add(job)
        session.commit()
        return job.id


def _status(engine: Engine, job_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(Job.status).where(Job.id == job_id)).scalar_one())


def test_transitions_are_guarded(engine: Engine) -> None:
    """A failed job cannot start, report progress or succeed; a succeeded job cannot fail."""
    gone = _job(engine)
    assert fail_job(engine, gone, "the service stopped")
    with pytest.raises(JobGone):
        start_job(engine, gone)
    with pytest.raises(JobGone), engine.begin() as conn:
        finish_job(conn, gone, plan_id=7)
    assert _status(engine, gone) == "failed"
    job = _job(engine)
    start_job(engine, job)
    with pytest.raises(JobGone):
        start_job(engine, job)  # running → running is not a transition
    progress_job(engine, job, "planning", 0.5)
    with engine.begin() as conn:
        finish_job(conn, job, plan_id=7)
    assert not fail_job(engine, job, "late")
    with pytest.raises(JobGone):
        progress_job(engine, job, "planning", 0.6)
    assert _status(engine, job) == "succeeded"


def test_store_of_a_failed_job_stores_nothing(engine: Engine) -> None:
    """A worker storing a plan for a job already marked failed rolls the whole plan back."""
    from api.storage import store_plan
    from tests.api.plandir import plan_frames, plan_summary

    job = _job(engine)
    start_job(engine, job)
    assert fail_job(engine, job, "the service process stopped before the job finished")
    with pytest.raises(JobGone):
        store_plan(engine, plan_summary(), plan_frames(), job_id=job,
                   before_commit=lambda conn, plan_id: finish_job(conn, job, plan_id=plan_id))
    from api.models import Plan

    with engine.connect() as conn:
        assert conn.execute(select(Plan.id)).first() is None
    assert _status(engine, job) == "failed"


def test_scratch_sweep_removes_only_marked_dirs_of_dead_processes(tmp_path: Path) -> None:
    """At start, marked scratch of a dead process goes; live ones, unmarked dirs and files stay."""
    import json
    import socket
    import subprocess
    import sys

    from api.scratch import MARKER, scratch_dir, sweep_scratch

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    data = tmp_path / "data"
    for name, pid in (("job1-abc", dead), ("job2-def", os.getppid())):
        (data / name).mkdir(parents=True)
        (data / name / "households.csv").write_text("secret")
        (data / name / MARKER).write_text(json.dumps({"host": socket.gethostname(), "pid": pid}))
    (data / "mine").mkdir()
    (data / "mine" / "households.csv").write_text("not ours")
    (data / "notes.txt").write_text("not ours")
    with scratch_dir(data, "job3-") as live:
        assert oct(live.stat().st_mode & 0o777) == "0o700"
        assert sweep_scratch(data) == 1
        assert live.is_dir()
    assert sorted(p.name for p in data.iterdir()) == ["job2-def", "mine", "notes.txt"]


def _niceness() -> int:
    return os.nice(0)


def test_job_workers_run_below_the_http_workers() -> None:
    """Job workers run at BACKGROUND_NICE: when a plan job and residents' lookups compete for the
    cores, the lookups come first (benchmarks/api_attack.py)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from api.jobs import BACKGROUND_NICE, worker_start

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=worker_start,
                             initargs=(os.getpid(),)) as pool:
        assert pool.submit(_niceness).result(timeout=60) >= BACKGROUND_NICE
