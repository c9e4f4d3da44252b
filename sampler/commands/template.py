"""`sampler template -o DIR`: Excel templates of the registry files with Chinese headers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]


def template_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the templates to.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Write Excel templates (persons, households, compounds, sites) with Chinese headers, an example row and drop-downs."""
    from sampler.registry.templates import TEMPLATES, write_templates

    with fail_on_input_error():
        names = write_templates(out, force=force)
    rows: list[tuple[str, object]] = [(name, TEMPLATES[name][0]) for name in names]
    rows.append(("written to", str(out)))
    console.print(summary_table("registry templates", rows))


def register(app: typer.Typer) -> None:
    """Add the `template` command."""
    app.command("template")(template_command)
