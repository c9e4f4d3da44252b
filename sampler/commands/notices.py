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
    resident_url: Annotated[str, typer.Option(
        "--resident-url", help="The resident page's address (e.g. https://host/r): every notice gets a QR code to it.")] = "",
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Write <building>.html for every building, index.html and notices.xlsx into DIR."""
    from sampler.io.atomic import check_output_directory
    from sampler.notify.notices import write_notices
    from sampler.planfiles.read import read_plan

    with fail_on_input_error():
        check_output_directory(out, "notices", force=force, inputs=[plandir])
        plan = read_plan(plandir)
        if resident_url and not resident_url.startswith(("http://", "https://")):
            from sampler.errors import COMMAND_LINE, InputError, InputIssue

            raise InputError([InputIssue(COMMAND_LINE, None, "--resident-url", resident_url,
                                         "give the page's full address, e.g. https://hs.example.gov.cn/r")])
        result = write_notices(plan, out, force=force, inputs=[plandir], resident_url=resident_url)
    console.print(summary_table("Building notices", [
        ("buildings", result.buildings), ("workbook", str(result.workbook)), ("written to", str(out)),
    ]))


def register(app: typer.Typer) -> None:
    """Add the `notices` command."""
    app.command("notices")(notices_command)
