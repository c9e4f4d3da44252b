"""`sampler notices PLANDIR -o DIR`: a printable notice per building, and one workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]


def notices_command(
    plandir: Annotated[Path, typer.Argument(help="Plan directory written by `sampler plan`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the notices.")],
) -> None:
    """Write <building>.html for every building, index.html and notices.xlsx into DIR."""
    from sampler.notify.notices import write_notices
    from sampler.planfiles.read import read_plan

    with fail_on_input_error():
        plan = read_plan(plandir)
    result = write_notices(plan, out)
    console.print(summary_table("Building notices", [
        ("buildings", result.buildings), ("workbook", str(result.workbook)), ("written to", str(out)),
    ]))


def register(app: typer.Typer) -> None:
    """Add the `notices` command."""
    app.command("notices")(notices_command)
