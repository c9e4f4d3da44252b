"""The planning commands of the `sampler` CLI: generate, template, validate, plan, replan, sms, notices, roster.

Each command module has ``register(app)``; `register` below calls them in the order users meet the
commands. The console script (`api.cli:main`) builds the one app from this package's commands, the
simulator's (`sim.commands`) and the service's own.
"""

from __future__ import annotations

import typer

from sampler.commands import generate, notices, plan, replan, roster, sms, template, validate

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add every planning command to ``app``."""
    for module in (generate, template, validate, plan, replan, sms, notices, roster):
        module.register(app)
