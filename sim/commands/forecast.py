"""`sampler forecast SCENARIO --plan PLANDIR --checkins FILE --at TIME -o DIR`: the rest of the day."""

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
    from sim.forecast import ForecastResult

__all__ = ["forecast_command", "register"]


def _rows(result: ForecastResult) -> list[tuple[str, object]]:
    sites = result.sites()
    late = [s for s in sites if s["late"]]
    grids = result.grids()
    people = float(result.grid_people.sum())
    cover = sum(g["expected_coverage"] * g["people"] for g in grids) / people if people else 1.0
    slow = [c for c in result.calibration if c.observed_rate is not None and c.scale > 1.05]
    return [
        ("预测时刻", result._clock(result.at)),
        ("仿真次数", result.replications),
        ("已用采样记录（之后的记录不计）", f"{result.checkins_used:,}（{result.checkins_after_at:,}）"),
        ("剩余待采人数", f"{int(result.remaining_people.sum()):,}"),
        ("窗口结束预计覆盖率", f"{cover:.1%}"),
        ("慢于计划的采样点", len(slow)),
        ("来不及的采样点", f"{len(late)} / {len(sites)}"),
    ]


def forecast_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    plan: Annotated[Path, typer.Option("--plan", help="Plan directory written by `sampler plan`.")],
    checkins: Annotated[Path, typer.Option("--checkins", help="Check-ins so far: the sampling system's export "
                                           "(CSV/XLSX, as `sampler checkins import` reads it).")],
    at: Annotated[str, typer.Option("--at", help="Time of the forecast (2022-11-23 12:00, 12:00 or RFC 3339; "
                                     "without offset: the window's zone). Later check-ins are left out.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the forecast to.")],
    replications: Annotated[int, typer.Option("--replications", "-r", help="Replications of the rest of the day.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Master seed; replication seeds are spawned from it.")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default: all cores for big jobs).")] = None,
    late_below: Annotated[float, typer.Option(
        "--late-below", help="Flag a site 来不及 when its probability of finishing in the window is below this.")] = 0.5,
    prior_people: Annotated[float, typer.Option(
        "--prior-people", help="Weight of the planned rate, in people checked in (Gamma prior).")] = 50.0,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Forecast the rest of the sampling day from the check-ins so far (writes OUT/)."""
    from sampler.day.files import read_checkins
    from sampler.errors import COMMAND_LINE, InputError, InputIssue
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.params import load_scenario
    from sampler.planfiles.read import read_plan
    from sim.commands.simulate import _default_workers
    from sim.forecast import (
        ForecastParams,
        checkins_from_rows,
        forecast,
        forecast_day,
        parse_at,
        write_forecast,
    )
    from sim.params import sim_params
    from sim.replicate import ProcessExecutor

    with fail_on_input_error():
        sc = load_scenario(scenario)
        params = sim_params(sc)
        problems = seed_and_workers_issues(seed, workers)
        if replications < 1:
            problems.append(InputIssue(COMMAND_LINE, None, "--replications", str(replications),
                                       "run at least one replication"))
        if not 0 < late_below <= 1:
            problems.append(InputIssue(COMMAND_LINE, None, "--late-below", f"{late_below:g}", "give a share in (0, 1]"))
        if prior_people <= 0:
            problems.append(InputIssue(COMMAND_LINE, None, "--prior-people", f"{prior_people:g}", "give a weight > 0"))
        problems += input_path_issues(plan, checkins)
        if problems:
            raise InputError(problems)
        out_inputs = [*scenario_inputs(sc), plan, checkins]
        check_output_directory(out, "forecast", force=force, inputs=out_inputs)
        from sampler.registry.read import load_registry

        registry = load_registry(sc)
        day = forecast_day(sc, registry, read_plan(plan), params)
        minute = parse_at(at, day)
        rows = read_checkins(checkins, tz=day.start.tzinfo or day.start.astimezone().tzinfo)  # type: ignore[arg-type]
        done = checkins_from_rows(day, rows, str(checkins))
        fparams = ForecastParams(late_below=late_below, prior_people=prior_people)
        n_workers = min(workers or _default_workers(day.inputs.people, replications), replications)
        with Progress(TextColumn("forecasting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("replications", total=replications)

            def advance(n: int, total: int) -> None:
                bar.update(task, completed=n)

            if n_workers > 1:
                with ProcessExecutor(n_workers) as executor:
                    result = forecast(day, done, minute, params, seed, replications, fparams, executor, advance)
            else:
                result = forecast(day, done, minute, params, seed, replications, fparams, None, advance)
        write_forecast(result, out, force=force, inputs=out_inputs)
    console.print(summary_table(f"{sc.area}：剩余时段预测（种子 {seed}）", _rows(result)))
    late = [s for s in result.sites() if s["late"]]
    if late:
        from rich.table import Table

        table = Table(title="来不及的采样点")
        for col in ("站点", "剩余人数", "实测/计划速率(人/时)", "预计完成", "窗口内完成概率"):
            table.add_column(col, justify="left" if col == "站点" else "right")
        frame = result.sites_frame().set_index("站点编号")
        for s in late[:20]:
            row = frame.loc[s["site_id"]]
            observed = "—" if s["observed_rate"] is None else f"{s['observed_rate']:.0f}"
            table.add_row(s["name"], f"{s['remaining_people']:,}", f"{observed} / {s['planned_rate']:.0f}",
                          str(row["预计完成"]), f"{s['p_finish_in_window']:.0%}")
        console.print(table)
    console.print(f"results in {out}/")
    console.print(result.verdict(), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `sampler forecast` to ``app``."""
    app.command("forecast")(forecast_command)
