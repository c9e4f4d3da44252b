"""Sub-commands of the `sampler` CLI that belong to the planning package."""

from __future__ import annotations

import importlib

import typer

__all__ = ["register_all"]

_MODULES = ("generate", "validate", "plan", "sms", "notices", "roster")


def register_all(app: typer.Typer) -> None:
    """Import each command module that exists and let it add its command to ``app``."""
    for name in _MODULES:
        try:
            module = importlib.import_module(f"sampler.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sampler.commands.{name}":
                raise
            continue
        module.register(app)


# Loading the app last lets `import sampler.commands.x` work on its own: the app module registers
# every command (x included) when it finishes loading.
import sampler.cli  # noqa: E402, F401
