"""`sampler generate --households N [--sites S] --seed K -o DIR`: write a synthetic area."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, summary_table

__all__ = ["register"]


def generate_command(
    households: Annotated[int, typer.Option("--households", "-n", min=1, help="Number of households (户).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the registry and scenario to.")],
    sites: Annotated[
        int | None, typer.Option("--sites", "-s", min=1, help="Public sampling sites (default: one per 2,500 people).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives byte-identical files.")] = 0,
    area: Annotated[str, typer.Option("--area", help="Area name written to the scenario.")] = "合成市",
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier output of another sampler command there (never files sampler did not write).")] = False,
) -> None:
    """Generate a synthetic city: households.csv, buildings.csv, sites.csv and scenario.yaml."""
    from sampler.io.atomic import check_output_directory
    from sampler.registry.generate import daytime_capacity, generate_city, write_city

    clock = time.perf_counter()
    with fail_on_input_error():
        check_output_directory(out, "generate", force=force)
        with console.status(f"generating {households:,} households…"):
            city = generate_city(households, sites=sites, seed=seed, area=area)
        gen_s = time.perf_counter() - clock
        with console.status(f"writing {out}…"):
            write_city(city, out, force=force)
    total_s = time.perf_counter() - clock
    rows = [
        *city.summary(),
        ("daytime capacity / people", f"{daytime_capacity(city) / max(city.people, 1):.2f}"),
        ("seconds (generate / total)", f"{gen_s:.1f} / {total_s:.1f}"),
        ("written to", str(out)),
    ]
    console.print(summary_table(f"{city.options.area}: synthetic area", rows))


def register(app: typer.Typer) -> None:
    """Add the `generate` command."""
    app.command("generate")(generate_command)
