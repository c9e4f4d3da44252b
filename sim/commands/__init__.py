"""The simulation commands of the `sampler` CLI: simulate, whatif and forecast."""

from __future__ import annotations

import typer

from sim.commands import forecast, simulate, whatif

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add every simulation command to ``app``."""
    for module in (simulate, whatif, forecast):
        module.register(app)
