"""The sampling day on one laptop: `sampler checkins import`, `sampler status`, `sampler missed`.

They work on the service's database (``SAMPLER_DATABASE_URL``, SQLite by default), so a street
office without a server can import the sampling system's exports, see coverage and print the
missed-household lists; a running service sees the same rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from api.day import DayState

__all__ = ["register"]

checkins_app = typer.Typer(help="Check-ins of the sampling day (households sampled).", no_args_is_help=True)


def _open(plan: int, details: bool = False) -> tuple[Engine, DayState]:
    from sqlalchemy import select

    from api.day import DayCache
    from api.db import make_engine, run_migrations
    from api.models import Plan
    from api.settings import Settings
    from sampler.day.codes import code_secret

    engine = make_engine(Settings().database_url)
    run_migrations(engine)
    with engine.connect() as conn:
        if conn.execute(select(Plan.id).where(Plan.id == plan)).first() is None:
            console.print(f"[red]no plan {plan}[/] in {Settings().database_url}: list plans with GET /api/v1/plans")
            raise typer.Exit(2)
    return engine, DayCache(code_secret()).state(engine, plan, details)


def _when(text: str | None, tz: dt.tzinfo | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        console.print(f"[red]--at {text!r}[/]: write e.g. 2022-11-23T12:00 or 2022-11-23T12:00+08:00")
        raise typer.Exit(2) from None
    return at if at.tzinfo else at.replace(tzinfo=tz)


@checkins_app.command("import")
def checkins_import_command(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX export of the sampling system.")],
    plan: Annotated[int, typer.Option("--plan", help="Plan id in the database.")],
) -> None:
    """Import check-ins into the database (a re-import of the same file counts nothing twice)."""
    from api.day import store_checkins
    from sampler.day.files import read_checkins

    engine, state = _open(plan)
    with fail_on_input_error():
        rows = read_checkins(file, tz=state.day.start.tzinfo or dt.UTC)
    answer = store_checkins(engine, state, rows, None)
    console.print(summary_table(f"check-ins from {file}", [
        ("rows", len(rows)), ("accepted", answer["accepted"]), ("already stored", answer["duplicates"]),
        ("rejected", len(answer["rejected"]))]))
    for r in answer["rejected"][:50]:
        console.print(f"  data row {rows[r['index']]['row']}: {r['reason']}")
    if len(answer["rejected"]) > 50:
        console.print(f"  … and {len(answer['rejected']) - 50} more")


def status_command(
    plan: Annotated[int, typer.Option("--plan", help="Plan id in the database.")],
    by: Annotated[str, typer.Option(help="area, site, grid, compound or building.")] = "area",
    at: Annotated[str | None, typer.Option(help="Time (default now; without offset: the window's zone).")] = None,
) -> None:
    """Coverage so far: planned, due, sampled and behind, per group."""
    from rich.table import Table

    from sampler.day.ledger import BY_KEYS, coverage

    if by not in BY_KEYS:
        console.print(f"[red]--by {by!r}[/]: use one of {', '.join(BY_KEYS)}")
        raise typer.Exit(2)
    _engine, state = _open(plan)
    when = _when(at, state.day.start.tzinfo)
    rows = coverage(state.day, state.ledger, by, when)
    table = Table(title=f"{state.day.area}：截至 {when.astimezone(state.day.start.tzinfo):%m-%d %H:%M} 采样进度（按{by}）")
    for col in ("名称", "应采户", "应采人", "已到时人", "已采户", "已采人", "覆盖率", "滞后人"):
        table.add_column(col, justify="left" if col == "名称" else "right")
    for r in rows:
        table.add_row(r["name"], f"{r['planned_households']:,}", f"{r['planned_people']:,}", f"{r['due_people']:,}",
                      f"{r['sampled_households']:,}", f"{r['sampled_people']:,}", f"{r['coverage']:.1%}",
                      f"{r['behind_people']:,}")
    console.print(table)


def missed_command(
    plan: Annotated[int, typer.Option("--plan", help="Plan id in the database.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Workbook to write (one A4 sheet per grid).")],
    at: Annotated[str | None, typer.Option(help="Time (default now; without offset: the window's zone).")] = None,
    grace: Annotated[float, typer.Option(help="Minutes after a slot's end before a household counts as missed.")] = 30.0,
    grid: Annotated[list[str] | None, typer.Option(help="Only this grid (repeat).")] = None,
) -> None:
    """Write the missed-household list (查漏补缺) with contacts and phones for the grid workers."""
    import os

    from api.day import missed_workbook
    from sampler.day.ledger import missed

    if out.exists() and not out.is_file():
        console.print(f"[red]{out}[/] is not a file: give a path such as missed.xlsx")
        raise typer.Exit(2)
    _engine, state = _open(plan, details=True)
    when = _when(at, state.day.start.tzinfo)
    idx = missed(state.day, state.ledger, when, grace, grid)
    content = missed_workbook(state, idx, when)
    tmp = out.with_name(f".{out.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.replace(tmp, out)
    people = int(state.day.size[idx].sum()) if len(idx) else 0
    console.print(f"{len(idx):,} households ({people:,} people) missed as of "
                  f"{when.astimezone(state.day.start.tzinfo):%m-%d %H:%M}; written to {out}")


def register(app: typer.Typer) -> None:
    """Add the sampling-day commands to ``app``."""
    app.add_typer(checkins_app, name="checkins")
    app.command("status")(status_command)
    app.command("missed")(missed_command)
