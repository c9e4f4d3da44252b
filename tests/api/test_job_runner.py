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
from sampler.planfiles.write import write_plan
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


def _stored(engine: Engine, plan_id: int) -> tuple[dict, dict[str, list[tuple]], bytes]:
    """A stored plan as the database holds it: summary (without timing), every table's rows, workbook."""
    import json

    from sqlalchemy import select

    from api.models import PLAN_TABLES, Plan, PlanBlob

    with engine.connect() as conn:
        summary = json.loads(conn.execute(select(Plan.summary).where(Plan.id == plan_id)).scalar_one())
        summary.pop("timing")
        tables = {name: [tuple(r[2:]) for r in conn.execute(select(t).where(t.c.plan_id == plan_id)
                                                              .order_by(t.c.row)).all()]
                  for name, t in PLAN_TABLES.items()}
        book = conn.execute(select(PlanBlob.content).where(PlanBlob.plan_id == plan_id)).scalar_one()
    return summary, tables, book


def test_plan_job_stores_what_the_plan_directory_holds(engine: Engine, database_url: str, tmp_path: Path) -> None:
    """The job stores the plan from memory: the same rows, summary and workbook bytes as storing the
    plan directory `sampler plan` writes for the same scenario (home visits and text with commas included)."""
    import json

    import pandas as pd
    import yaml

    from api.models import Scenario as ScenarioRow
    from api.models import ScenarioFile
    from api.storage import store_plan
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.planfiles.read import read_plan
    from sampler.registry.generate import generate_city, write_city
    from sampler.registry.read import load_registry

    city = tmp_path / "city"
    write_city(generate_city(1500, seed=5), city)
    households = pd.read_csv(city / "households.csv", dtype=str, keep_default_na=False)
    households.loc[:2, "unit"] = ['1,甲', '2"乙', "=3"]  # text that CSV must quote, and a formula-like one
    households.to_csv(city / "households.csv", index=False)
    mapping = yaml.safe_load((city / "scenario.yaml").read_text(encoding="utf-8"))
    with session_factory(engine)() as session:
        row = ScenarioRow(name="t", area=mapping["area"], parameters=json.dumps(mapping, ensure_ascii=False))
        session.add(row)
        session.flush()
        for role in ("households", "buildings", "sites"):
            session.add(ScenarioFile(scenario_id=row.id, role=role, filename=f"{role}.csv",
                                     content=(city / f"{role}.csv").read_bytes()))
        session.commit()
        scenario_id = row.id
    with session_factory(engine)() as session:
        job = Job(kind="plan", scenario_id=scenario_id, params="{}", status="queued")
        session.add(job)
        session.commit()
        job_id = job.id
    run_plan_job(database_url, job_id, str(tmp_path / "data"))
    job = _wait(engine, job_id, timeout=1)
    assert job.status == "succeeded", job.error

    scenario = load_scenario(city / "scenario.yaml")
    plan = make_plan(scenario, load_registry(scenario))
    write_plan(plan, tmp_path / "plan")
    files = read_plan(tmp_path / "plan")
    frames = {n: getattr(files, n) for n in ("assignments", "site_load", "buildings", "home_visits", "unplaced",
                                             "sites", "contacts")}
    via_files = store_plan(engine, files.summary, frames, workbook=(tmp_path / "plan" / "plan.xlsx").read_bytes())
    stored, expected = _stored(engine, job.plan_id), _stored(engine, via_files)
    assert stored[0] == expected[0]
    assert stored[1].keys() == expected[1].keys()
    for name in stored[1]:
        assert stored[1][name] == expected[1][name], name
    assert stored[2] == expected[2]
    assert len(stored[1]["home_visits"]) and any("," in r[2] or "," in r[3] for r in stored[1]["assignments"])
    assert not list((tmp_path / "data").iterdir())  # no scratch left behind
