"""Typed plans end to end: what joining and storing a plan in memory saves against the text round trip.

Run:  .venv/bin/python benchmarks/typed_plan.py [--households 20000] [--repeat 3] [--postgres URL]

On a generated city (made once under out/bench/, not timed) this plans the area once, then times,
each ``--repeat`` times (best of), both ways of the two steps that used to go through text:

1. what-if's plan job joining the plan with the registry: through the plan tables as text
   (``plan_frames(plan)`` -> `PlanFiles` -> `sim.inputs.prepare`, as before) and from the arrays
   (`sim.inputs.from_plan`, now); it checks that both give the same SimInputs;
2. the API plan job storing the plan: through a scratch plan directory (``write_plan`` ->
   `read_plan` -> `store_plan`, as before) and from the plan in memory (``plan_frames(plan)`` and the
   workbook into a buffer -> `store_plan`, now); it checks that the stored tables, summary and
   workbook are the same;

and finally runs one whole API plan job (`api.jobs.run_plan_job`: restore, load, plan, store) on
SQLite (``--job-only``: just that, which also runs on a tree from before). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.plan_scale import ensure_city  # noqa: E402


def _best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _same_inputs(a: Any, b: Any) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "plan_sha256":
            continue
        if isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def _stored(engine: Any, plan_id: int) -> tuple[str, dict[str, list[tuple[Any, ...]]], bytes]:
    from sqlalchemy import select

    from api.models import PLAN_TABLES, Plan, PlanBlob

    with engine.connect() as conn:
        summary = json.loads(conn.execute(select(Plan.summary).where(Plan.id == plan_id)).scalar_one())
        summary.pop("timing", None)
        tables = {name: [tuple(r[2:]) for r in conn.execute(select(t).where(t.c.plan_id == plan_id)
                                                              .order_by(t.c.row)).all()]
                  for name, t in PLAN_TABLES.items()}
        book = conn.execute(select(PlanBlob.content).where(PlanBlob.plan_id == plan_id)).scalar_one()
    return json.dumps(summary, sort_keys=True), tables, book


def _add_scenario(engine: Any, city: Path) -> int:
    import yaml

    from api.db import session_factory
    from api.models import Scenario as ScenarioRow
    from api.models import ScenarioFile

    mapping = yaml.safe_load((city / "scenario.yaml").read_text(encoding="utf-8"))
    with session_factory(engine)() as session:
        row = ScenarioRow(name="bench", area=str(mapping.get("area", "")),
                          parameters=json.dumps(mapping, ensure_ascii=False, default=str))
        session.add(row)
        session.flush()
        for role in ("households", "buildings", "sites"):
            session.add(ScenarioFile(scenario_id=row.id, role=role, filename=f"{role}.csv",
                                     content=(city / f"{role}.csv").read_bytes()))
        session.commit()
        return int(row.id)


def _add_job(engine: Any, scenario_id: int) -> int:
    from api.db import session_factory
    from api.models import Job

    with session_factory(engine)() as session:
        job = Job(kind="plan", scenario_id=scenario_id, params="{}", status="queued")
        session.add(job)
        session.commit()
        return int(job.id)


def _store_both(plan: Any, urls: list[tuple[str, str]], tmp: str, repeat: int) -> list[tuple[str, str, float, float, str]]:
    """Store the plan through a scratch plan directory and from memory on each database; time both."""
    from api.db import make_engine, run_migrations
    from api.storage import store_plan
    from sampler.planfiles.read import read_plan
    from sampler.planfiles.write import plan_frames, write_plan, write_workbook

    rows = []
    for backend, url in urls:
        engine = make_engine(url)
        run_migrations(engine)
        ids: dict[str, list[int]] = {"before": [], "after": []}

        def via_directory(engine: Any = engine, ids: dict[str, list[int]] = ids) -> None:
            with tempfile.TemporaryDirectory(dir=tmp, prefix="job-") as scratch:
                write_plan(plan, Path(scratch) / "plan", xlsx=True)
                files = read_plan(Path(scratch) / "plan")
                workbook = (Path(scratch) / "plan" / "plan.xlsx").read_bytes()
                frames = {n: getattr(files, n) for n in ("assignments", "site_load", "buildings", "home_visits",
                                                         "unplaced", "sites", "contacts")}
                ids["before"].append(store_plan(engine, files.summary, frames, workbook=workbook))

        def in_memory(engine: Any = engine, ids: dict[str, list[int]] = ids) -> None:
            book = io.BytesIO()
            write_workbook(plan, {}, book)
            ids["after"].append(store_plan(engine, plan.summary, plan_frames(plan), workbook=book.getvalue()))

        before, _ = _best(repeat, via_directory)
        after, _ = _best(repeat, in_memory)
        same = _stored(engine, ids["before"][0]) == _stored(engine, ids["after"][0])
        rows.append(("API plan job: tables + workbook -> database", backend, before, after, "yes" if same else "NO"))
        engine.dispose()
    return rows


def _whole_job(city: Path, tmp: str, repeat: int) -> tuple[float, str]:
    """Best wall time of ``repeat`` whole plan jobs (`api.jobs.run_plan_job`) on SQLite, and the last status."""
    from sqlalchemy import select

    from api.db import make_engine, run_migrations
    from api.jobs import run_plan_job
    from api.models import Job

    url = f"sqlite:///{tmp}/job.db"
    engine = make_engine(url)
    run_migrations(engine)
    scenario_id = _add_scenario(engine, city)
    status = ""

    def one() -> None:
        nonlocal status
        job_id = _add_job(engine, scenario_id)
        run_plan_job(url, job_id, tmp)
        with engine.connect() as conn:
            state, error = conn.execute(select(Job.status, Job.error).where(Job.id == job_id)).one()
        status = state + (f" ({error})" if error else "")

    whole, _ = _best(repeat, one)
    engine.dispose()
    return whole, status


def main() -> None:  # noqa: PLR0915
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--job-only", action="store_true", help="only time whole API plan jobs (runs on older trees too)")
    ap.add_argument("--postgres", default="", help="also store on this PostgreSQL URL (a scratch schema is used)")
    args = ap.parse_args()

    from sqlalchemy import create_engine, text

    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.planfiles.read import PlanFiles
    from sampler.planfiles.write import plan_frames
    from sampler.registry.read import load_registry

    city = ensure_city(args.households, args.seed)
    scenario = load_scenario(city / "scenario.yaml")
    registry = load_registry(scenario)
    plan = make_plan(scenario, registry)
    print(f"city: {len(registry.households):,} households, {len(registry.sites)} sites "
          f"({city}); best of {args.repeat}", flush=True)
    rows: list[tuple[str, str, float, float, str]] = []

    def through_text() -> Any:
        from sim.inputs import prepare

        files = PlanFiles(directory=Path("<in memory>"), summary=plan.summary, **plan_frames(plan))
        return prepare(plan.scenario, plan.registry, files)

    if args.job_only:
        with tempfile.TemporaryDirectory(prefix="typed-plan-") as tmp:
            whole, status = _whole_job(city, tmp, args.repeat)
        print(f"one whole API plan job on SQLite (restore, load, plan, store), best of {args.repeat}: "
              f"{whole:.2f} s, {status}")
        return
    before, a = _best(args.repeat, through_text)
    from sim.inputs import from_plan

    after, b = _best(args.repeat, lambda: from_plan(plan))
    rows.append(("what-if plan job: join plan + registry", "—", before, after, "yes" if _same_inputs(a, b) else "NO"))

    with tempfile.TemporaryDirectory(prefix="typed-plan-") as tmp:
        urls = [("SQLite", f"sqlite:///{tmp}/bench.db")]
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        if args.postgres:
            admin = create_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres else "?"
            urls.append(("PostgreSQL", f"{args.postgres}{sep}options=-csearch_path%3D{schema}"))
        try:
            rows += _store_both(plan, urls, tmp, args.repeat)
        finally:
            if args.postgres:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        whole, status = _whole_job(city, tmp, args.repeat)

    print()
    print(f"Typed plans: {len(registry.households):,} households (seed {args.seed})")
    print()
    print("| step | database | through text s (before) | in memory s (now) | speed-up | same result |")
    print("|---|---|---:|---:|---:|---|")
    for step, backend, b_s, a_s, same_text in rows:
        print(f"| {step} | {backend} | {b_s:.3f} | {a_s:.3f} | {b_s / a_s:.1f}× | {same_text} |")
    print()
    print(f"one whole API plan job on SQLite (restore, load, plan, store), best of {args.repeat}: "
          f"{whole:.2f} s, {status}")


if __name__ == "__main__":
    main()
