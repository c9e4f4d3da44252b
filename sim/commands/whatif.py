"""`sampler whatif`: sweeps of staff levels, the minimum staffing for a target, and minus one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.commands.ui import console, fail_on_input_error, seed_and_workers_issues, summary_table
from sampler.errors import COMMAND_LINE, InputError, InputIssue
from sim.whatif.axes import AXES

if TYPE_CHECKING:
    from sim.whatif.output import WhatifReport

__all__ = ["register", "whatif_command"]

MODES = ("search", "sweep", "both")
DEFAULT_RANGE = {"tables": "0.5:1.5:0.1"}


def _ranges(specs: list[str], defaults: dict[str, str], source: str) -> dict[str, list[float]]:
    from sim.whatif.axes import parse_range

    problems: list[InputIssue] = []
    ranges: dict[str, list[float]] = {}
    texts: dict[str, tuple[str, str]] = {k: (v, source) for k, v in defaults.items()}
    if specs:
        texts = {}
    for spec in specs:
        axis, sep, text = spec.partition("=")
        if not sep:
            problems.append(InputIssue(COMMAND_LINE, None, "--staff-range", spec,
                                       f"write AXIS=START:STOP:STEP or AXIS=v1,v2 with AXIS one of {', '.join(AXES)}"))
            continue
        if axis.strip() in texts:
            problems.append(InputIssue(COMMAND_LINE, None, "--staff-range", spec, "give each axis once"))
            continue
        texts[axis.strip()] = (text, COMMAND_LINE)
    for axis, (text, src) in texts.items():
        try:
            ranges[axis] = parse_range(axis, str(text), src)
        except InputError as exc:
            problems.extend(exc.issues)
    if problems:
        raise InputError(problems)
    return ranges


def whatif_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the results to.")],
    staff_range: Annotated[list[str] | None, typer.Option(
        "--staff-range", help="AXIS=START:STOP:STEP or AXIS=v1,v2,... (repeat); axes: "
        + "; ".join(f"{k}: {v}" for k, v in AXES.items()))] = None,
    staffing: Annotated[Path | None, typer.Option(
        "--staffing", help="Base staffing per site (CSV/XLSX: site_id, tables[, registrars]).")] = None,
    target_prob: Annotated[float | None, typer.Option(help="Probability of meeting the window to reach (default 0.95).")] = None,
    max_p95_wait: Annotated[float | None, typer.Option(help="Largest acceptable p95 wait, minutes (default 30).")] = None,
    max_share_over_limit: Annotated[float | None, typer.Option(
        help="Largest acceptable share of people waiting over the limit (default 1 = not checked).")] = None,
    mode: Annotated[str, typer.Option(help="search (minimum staffing), sweep (every level) or both.")] = "search",
    replications: Annotated[int | None, typer.Option("--replications", "-r", help="Replications per level (default 10).")] = None,
    seed: Annotated[int, typer.Option(help="Master seed; every level runs the same replication seeds.")] = 0,
    minus_one_sites: Annotated[int | None, typer.Option(help="Busiest sites to check for losing one team (default 10).")] = None,
    workers: Annotated[int | None, typer.Option(help="Local worker processes (default: all cores; 1 = this process).")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:8786) to run the jobs on.")] = None,
    chart: Annotated[bool, typer.Option("--chart/--no-chart", help="Write whatif.png.")] = True,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Find the staff that meets the window target; sweep staff levels; check losing one team."""
    from sampler.executors import opened_executor
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.params import load_scenario
    from sim.params import sim_params
    from sim.whatif.levels import make_base, read_base_staffing
    from sim.whatif.output import write_whatif
    from sim.whatif.params import whatif_params
    from sim.whatif.run import run_whatif

    started = time.perf_counter()
    with fail_on_input_error():
        sc = load_scenario(scenario)
        params = sim_params(sc)
        wparams = whatif_params(sc, {"target_prob": target_prob, "max_p95_wait_min": max_p95_wait,
                                     "max_share_over_limit": max_share_over_limit, "replications": replications,
                                     "minus_one_sites": minus_one_sites})
        problems: list[InputIssue] = [InputIssue(sc.source, None, f"whatif.{f}", v, fix) for f, v, fix in wparams.check()]
        if mode not in MODES:
            problems.append(InputIssue(COMMAND_LINE, None, "--mode", mode, f"use one of {', '.join(MODES)}"))
        problems += seed_and_workers_issues(seed, workers)
        try:
            ranges = _ranges(list(staff_range or []), wparams.ranges or DEFAULT_RANGE, sc.source)
        except InputError as exc:
            problems.extend(exc.issues)
            ranges = {}
        if problems:
            raise InputError(problems)
        out_inputs = [*scenario_inputs(sc), *([staffing] if staffing is not None else [])]
        check_output_directory(out, "whatif", force=force, inputs=out_inputs)
        from sampler.registry.read import load_registry

        registry = load_registry(sc)
        base_tables, base_registrars = (read_base_staffing(staffing, registry) if staffing is not None
                                        else (None, None))
        base = make_base(sc, registry, params, base_tables, base_registrars)
        with opened_executor(workers, dask) as ex, Progress(
                TextColumn("what-if levels"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True) as bar:
            task = bar.add_task("levels", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            label = f"dask {dask}" if dask else f"{getattr(ex, 'workers', 1)} local worker(s)"
            report = run_whatif(sc, registry, params, wparams, seed, mode, ranges, base, ex, advance, label)
        write_whatif(report, registry, out, chart=chart, force=force, inputs=out_inputs)
    _print(report, registry, out, time.perf_counter() - started)


def _print(report: WhatifReport, registry: object, out: Path, seconds: float) -> None:
    w = report.wparams
    rows: list[tuple[str, object]] = [
        ("target", f"P(window met) ≥ {w.target_prob:.0%}, p95 wait ≤ {w.max_p95_wait_min:g} min"),
        ("levels evaluated / full grid", f"{len(report.rows)} / {report.full_sweep_levels}"),
        ("simulations run (minus one)", f"{report.simulations:,} ({report.minus_one_simulations:,})"),
        ("plans made", report.plans),
    ]
    if report.mode != "sweep":
        rows.append(("simulations saved vs full sweep", max(report.simulations_saved, 0)))
    m = report.minimum
    if m is not None and m.found and m.best is not None:
        lv, best = m.best.level, m.best
        rows += [
            ("minimum staff on duty", lv.staff),
            ("  table teams / registrars", f"{sum(lv.tables)} / {sum(lv.registrars)}"),
            ("  home-visit teams / relief per site", f"{lv.home_teams} / {lv.relief}"),
            ("  P(window met), p95 wait", f"{best.probability:.0%}, {best.figure('wait_p95_min'):.1f} min"),
            ("bottleneck sites", ", ".join(m.bottlenecks[:3])),
        ]
        if m.fewer_at_bottleneck is not None:
            f = m.fewer_at_bottleneck
            rows.append(("one table fewer at the bottleneck",
                         f"P {f.probability:.0%}, p95 {f.figure('wait_p95_min'):.1f} min → misses"))
    rows += [("executor", report.executor), ("wall seconds", f"{seconds:.1f}"), ("written to", str(out))]
    console.print(summary_table(f"What-if staffing: {report.area} (seed {report.seed})", rows))
    if m is not None and not m.found:
        console.print(f"[bold red]no staffing in the range meets the target[/]: {m.reason}")


def register(app: typer.Typer) -> None:
    """Add `sampler whatif` to ``app``."""
    app.command("whatif")(whatif_command)
