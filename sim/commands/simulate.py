"""`sampler simulate SCENARIO --plan PLANDIR -o DIR`: replay a plan with real-world noise."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.commands.ui import (
    console,
    fail_on_input_error,
    input_path_issues,
    seed_and_workers_issues,
    summary_table,
)

if TYPE_CHECKING:
    from sim.replicate import SimResult

__all__ = ["register", "simulate_command"]


def _fmt(figure: dict[str, float | None], unit: str = "", pct: bool = False) -> str:
    mean, ci = figure["mean"], figure["ci95"]
    if mean is None or ci is None:
        return "not reached"
    if pct:
        return f"{mean:.1%} ± {ci:.1%}"
    return f"{mean:,.2f} ± {ci:,.2f}{unit}"


def _rows(result: SimResult) -> list[tuple[str, object]]:
    f = result.summary()["figures"]
    return [
        ("replications", result.replications),
        ("24-h target met", f"{result.target_met} of {result.replications}"),
        ("sampled by window end", _fmt(f["sampled_by_window_end"], pct=True)),
        ("results by window end", _fmt(f["results_by_window_end"], pct=True)),
        ("hours to 95 % / 99 %", f"{_fmt(f['hours_to_95'], ' h')} / {_fmt(f['hours_to_99'], ' h')}"),
        ("last swab", _fmt(f["last_swab_hours"], " h")),
        ("missed people (no-shows, unplaced)", _fmt(f["missed_people"])),
        ("wait mean / p95", f"{_fmt(f['wait_mean_min'], ' min')} / {_fmt(f['wait_p95_min'], ' min')}"),
        ("share waiting > 30 min", _fmt(f["share_wait_over_limit"], pct=True)),
        ("longest queue", _fmt(f["max_queue_m"], " m")),
        ("sites whose queue outgrows its space", _fmt(f["sites_queue_over_space"])),
        ("table utilisation", _fmt(f["utilisation"], pct=True)),
        ("late boxes (> limit to lab)", _fmt(f["late_boxes"])),
    ]


def _default_workers(people: int, reps: int) -> int:
    """All cores, unless the job is so small that starting processes costs more than it saves."""
    from sim.replicate import ProcessExecutor

    return ProcessExecutor().workers if people * reps >= SMALL_JOB_PEOPLE else 1


SMALL_JOB_PEOPLE = 2_000_000  # person-replications below which one process is quicker


def simulate_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    plan: Annotated[Path, typer.Option("--plan", help="Plan directory written by `sampler plan`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the results to.")],
    replications: Annotated[int | None, typer.Option("--replications", "-r",
                                                     help="Replications (default: sim.replications).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Master seed; replication seeds are spawned from it.")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default: all cores for big jobs).")] = None,
    roster: Annotated[Path | None, typer.Option(
        "--roster", help="Roster directory written by `sampler roster` (or its roster.csv): staff the tables "
                         "and registrars as rostered instead of the PPE shift rules.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Replay a plan with real-world noise and check the window target (writes OUT/)."""
    from sampler.errors import COMMAND_LINE, InputError, InputIssue
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.params import load_scenario
    from sampler.planfiles.read import read_plan
    from sim.inputs import prepare
    from sim.output import write_simdir
    from sim.params import sim_params
    from sim.replicate import ProcessExecutor, replicate
    from sim.staffing import read_roster, roster_file, use_roster

    with fail_on_input_error():
        sc = load_scenario(scenario)
        params = sim_params(sc)
        reps = params.replications if replications is None else replications
        problems = seed_and_workers_issues(seed, workers)
        if reps < 1:
            problems.append(InputIssue(COMMAND_LINE, None, "--replications", str(reps), "run at least one replication"))
        problems += input_path_issues(plan)
        if roster is not None and not roster_file(roster).is_file():
            problems.append(InputIssue(str(roster), None, "--roster", str(roster),
                                       "point at a directory written by `sampler roster`, or its roster.csv"))
        if problems:
            raise InputError(problems)
        out_inputs = [*scenario_inputs(sc), plan, *([roster] if roster is not None else [])]
        check_output_directory(out, "simulate", force=force, inputs=out_inputs)
        from sampler.registry.read import load_registry

        registry = load_registry(sc)
        inputs = prepare(sc, registry, read_plan(plan), params)
        staffing = None
        if roster is not None:
            staffing = read_roster(roster, sc, inputs)
            inputs = use_roster(inputs, staffing)
        n_workers = min(workers or _default_workers(inputs.people, reps), reps)
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("replications", total=reps)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done)

            if n_workers > 1:
                with ProcessExecutor(n_workers) as executor:
                    result = replicate(inputs, params, seed, reps, executor, advance)
            else:
                result = replicate(inputs, params, seed, reps, None, advance)
        write_simdir(result, out, sc.area,
                     staffing=staffing.summary(inputs.site_ids) if staffing is not None else None,
                     force=force, inputs=out_inputs)
    rows = _rows(result)
    if staffing is not None:
        rows.insert(1, ("staffing", f"roster {staffing.file}"))
    console.print(summary_table(f"{sc.area}: simulation of {plan} (seed {seed})", rows))
    console.print(f"results in {out}/")
    console.print(result.verdict(), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `sampler simulate` to ``app``."""
    app.command("simulate")(simulate_command)
