"""`sampler roster SCENARIO --staff staff.csv [--plan PLANDIR] -o DIR`: PPE shift roster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]


def roster_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    staff: Annotated[Path, typer.Option("--staff", help="Staff file (CSV or XLSX): staff_id, name, role, site_id, earliest, latest.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the roster into.")],
    plan: Annotated[Path | None, typer.Option("--plan", help="Plan directory: staff the tables it needs, a tail and one table through the opening hours.")] = None,
    max_ppe_hours: Annotated[float | None, typer.Option(help="Longest stint in PPE (default 4).")] = None,
    min_rest_hours: Annotated[float | None, typer.Option(help="Rest between stints (default 1).")] = None,
    max_total_hours: Annotated[float | None, typer.Option(help="Most hours per person (default 10).")] = None,
    min_stint_hours: Annotated[float | None, typer.Option(help="Shortest stint (default 2).")] = None,
    registrars_per_table: Annotated[int | None, typer.Option(help="Registrars per table (default 1; 0 = none).")] = None,
    tail_slots: Annotated[int | None, typer.Option(help="With --plan: keep each slot's tables this many slots longer (default 1).")] = None,
    min_open_tables: Annotated[int | None, typer.Option(help="With --plan: tables kept open while a planned site is open (default 1).")] = None,
    stagger: Annotated[bool | None, typer.Option("--stagger/--no-stagger", help="Stagger hand-overs (default on).")] = None,
    seed: Annotated[int | None, typer.Option(help="CP-SAT seed (default 0).")] = None,
    max_solve_seconds: Annotated[float | None, typer.Option(help="Wall-clock limit per solved group.")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="Also write roster.xlsx.")] = True,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Build a PPE shift roster that staffs every needed table; list the slots nobody can staff."""
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.params import load_scenario
    from sampler.planfiles.read import read_plan
    from sampler.registry.read import load_registry
    from sampler.roster.params import roster_params
    from sampler.roster.rules import build_roster, read_staff

    started = time.perf_counter()
    with fail_on_input_error():
        sc = load_scenario(scenario)
        inputs = [*scenario_inputs(sc), staff, *([plan] if plan is not None else [])]
        check_output_directory(out, "roster", force=force, inputs=inputs)
        params = roster_params(
            sc, max_ppe_hours=max_ppe_hours, min_rest_hours=min_rest_hours, max_total_hours=max_total_hours,
            min_stint_hours=min_stint_hours, registrars_per_table=registrars_per_table, tail_slots=tail_slots,
            min_open_tables=min_open_tables, stagger=stagger,
            seed=seed, max_solve_seconds=max_solve_seconds)
        with Progress(TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("reading", total=1.0)
            registry = load_registry(sc)
            people = read_staff(staff, sc, [s.id for s in registry.sites])
            plan_files = read_plan(plan) if plan is not None else None

            def step(stage: str, done: float) -> None:
                bar.update(task, description=stage, completed=0.1 + 0.8 * done)

            roster = build_roster(sc, registry, people, params, plan=plan_files, progress=step)
            bar.update(task, description="writing", completed=0.95)
            roster.write(out, xlsx=xlsx, force=force, inputs=inputs)
            bar.update(task, completed=1.0)
    s = roster.summary()
    h = s["hours_per_person"]
    rows: list[tuple[str, object]] = [
        ("area", s["area"]),
        ("positions (person-slots)", s["positions"]),
        ("filled", s["filled"]),
        ("unstaffed", s["unstaffed"]),
        ("people used / available", f"{s['people_used']:,} / {s['people']:,}"),
        ("stints / hand-overs", f"{s['stints']:,} / {s['hand_overs']:,}"),
        ("hours per person min / mean / max", f"{h['min']:g} / {h['mean']:g} / {h['max']:g}"),
        ("solver", f"{s['status']} in {s['groups']} group(s){' (decomposed)' if s['decomposed'] else ''}"),
        ("wall seconds", f"{time.perf_counter() - started:.2f}"),
        ("written to", str(out)),
    ]
    console.print(summary_table(f"Roster: {s['area']}", rows))
    if s["unstaffed"]:
        console.print(f"[bold red]{s['unstaffed_hours']:g} position-hours cannot be staffed[/] "
                      f"({s['unstaffed_rows']:,} site-slot-role rows) — see {out / 'unstaffed.csv'}")


def register(app: typer.Typer) -> None:
    """Add the `roster` command."""
    app.command("roster")(roster_command)
