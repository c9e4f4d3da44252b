"""`sampler validate SCENARIO`: check the scenario and registry without planning; writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sampler.commands.ui import console, fail_on_input_error, print_warnings, summary_table

__all__ = ["register"]


def validate_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML or TOML).")],
) -> None:
    """Check the scenario file (every section) and every registry row; list every problem at once (exit 2)."""
    import numpy as np

    from sampler.model import RiskZone, needs_mask
    from sampler.params import load_scenario
    from sampler.registry.read import load_registry

    with fail_on_input_error():
        sc = load_scenario(scenario)
        with console.status("reading and checking the registry…"):
            reg = load_registry(sc)
    print_warnings(reg.warnings)
    hh, b = reg.households, reg.buildings
    zone = b.zone[hh.building]
    home_needs = needs_mask(list(sc.home_visits.needs))
    rows: list[tuple[str, object]] = [
        ("households", len(hh)),
        ("people", reg.people),
        ("buildings", len(b)),
        ("compounds", len(set(b.compound.tolist()))),
        ("sites / tables", f"{len(reg.sites):,} / {sum(s.tables for s in reg.sites):,}"),
        *[(f"households in {z.label} ({z.key})", int((zone == z).sum())) for z in RiskZone],
        ("households with home-visit needs", int(((hh.needs & home_needs) != 0).sum())),
        ("phones missing", int((hh.phone == "").sum())),
        ("warnings (the run goes on)", len(reg.warnings)),
        ("mean household size", f"{float(np.mean(hh.size)) if len(hh) else 0:.2f}"),
        ("window", f"{sc.window.start} + {sc.window.hours:g} h in {sc.window.n_slots} slots"),
        ("component sections checked", ", ".join(sc.sections) or "none"),
    ]
    console.print(summary_table(f"{sc.area}: input is valid", rows))


def register(app: typer.Typer) -> None:
    """Add the `validate` command."""
    app.command("validate")(validate_command)
