"""What every command prints (the console, the input-issue table, the closing summary table) and
the checks of options several commands share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sampler.errors import COMMAND_LINE, InputError, InputIssue

__all__ = ["console", "err_console", "fail_on_input_error", "input_path_issues", "print_warnings",
           "seed_and_workers_issues", "summary_table"]

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

def seed_and_workers_issues(seed: int, workers: int | None) -> list[InputIssue]:
    """What is wrong with the --seed and --workers options of a command that replicates."""
    problems = []
    if seed < 0:
        problems.append(InputIssue(COMMAND_LINE, None, "--seed", str(seed), "use a seed ≥ 0"))
    if workers is not None and workers < 1:
        problems.append(InputIssue(COMMAND_LINE, None, "--workers", str(workers), "use at least one worker"))
    return problems


def input_path_issues(plan: Path, checkins: Path | None = None) -> list[InputIssue]:
    """What is wrong with the --plan (a plan directory) and --checkins (an export file) options."""
    problems = []
    if not plan.is_dir():
        problems.append(InputIssue(str(plan), None, "--plan", str(plan), "point at a plan directory written by `sampler plan`"))
    if checkins is not None and not checkins.is_file():
        problems.append(InputIssue(str(checkins), None, "--checkins", str(checkins),
                                   "point at the check-in export (CSV or XLSX)"))
    return problems


@contextmanager
def fail_on_input_error() -> Iterator[None]:
    """Print every input issue as a table and exit with status 2 (nothing has been written)."""
    try:
        yield
    except InputError as exc:
        err_console.print(_issue_table(f"{len(exc.issues)} input issue(s); nothing was written", exc.issues))
        if len(exc.issues) > 200:
            err_console.print(f"... and {len(exc.issues) - 200} more")
        raise typer.Exit(code=2) from None


def _issue_table(title: str, issues: list[InputIssue], limit: int = 200) -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("file", "row", "field", "value", "what to do"):
        table.add_column(col, overflow="fold")
    for issue in issues[:limit]:
        # Text, not markup: a fix such as "tuple[float, float]" or a value "[bold]" is shown as is.
        cells = (issue.file, "" if issue.row is None else str(issue.row), issue.field, issue.value, issue.fix)
        table.add_row(*(Text(cell) for cell in cells))
    return table


def print_warnings(warnings: tuple[InputIssue, ...] | list[InputIssue], limit: int = 50) -> None:
    """Print a registry's warnings (problems that do not stop the run) as a table on stderr."""
    if not warnings:
        return
    err_console.print(_issue_table(f"{len(warnings)} warning(s); the run goes on", list(warnings), limit))
    if len(warnings) > limit:
        err_console.print(f"... and {len(warnings) - limit} more warnings")


def summary_table(title: str, rows: list[tuple[str, object]]) -> Table:
    """A two-column key/value table for the end of a command."""
    table = Table(title=title, show_header=False)
    table.add_column("item", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    return table
