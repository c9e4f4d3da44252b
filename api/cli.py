"""Entry point of the `sampler` console script: composes the commands of all three layers."""

from __future__ import annotations

import sim.cli  # noqa: F401  (registers the simulation commands)
from sampler.cli import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the `sampler` command line."""
    app()
