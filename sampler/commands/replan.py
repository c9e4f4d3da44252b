"""`sampler replan SCENARIO --plan PLANDIR --checkins FILE --at TIME -o NEWPLAN`: re-plan the rest of the day."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from sampler.commands.ui import console, fail_on_input_error, input_path_issues, summary_table

if TYPE_CHECKING:
    from sampler.errors import InputIssue

__all__ = ["parse_close", "parse_tables", "register", "replan_command", "replan_rows"]


def parse_close(text: str) -> list[str]:
    """Site ids of ``--close S1,S2`` (commas or Chinese commas; blanks dropped)."""
    return [x.strip() for x in text.replace("，", ",").split(",") if x.strip()]


def parse_tables(text: str, issues: list[InputIssue]) -> dict[str, int]:
    """``--tables S1=4,S3=2`` as site id → tables; each bad item appended to ``issues``."""
    from sampler.errors import COMMAND_LINE, InputIssue

    out: dict[str, int] = {}
    for item in parse_close(text):
        sid, sep, count = item.partition("=")
        sid, count = sid.strip(), count.strip()
        if not sep or not sid or not count.isdigit():
            issues.append(InputIssue(COMMAND_LINE, None, "--tables", item,
                                     "write SITE=TABLES items separated by commas, e.g. S1=4,S3=2"))
        elif sid in out:
            issues.append(InputIssue(COMMAND_LINE, None, "--tables", item, f"site {sid} is given twice; give it once"))
        else:
            out[sid] = int(count)
    return out


def made_room_text(block: dict[str, Any]) -> str:
    """``made_room`` of a re-plan or round block as one cell: kept bookings moved / households placed."""
    room = block.get("made_room") or {}
    if not room.get("second_pass"):
        return "-"
    return f"{room['moved']:,} / {room['placed']:,} (of {room['released']:,} released)"


def replan_rows(s: dict[str, Any], seconds: float, out: Path) -> list[tuple[str, object]]:
    """The summary table of a re-plan's plan.json (``replan`` block)."""
    r = s["replan"]
    part = r["replanned"]
    gap = "-" if part["gap"] is None else f"{100 * part['gap']:.3f} %"
    bound = "-" if part["lower_bound"] is None else f"{part['lower_bound']:,.1f}"
    return [
        ("at / cutoff (at + lead)", f"{r['at']} / {r['cutoff']}"),
        ("closed sites", ", ".join(r["closed_sites"]) or "-"),
        ("tables changed", ", ".join(f"{k}={v}" for k, v in r["tables"].items()) or "-"),
        ("new sites", ", ".join(r["new_sites"]) or "-"),
        ("sampled (untouched)", f"{r['sampled']:,}"),
        ("kept their slot", f"{r['kept']:,}"),
        ("moved (new site or slot)", f"{r['moved']:,}"),
        ("home visits newly planned", f"{r['home']:,}"),
        ("unplaced", f"{r['unplaced']:,}"),
        ("closed by follow-ups (no new slot)", f"{r.get('closed', 0):,}"),
        ("made room: kept moved / placed", made_room_text(r)),
        ("re-planned households", f"{part['households']:,}"),
        ("re-plan objective / bound", f"{part['objective']:,.1f} / {bound}"),
        ("re-plan gap", gap),
        ("capacity violations", s["violations"]),
        ("wall seconds", f"{seconds:.2f}"),
        ("written to", str(out)),
    ]


def replan_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
    plan: Annotated[Path, typer.Option("--plan", help="Plan directory of the day (written by `sampler plan` or `sampler replan`).")],
    checkins: Annotated[Path, typer.Option("--checkins", help="Check-ins so far: the sampling system's export "
                                           "(CSV/XLSX, as `sampler checkins import` reads it).")],
    at: Annotated[str, typer.Option("--at", help="Time of the re-plan (2022-11-23 12:00, 12:00 or RFC 3339; "
                                     "without offset: the window's zone). Later check-ins are left out.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Plan directory to write the new plan to.")],
    close: Annotated[str, typer.Option("--close", help="Sites that close from the cutoff: S1,S2.")] = "",
    tables: Annotated[str, typer.Option("--tables", help="Tables per site from the cutoff: S1=4,S3=2.")] = "",
    sites: Annotated[Path | None, typer.Option("--sites", help="Sites that open (a sites file, the registry's columns).")] = None,
    lead: Annotated[float, typer.Option("--lead", help="Minutes of notice: nobody moved gets a slot before at + lead.")] = 30.0,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="Also write plan.xlsx.")] = True,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Re-plan the rest of the day: sampled households stay, bookings still feasible are kept, the
    rest (slot passed, site closed, fewer tables) get a slot from at + lead in the capacity left.

    NEWPLAN is a plan directory like any other; its assignments.csv says per household what changed
    (`change`), and `sampler sms` / `sampler notices` on it write only the news.
    """
    from sampler.day.files import read_checkins
    from sampler.day.ledger import CHINA
    from sampler.errors import COMMAND_LINE, InputError, InputIssue
    from sampler.io.atomic import check_output_directory, scenario_inputs
    from sampler.io.timefmt import window_minute
    from sampler.params import load_scenario
    from sampler.plan.replan import replan, sampled_from_checkins
    from sampler.planfiles.read import read_plan
    from sampler.planfiles.write import write_plan
    from sampler.registry.read import load_registry, read_sites

    started = time.perf_counter()
    with fail_on_input_error():
        sc = load_scenario(scenario)
        problems: list[InputIssue] = []
        closed = parse_close(close)
        table_counts = parse_tables(tables, problems)
        if lead < 0:
            problems.append(InputIssue(COMMAND_LINE, None, "--lead", f"{lead:g}", "give the notice lead in minutes, ≥ 0"))
        problems += input_path_issues(plan, checkins)
        if sites is not None and not sites.is_file():
            problems.append(InputIssue(str(sites), None, "--sites", str(sites), "point at a sites file (CSV or XLSX)"))
        if problems:
            raise InputError(problems)
        inputs = [*scenario_inputs(sc), plan, checkins, *([sites] if sites else [])]
        check_output_directory(out, "plan", force=force, inputs=inputs)
        with Progress(TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("reading", total=1.0)
            registry = load_registry(sc)
            files = read_plan(plan)
            start = sc.window.start_time
            start = start if start.tzinfo else start.replace(tzinfo=CHINA)
            minute = window_minute(at, start, sc.window.hours * 60.0, COMMAND_LINE, "--at")
            rows = read_checkins(checkins, tz=start.tzinfo or CHINA)
            sampled, _later = sampled_from_checkins(files, registry, rows, minute, str(checkins))
            extra = read_sites(sites, sc, registry.buildings) if sites else ()
            bar.update(task, description="re-planning", completed=0.1)

            def step(stage: str, done: float) -> None:
                bar.update(task, description=stage, completed=0.1 + 0.7 * done)

            new = replan(sc, registry, files, sampled, minute, lead_minutes=lead, close=closed,
                         tables=table_counts, extra_sites=extra, progress=step)
            bar.update(task, description="writing", completed=0.85)
            write_plan(new, out, xlsx=xlsx, force=force, inputs=inputs)
            bar.update(task, completed=1.0)
    s = new.summary
    console.print(summary_table(f"Re-plan: {s['area']}", replan_rows(s, time.perf_counter() - started, out)))
    if s["unplaced_households"]:
        console.print(f"[bold red]{s['unplaced_households']:,} households could not be placed[/] — see "
                      f"{out / 'unplaced.csv'} (reasons per household)")
    console.print(f"next: `sampler sms {out} -o sms.csv` and `sampler notices {out} -o notices/` write only the news")


def register(app: typer.Typer) -> None:
    """Add the `replan` command."""
    app.command("replan")(replan_command)
