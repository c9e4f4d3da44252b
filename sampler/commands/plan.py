"""`sampler plan SCENARIO -o PLANDIR`: plan every household, write the plan directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.commands.replan import made_room_text
from sampler.commands.ui import console, fail_on_input_error, print_warnings, summary_table

__all__ = ["register"]


def plan_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Plan directory to write.")],
    seed: Annotated[int | None, typer.Option(help="Override planner.seed.")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="Also write plan.xlsx.")] = True,
    parts: Annotated[int | None, typer.Option(
        "--parts", help="Split the city into N compact parts of about equal people and plan them in parallel.")] = None,
    split_by: Annotated[str | None, typer.Option(
        "--split-by", help="Split by a building column: district (街道), grid (网格) or compound (小区).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Worker processes for the parts (default: all cores; 1 = this process).")] = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="Plan the parts on a Dask cluster: scheduler address, e.g. tcp://host:8786.")] = None,
    dask_timeout: Annotated[float, typer.Option(
        "--dask-timeout", help="Seconds to wait for the Dask scheduler.")] = 10.0,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
    previous: Annotated[Path | None, typer.Option(
        "--previous", help="Plan of the previous round: keep each household's site and slot where still feasible.")] = None,
) -> None:
    """Assign every household to a site and slot, or a home visit; write PLANDIR.

    A city too large for one run is split with --parts N or --split-by COLUMN and the parts are
    planned in parallel (--workers N, or --dask tcp://host:8786), then merged into one plan.
    With --previous PLANDIR the next round keeps each household's site and slot where still
    feasible and applies what changed (zones sealed or lifted, sites, tables); plan.json reports
    the share unchanged (`stability`).
    """
    from dataclasses import replace

    from sampler.executors import opened_executor
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.params import load_scenario
    from sampler.plan.planner import make_plan
    from sampler.plan.split import check_options, partition, plan_in_parts
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry

    started = time.perf_counter()
    with fail_on_input_error():
        column = check_options(parts, split_by, workers, dask)
        split = parts is not None or column is not None
        if previous is not None:
            _check_previous(previous, split)
        sc = load_scenario(scenario)
        if seed is not None:
            sc = sc.replace(planner=replace(sc.planner, seed=seed))
        inputs = [*scenario_inputs(sc), *([previous] if previous else [])]
        check_output_directory(out, "plan", force=force, inputs=inputs)
        with Progress(TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("reading", total=1.0)
            registry = load_registry(sc)
            print_warnings(registry.warnings)
            bar.update(task, description="planning", completed=0.05)

            def step(stage: str, done: float) -> None:
                bar.update(task, description=stage, completed=0.05 + 0.75 * done)

            if previous is not None:
                from sampler.plan.replan import plan_round
                from sampler.planfiles.read import read_plan

                plan = plan_round(sc, registry, read_plan(previous), progress=step)
            elif split:
                bar.update(task, description="splitting")
                part = partition(sc, registry, parts=parts, column=column)
                with opened_executor(workers, dask, dask_timeout) as executor:
                    plan = plan_in_parts(sc, registry, part, executor, progress=step)
            else:
                plan = make_plan(sc, registry, progress=step)
            bar.update(task, description="writing", completed=0.85)
            write_plan(plan, out, xlsx=xlsx, force=force, inputs=inputs)
            bar.update(task, completed=1.0)
    s = plan.summary
    rows: list[tuple[str, object]] = [
        ("area", s["area"]),
        ("households / people", f"{s['households']:,} / {s['people']:,}"),
        ("at sites", s["site_households"]),
        ("home visits", s["home_households"]),
        ("unplaced", s["unplaced_households"]),
        ("walk > max", s["over_max_walk_households"]),
        ("walk mean / p95 (min)", f"{s['walk_minutes']['mean']} / {s['walk_minutes']['p95']}"),
        ("last slot ends", s["window"]["last_slot_used"] or "-"),
        *_bound_rows(s),
        ("capacity violations", s["violations"]),
    ]
    if "split" in s:
        sp, wc = s["split"], s["split"]["walk_cost"]
        how = "bisection by people" if sp["method"] == "bisection" else f"by {sp['column']}"
        rows += [
            ("parts", f"{sp['parts']:,} ({how}; largest {sp['people_max_over_mean']:.2f} × mean people)"),
            ("split walk cost", f"{wc['households_nearest_site_in_other_part']:,} households nearest site in another "
                                f"part; +{wc['extra_walk_person_minutes']:,.0f} person-min"),
        ]
    rows += [
        ("wall seconds", f"{time.perf_counter() - started:.2f}"),
        ("written to", str(out)),
    ]
    wide, short = s.get("widening"), s.get("shortfall", {"tables": 0, "sites": []})
    if wide:
        rows.insert(6, ("placed by widening", f"{wide['households']:,} (≤ {wide['hard_reach_minutes']:g} min walk; "
                                              f"+{wide['extra_walk_minutes_total']:,.1f} min over the limit in all, "
                                              f"max +{wide['extra_walk_minutes_max']:g})"))
    if short["tables"]:
        rows.insert(-2, ("tables missing", f"{short['tables']:,} at {len(short['sites']):,} sites "
                                           "(plan.json shortfall)"))
    console.print(summary_table(f"Plan: {s['area']}", rows))
    for x in short["sites"][:5]:
        console.print(f"  short: {x['site']} ({x['site_id']}) {x['slot_start']} – {x['slot_end']}: "
                      f"+{x['tables']} tables for {x['households']:,} households")
    if s["unplaced_households"]:
        console.print(
            f"[bold red]{s['unplaced_households']:,} households could not be placed[/] — see {out / 'unplaced.csv'}"
        )


def _check_previous(previous: Path, split: bool) -> None:
    from sampler.errors import COMMAND_LINE, InputError, InputIssue

    if split:
        raise InputError([InputIssue(COMMAND_LINE, None, "--previous", str(previous),
                                     "plan a round in one run: --previous cannot be combined with --parts/--split-by")])
    if not previous.is_dir():
        raise InputError([InputIssue(str(previous), None, "--previous", str(previous),
                                     "point at the previous round's plan directory (written by `sampler plan`)")])


def _bound_rows(s: dict[str, Any]) -> list[tuple[str, object]]:
    """Objective, bound and gap; a round reports the bound of its re-planned part and its stability."""
    if "round" not in s:
        return [("objective / bound", f"{s['objective']:,.1f} / {s['lower_bound']:,.1f}"),
                ("gap", f"{100 * s['gap']:.3f} %")]
    r, part = s["round"], s["round"]["replanned"]
    gap = "-" if part["gap"] is None else f"{100 * part['gap']:.3f} %"
    return [
        ("stability (unchanged)", f"{100 * s['stability']:.2f} % ({r['kept']:,} of {r['households']:,})"),
        ("moved / home / new", f"{r['moved']:,} / {r['home']:,} / {r['new']:,}"),
        ("made room: kept moved / placed", made_room_text(r)),
        ("objective (whole plan)", f"{s['objective']:,.1f}"),
        ("re-planned: households / gap", f"{part['households']:,} / {gap}"),
    ]


def register(app: typer.Typer) -> None:
    """Add the `plan` command."""
    app.command("plan")(plan_command)
