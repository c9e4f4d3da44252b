"""Simulation commands for the `sampler` CLI (added to the app defined in sampler.cli)."""

from __future__ import annotations

from sampler.cli import app

__all__ = ["app"]
