"""`sampler plan SCENARIO -o PLANDIR`: plan every household, write the plan directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.cli import console, fail_on_input_error, summary_table

__all__ = ["register"]


def plan_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Plan directory to write.")],
    seed: Annotated[int | None, typer.Option(help="Override planner.seed.")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="Also write plan.xlsx.")] = True,
) -> None:
    """Assign every household to a site and slot, or a home visit; write PLANDIR."""
    from dataclasses import replace

    from sampler.params import load_scenario
    from sampler.planner import make_plan
    from sampler.registry import load_registry

    started = time.perf_counter()
    with fail_on_input_error():
        sc = load_scenario(scenario)
        if seed is not None:
            sc = sc.replace(planner=replace(sc.planner, seed=seed))
        with Progress(TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("reading", total=1.0)
            registry = load_registry(sc)
            bar.update(task, description="planning", completed=0.05)

            def step(stage: str, done: float) -> None:
                bar.update(task, description=stage, completed=0.05 + 0.75 * done)

            plan = make_plan(sc, registry, progress=step)
            bar.update(task, description="writing", completed=0.85)
            plan.write(output, xlsx=xlsx)
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
        ("objective / bound", f"{s['objective']:,.1f} / {s['lower_bound']:,.1f}"),
        ("gap", f"{100 * s['gap']:.3f} %"),
        ("capacity violations", s["violations"]),
        ("wall seconds", f"{time.perf_counter() - started:.2f}"),
        ("written to", str(output)),
    ]
    console.print(summary_table(f"Plan: {s['area']}", rows))
    if s["unplaced_households"]:
        console.print(
            f"[bold red]{s['unplaced_households']:,} households could not be placed[/] — see {output / 'unplaced.csv'}"
        )


def register(app: typer.Typer) -> None:
    """Add the `plan` command."""
    app.command("plan")(plan_command)
