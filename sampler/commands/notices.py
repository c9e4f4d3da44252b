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
    scenario: Annotated[Path | None, typer.Option(
        help="Scenario file whose `notices` section signs the notices (issuer, date, hotline, grid workers).")] = None,
    templates: Annotated[Path | None, typer.Option(
        help="Folder of edited copies of the notice templates (sampler/notify/templates); the rest stay the defaults.")] = None,
    resident_url: Annotated[str, typer.Option(
        "--resident-url", help="The resident page's address (e.g. https://host/r): every notice gets a QR code to it.")] = "",
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Write <building>.html for every building, grid-NN.html (a grid's notices to print at once),
    index.html (by grid and compound) and notices.xlsx into DIR."""
    from sampler.io.atomic import check_output_directory
    from sampler.notify.notices import NoticesParams, check_grid_workers, write_notices
    from sampler.params import load_scenario
    from sampler.planfiles.read import news_only, read_plan

    inputs = [plandir, *([scenario] if scenario else []), *([templates] if templates else [])]
    with fail_on_input_error():
        check_output_directory(out, "notices", force=force, inputs=inputs)
        params = load_scenario(scenario).section("notices", NoticesParams) if scenario else NoticesParams()
        plan = news_only(read_plan(plandir), whole_buildings=True)  # a re-plan: only the affected buildings
        check_grid_workers(plan, params, str(scenario))
        if resident_url and not resident_url.startswith(("http://", "https://")):
            from sampler.errors import COMMAND_LINE, InputError, InputIssue

            raise InputError([InputIssue(COMMAND_LINE, None, "--resident-url", resident_url,
                                         "give the page's full address, e.g. https://hs.example.gov.cn/r")])
        result = write_notices(plan, out, force=force, inputs=inputs, resident_url=resident_url,
                               params=params, templates=templates)
    console.print(summary_table("楼栋采样通知", [
        ("楼栋", f"{result.buildings:,}"), ("网格（每网格一份打印页）", f"{result.grids:,}"),
        ("无公开通知的楼栋（网格员另行通知）", f"{result.without_notice:,}"),
        ("目录", str(out / "index.html")), ("汇总表", str(result.workbook)), ("输出目录", str(out)),
    ]))


def register(app: typer.Typer) -> None:
    """Add the `notices` command."""
    app.command("notices")(notices_command)
